"""``MemberRecords`` in the service's own table (SQLite or PostgreSQL), off the event loop."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from services.loadbalancer.adapters.tables import members
from services.loadbalancer.records import Desired, MemberRecord
from shared.db import session_scope
from shared.errors import ServiceUnavailable

__all__ = ["SqlRecords"]


def _record(row: Any) -> MemberRecord:
    since = row.since if row.since.tzinfo else row.since.replace(tzinfo=UTC)
    return MemberRecord(
        pool=row.pool,
        name=row.name,
        address=row.address,
        port=row.port,
        desired=Desired(row.desired),
        since=since,
        timeout_s=row.timeout_s,
        activity_id=row.activity_id,
        correlation_id=row.correlation_id,
        causation_id=row.causation_id,
    )


def _values(record: MemberRecord) -> dict[str, Any]:
    return {
        "pool": record.pool,
        "name": record.name,
        "address": record.address,
        "port": record.port,
        "desired": record.desired.value,
        "since": record.since,
        "timeout_s": record.timeout_s,
        "activity_id": record.activity_id,
        "correlation_id": record.correlation_id,
        "causation_id": record.causation_id,
    }


class SqlRecords:
    """Member records in ``loadbalancer_members``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def _run(self, work: Any) -> Any:
        try:
            return await asyncio.to_thread(work)
        except SQLAlchemyError as exc:
            raise ServiceUnavailable(f"database error: {type(exc).__name__}") from exc

    async def get(self, pool: str, name: str) -> MemberRecord | None:
        """The record, or None."""

        def work() -> MemberRecord | None:
            with session_scope(self.engine) as session:
                row = session.execute(select(members).where(members.c.pool == pool, members.c.name == name)).first()
                return _record(row) if row else None

        result: MemberRecord | None = await self._run(work)
        return result

    async def put(self, record: MemberRecord) -> None:
        """Replace the record (delete + insert in one transaction)."""

        def work() -> None:
            with session_scope(self.engine) as session:
                session.execute(delete(members).where(members.c.pool == record.pool, members.c.name == record.name))
                session.execute(members.insert().values(**_values(record)))

        await self._run(work)

    async def advance(self, expected: MemberRecord, record: MemberRecord) -> bool:
        """One conditional UPDATE: the row changes only while it holds ``expected``'s desired
        state and causation id (the database serialises it against a concurrent put or delete)."""
        same_cause = (
            members.c.causation_id.is_(None)
            if expected.causation_id is None
            else members.c.causation_id == expected.causation_id
        )
        where = (
            (members.c.pool == expected.pool)
            & (members.c.name == expected.name)
            & (members.c.desired == expected.desired.value)
            & same_cause
        )

        def work() -> bool:
            with self.engine.begin() as connection:
                return connection.execute(update(members).where(where).values(**_values(record))).rowcount == 1

        changed: bool = await self._run(work)
        return changed

    async def delete(self, pool: str, name: str) -> None:
        """Forget the member."""

        def work() -> None:
            with session_scope(self.engine) as session:
                session.execute(delete(members).where(members.c.pool == pool, members.c.name == name))

        await self._run(work)

    async def all(self) -> list[MemberRecord]:
        """Every record, by pool then name."""

        def work() -> list[MemberRecord]:
            with session_scope(self.engine) as session:
                rows = session.execute(select(members).order_by(members.c.pool, members.c.name)).all()
                return [_record(row) for row in rows]

        result: list[MemberRecord] = await self._run(work)
        return result
