"""Outbox and inbox of the scaler's SQL unit of work (see ``sql.py``)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import RowMapping, select, update
from sqlmodel import Session

from services.scaler.adapters import tables as t
from services.scaler.adapters.sql_write import insert_new
from services.scaler.ports import OutboxEntry
from shared.clock import Clock
from shared.messages import Message
from shared.subjects import Subject
from shared.telemetry import current_trace_context

__all__ = ["SqlInbox", "SqlOutbox"]

_SEQ = itertools.count()


class SqlOutbox:
    """The ``Outbox`` port: entries buffered and inserted together (one statement)."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self._s = session
        self._clock = clock
        self._added: dict[str, dict[str, Any]] = {}
        self._recorded: list[OutboxEntry] = []

    def add(self, subject: Subject[Any], message: Message) -> str:
        if not isinstance(message, subject.model):
            raise TypeError(f"{subject.name} carries {subject.model.__name__}")
        entry_id = str(message.message_id)
        self._added.setdefault(
            entry_id,
            {
                "id": entry_id,
                "seq": time.time_ns() // 1000 * 1000 + next(_SEQ) % 1000,
                "subject": subject.name,
                "payload": message.model_dump_json(),
                "created_at": self._clock.now(),
                "trace_context": current_trace_context() or None,
            },
        )
        return entry_id

    def flush(self) -> None:
        if self._added:
            rows = list(self._added.values())
            self._added.clear()
            inserted = insert_new(self._s, t.outbox, "id", rows)
            self._recorded.extend(_entry(r) for r in rows if r["id"] in inserted)

    def recorded(self) -> list[OutboxEntry]:
        self.flush()
        return list(self._recorded)

    def pending(self, limit: int = 100) -> list[OutboxEntry]:
        self.flush()
        query = select(t.outbox).where(t.outbox.c.published_at.is_(None)).order_by(t.outbox.c.seq).limit(limit)
        return [_entry(r) for r in self._s.execute(query).mappings()]

    def mark_published(self, ids: list[str], at: datetime) -> None:
        self.flush()
        if ids:
            self._s.execute(update(t.outbox).where(t.outbox.c.id.in_(ids)).values(published_at=at))


def _entry(row: Mapping[str, Any] | RowMapping) -> OutboxEntry:
    return OutboxEntry(
        id=row["id"],
        subject=row["subject"],
        payload=row["payload"],
        created_at=row["created_at"],
        published_at=row.get("published_at"),
        trace_context=row.get("trace_context") or "",
    )


class SqlInbox:
    """The ``Inbox`` port: one ``INSERT ... ON CONFLICT DO NOTHING`` per claim."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def claim(self, message_id: str, subject: str) -> bool:
        row = {"message_id": message_id, "subject": subject, "handled_at": datetime.now(UTC)}
        return bool(insert_new(self._s, t.inbox, "message_id", [row]))
