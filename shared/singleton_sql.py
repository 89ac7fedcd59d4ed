"""``Leases`` (``shared/singleton.py``) in a service's database, SQLite or PostgreSQL.

Each service keeps its leases in a table of its own (``leases_table(metadata, "<service>_leases")``
in its ``adapters/tables.py``, created by one of its migrations). Each call is one short
transaction of conditional statements, atomic on both databases: an insert for a first acquire,
else one ``UPDATE ... WHERE owner = me OR expires_at <= now`` (PostgreSQL re-checks the condition
on the row it locked; SQLite runs one writer at a time). A release leaves the row, expired and
ownerless, so the next token is still higher.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import BigInteger, Column, MetaData, String, Table, and_, case, insert, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from shared.clock import Clock, SystemClock
from shared.db import UtcDateTime
from shared.errors import ServiceUnavailable

__all__ = ["SqlLeases", "leases_table"]


def leases_table(metadata: MetaData, name: str) -> Table:
    """The lease table ``name``: the lease's name, its owner, until when, its fencing token."""
    return Table(
        name,
        metadata,
        Column("name", String(300), primary_key=True),
        Column("owner", String(200), nullable=False),
        Column("expires_at", UtcDateTime(), nullable=False),
        Column("token", BigInteger, nullable=False),
    )


class SqlLeases:
    """``Leases`` in ``table`` (made by ``leases_table``, or any table with ``owner``, ``expires_at``,
    ``token`` and a primary key column named ``key``)."""

    def __init__(self, engine: Engine, table: Table, clock: Clock | None = None, key: str = "name") -> None:
        self._engine = engine
        self._table = table
        self._key = table.c[key]
        self._clock = clock or SystemClock()

    def acquire(self, name: str, owner: str, ttl_s: float) -> int | None:
        """See ``Leases.acquire``."""
        t = self._table
        now = self._clock.now()
        until = now + timedelta(seconds=ttl_s)
        try:
            try:
                with self._engine.begin() as connection:
                    connection.execute(
                        insert(t).values({self._key.name: name, "owner": owner, "expires_at": until, "token": 1})
                    )
                return 1
            except IntegrityError:
                pass  # held before: renew it, or take it over once expired
            with self._engine.begin() as connection:
                row = connection.execute(
                    update(t)
                    .where(self._key == name, or_(t.c.owner == owner, t.c.expires_at <= now))
                    .values(
                        owner=owner,
                        expires_at=until,
                        token=case((t.c.owner == owner, t.c.token), else_=t.c.token + 1),
                    )
                    .returning(t.c.token)
                ).first()
        except OperationalError as exc:
            raise ServiceUnavailable("database unavailable") from exc
        return None if row is None else int(row[0])

    def holds(self, name: str, owner: str, token: int) -> bool:
        """See ``Leases.holds``."""
        t = self._table
        query = select(self._key).where(
            and_(self._key == name, t.c.owner == owner, t.c.token == token, t.c.expires_at > self._clock.now())
        )
        try:
            with self._engine.connect() as connection:
                return connection.execute(query).first() is not None
        except OperationalError as exc:
            raise ServiceUnavailable("database unavailable") from exc

    def release(self, name: str, owner: str) -> None:
        """See ``Leases.release``."""
        t = self._table
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    update(t)
                    .where(self._key == name, t.c.owner == owner)
                    .values(owner="", expires_at=self._clock.now() - timedelta(seconds=1))
                )
        except OperationalError as exc:
            raise ServiceUnavailable("database unavailable") from exc
