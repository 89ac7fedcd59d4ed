"""``OperationStore`` on the service's database (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from services.inventory.adapters.tables import operations, templates
from services.inventory.ports import Operation, TemplateMeta
from shared.db import session_scope
from shared.errors import ServiceUnavailable

__all__ = ["SqlOperationStore"]


def _aware(row: Any) -> dict[str, Any]:
    """SQLite hands timestamps back without their zone; they were stored as UTC."""
    out = dict(row)
    for key, value in out.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            out[key] = value.replace(tzinfo=UTC)
    return out


class SqlOperationStore:
    """Operations and template metadata in ``inventory_operations`` / ``inventory_templates``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, key: str) -> Operation | None:
        """The operation with ``key``, if any."""
        try:
            with self._engine.connect() as connection:
                row = connection.execute(select(operations).where(operations.c.key == key)).mappings().first()
        except OperationalError as exc:
            raise ServiceUnavailable("database unavailable") from exc
        return Operation.model_validate(_aware(row)) if row else None

    def save(self, operation: Operation) -> None:
        """Insert or replace ``operation``."""
        values = operation.model_dump()
        with session_scope(self._engine) as session:
            session.execute(delete(operations).where(operations.c.key == operation.key))
            session.execute(operations.insert().values(**values))

    def unfinished(self) -> list[Operation]:
        """Operations not yet done or failed, oldest first."""
        query = (
            select(operations).where(operations.c.status.not_in(["done", "failed"])).order_by(operations.c.created_at)
        )
        try:
            with self._engine.connect() as connection:
                rows = connection.execute(query).mappings().all()
        except OperationalError as exc:
            raise ServiceUnavailable("database unavailable") from exc
        return [Operation.model_validate(_aware(row)) for row in rows]

    def put_template(self, meta: TemplateMeta) -> None:
        """Insert or replace a template's metadata."""
        with session_scope(self._engine) as session:
            session.execute(delete(templates).where(templates.c.name == meta.name))
            session.execute(templates.insert().values(**meta.model_dump()))

    def templates(self) -> dict[str, TemplateMeta]:
        """Every template's metadata by name."""
        try:
            with self._engine.connect() as connection:
                rows = connection.execute(select(templates)).mappings().all()
        except OperationalError as exc:
            raise ServiceUnavailable("database unavailable") from exc
        return {row["name"]: TemplateMeta.model_validate(_aware(row)) for row in rows}

    def delete_template(self, name: str) -> None:
        """Forget a template's metadata."""
        with session_scope(self._engine) as session:
            session.execute(delete(templates).where(templates.c.name == name))
