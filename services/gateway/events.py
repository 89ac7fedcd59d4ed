"""The live feed of events for the UI: every event subject, newest kept in memory, fanned out to
SSE clients.

JetStream publishes are ordinary NATS messages, so a core subscription on each event pattern
sees them without a consumer of its own; every gateway replica sees every event. The ring keeps
the newest ``capacity`` events for ``GET /api/v1/events``; history beyond it is the scaler's
(activities, decisions).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared import subjects
from shared.bus import Bus

__all__ = ["EventFeed", "FeedEvent", "event_status", "scrub", "scrub_text"]

_SECRET_HINTS = ("password", "secret", "token", "credential", "private_key", "authorization")
_SECRET_ASSIGNMENT = re.compile(
    rf"({'|'.join(_SECRET_HINTS)})(\w*)(\s*[=:]\s*)(?:(?:bearer|basic)\s+)?(\"[^\"]*\"|\S+)", re.IGNORECASE
)
LIVE_ONLY = frozenset({subjects.VM_PROGRESS.name})
"""Progress reports: handed to live listeners (progress bars) but not kept, so they never push
real events out of the ring."""


@dataclass(frozen=True)
class FeedEvent:
    """One event as the UI sees it."""

    id: int
    subject: str
    type: str
    at: datetime
    group: str | None
    status: str | None
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "subject": self.subject,
            "type": self.type,
            "at": self.at.isoformat(),
            "group": self.group,
            "status": self.status,
            "data": self.data,
        }


def scrub(value: Any) -> Any:
    """``value`` (parsed JSON) with the value of every key that names a secret replaced by ``***``."""
    if isinstance(value, dict):
        return {k: ("***" if any(h in k.lower() for h in _SECRET_HINTS) else scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def scrub_text(text: str) -> str:
    """``text`` that is not JSON, with the value of every ``password=…`` / ``token: …`` replaced by ``***``."""
    return _SECRET_ASSIGNMENT.sub(r"\1\2\3***", text)


def event_status(name: str, data: dict[str, Any]) -> str | None:
    """The status the UI filters on: allowed/blocked for a decision, else the subject's last word."""
    if "allowed" in data:
        return "allowed" if data["allowed"] else "blocked"
    tail = name.rsplit(".", 1)[-1]
    return {"succeeded": "success", "rolled_back": "failed", "operation_failed": "failed", "failed": "failed"}.get(
        tail, data.get("status") if isinstance(data.get("status"), str) else tail
    )


class EventFeed:
    """Subscribes to the event patterns and keeps the newest events."""

    def __init__(self, bus: Bus, capacity: int = 2000) -> None:
        self._bus = bus
        self._ring: deque[FeedEvent] = deque(maxlen=capacity)
        self._started = datetime.now(UTC)
        self._ids = itertools.count(1)
        self._listeners: set[asyncio.Queue[FeedEvent]] = set()
        self._subs: list[Any] = []

    async def start(self) -> None:
        """Subscribe on the bus's connection."""
        connection = self._bus.broker.config.connection_state.connection
        for pattern in subjects.EVENT_STREAM_SUBJECTS:
            self._subs.append(await connection.subscribe(self._bus.topology.subject(pattern), cb=self._on_message))

    async def stop(self) -> None:
        """Unsubscribe."""
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs.clear()

    async def _on_message(self, msg: Any) -> None:
        try:
            data = json.loads(msg.data)
        except (ValueError, UnicodeDecodeError):
            return
        if not isinstance(data, dict):
            return
        self.add(self._bus.topology.unprefixed(msg.subject), data)

    def add(self, name: str, data: dict[str, Any]) -> FeedEvent:
        """Record one event (a live-only one is not kept) and hand it to every listener."""
        try:
            at = datetime.fromisoformat(str(data.get("occurred_at")))
        except ValueError:
            at = datetime.now(UTC)
        group = data.get("group") or data.get("target") if name.startswith("audit.") else data.get("group")
        event = FeedEvent(
            id=next(self._ids),
            subject=name,
            type=name.split(".", 1)[0],
            at=at,
            group=str(group) if group else None,
            status=event_status(name, data),
            data=scrub({k: v for k, v in data.items() if k not in ("schema_version", "causation_id")}),
        )
        if name not in LIVE_ONLY:
            self._ring.append(event)
        for queue in list(self._listeners):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(event)
        return event

    def recent(
        self,
        *,
        group: str | None = None,
        types: set[str] | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 200,
    ) -> list[FeedEvent]:
        """Newest first, filtered."""
        out = []
        for event in reversed(self._ring):
            if group and event.group != group:
                continue
            if types and event.type not in types:
                continue
            if status and event.status != status:
                continue
            if since and event.at < since:
                continue
            if until and event.at > until:
                continue
            out.append(event)
            if len(out) >= limit:
                break
        return out

    def horizon(self) -> datetime:
        """Since when the ring holds every event: this gateway's start, or the oldest event kept once
        the ring is full. Anything older is only in the scaler's history."""
        if self._ring.maxlen is not None and len(self._ring) >= self._ring.maxlen:
            return max(self._started, self._ring[0].at)
        return self._started

    def listen(self) -> asyncio.Queue[FeedEvent]:
        """A queue that receives every new event until ``forget`` is called."""
        queue: asyncio.Queue[FeedEvent] = asyncio.Queue(maxsize=1000)
        self._listeners.add(queue)
        return queue

    def forget(self, queue: asyncio.Queue[FeedEvent]) -> None:
        """Stop delivering to ``queue``."""
        self._listeners.discard(queue)
