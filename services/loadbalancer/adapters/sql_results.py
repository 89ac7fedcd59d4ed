"""``ResultStore`` in the service's own table (SQLite or PostgreSQL), off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from services.loadbalancer.adapters.tables import results
from services.loadbalancer.outbox import StoredResult
from shared.db import session_scope
from shared.errors import ServiceUnavailable

__all__ = ["SqlResults"]

T = TypeVar("T")


class SqlResults:
    """Unpublished results in ``loadbalancer_results``, ordered by insertion (``seq``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def _run(self, work: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(work)
        except SQLAlchemyError as exc:
            raise ServiceUnavailable(f"database error: {type(exc).__name__}") from exc

    async def add(self, result: StoredResult) -> None:
        """Store it behind the others; a message id already stored is left as it is."""

        def work() -> None:
            with session_scope(self.engine) as session:
                if session.execute(select(results.c.seq).where(results.c.message_id == result.message_id)).first():
                    return
                session.execute(
                    results.insert().values(
                        message_id=result.message_id,
                        subject=result.subject,
                        body=result.body,
                        stored_at=result.stored_at,
                    )
                )

        try:
            await self._run(work)
        except ServiceUnavailable as exc:
            if isinstance(exc.__cause__, IntegrityError):
                return  # stored meanwhile by another writer: the same message id, the same result
            raise

    async def remove(self, message_id: str) -> None:
        """Forget it; absent is fine."""

        def work() -> None:
            with session_scope(self.engine) as session:
                session.execute(delete(results).where(results.c.message_id == message_id))

        await self._run(work)

    async def pending(self) -> list[StoredResult]:
        """Every stored result, oldest first."""

        def work() -> list[StoredResult]:
            with session_scope(self.engine) as session:
                rows = session.execute(select(results).order_by(results.c.seq)).all()
                return [StoredResult(row.message_id, row.subject, row.body, row.stored_at) for row in rows]

        return await self._run(work)
