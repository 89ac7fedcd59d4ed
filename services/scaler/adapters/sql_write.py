"""Statement-saving writes for the scaler's SQL unit of work.

A transaction of the scaler saves the same rows several times (an instance goes pending →
provisioning in one decision; a group's state is updated by the decision, the silence and the
activity end). ``RowBuffer`` keeps the last version of each saved row and writes all of them
with ONE native upsert per table when the transaction flushes (before it commits, or before a
query that must see them). PostgreSQL and SQLite get ``INSERT ... ON CONFLICT``; any other
dialect falls back to update-then-insert per row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, and_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

__all__ = ["RowBuffer", "insert_new", "upsert_rows"]


def _native_insert(session: Session, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return pg_insert(table)
    if dialect == "sqlite":
        return sqlite_insert(table)
    return None


def upsert_rows(session: Session, table: Table, keys: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """Insert or replace ``rows`` (full rows, keyed by ``keys``) in one statement where possible."""
    if not rows:
        return
    statement = _native_insert(session, table)
    if statement is not None:
        statement = statement.values(rows)
        changed = {c: statement.excluded[c] for c in rows[0] if c not in keys}
        session.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=changed))
        return
    for row in rows:
        condition = and_(*(table.c[k] == row[k] for k in keys))
        values = {c: v for c, v in row.items() if c not in keys}
        if session.execute(update(table).where(condition).values(**values)).rowcount == 0:  # type: ignore[attr-defined]
            session.execute(table.insert().values(**row))


def insert_new(session: Session, table: Table, key: str, rows: list[dict[str, Any]]) -> set[Any]:
    """Insert the rows whose ``key`` is not there yet (one statement where possible); returns
    the keys actually inserted."""
    if not rows:
        return set()
    statement = _native_insert(session, table)
    if statement is not None:
        result = session.execute(
            statement.values(rows).on_conflict_do_nothing(index_elements=[key]).returning(table.c[key])
        )
        return set(result.scalars())
    inserted: set[Any] = set()
    for row in rows:
        if session.execute(select(table.c[key]).where(table.c[key] == row[key])).first() is None:
            session.execute(table.insert().values(**row))
            inserted.add(row[key])
    return inserted


class RowBuffer:
    """The rows of one table saved in this transaction, written together by ``flush``."""

    def __init__(self, session: Session, table: Table, keys: tuple[str, ...]) -> None:
        self._session = session
        self._table = table
        self._keys = keys
        self._rows: dict[tuple[Any, ...], dict[str, Any]] = {}

    def __bool__(self) -> bool:
        return bool(self._rows)

    def put(self, row: dict[str, Any]) -> None:
        """Remember ``row`` (a full row); a later put of the same key replaces it."""
        self._rows[tuple(row[k] for k in self._keys)] = row

    def discard(self, *key: Any) -> None:
        """Forget the pending row of ``key`` (it is being deleted)."""
        self._rows.pop(tuple(key), None)

    def flush(self) -> None:
        """Write every pending row (one upsert) and forget them."""
        if self._rows:
            rows = list(self._rows.values())
            self._rows.clear()
            upsert_rows(self._session, self._table, self._keys, rows)
