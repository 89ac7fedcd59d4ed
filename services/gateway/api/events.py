"""Events: the newest, filtered by group, type, status and time (the live ring, and the scaler's
persisted activities and decisions for a range older than the ring); a group's size over time;
and a Server-Sent Events stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from services.gateway.api.params import GroupName, Instant
from services.gateway.deps import State, Viewer
from services.gateway.events import FeedEvent
from services.gateway.history import merge_events, size_series, stored_events, window_of
from services.gateway.state import GatewayState
from shared.errors import InvalidInput
from shared.messages import ActivityView, DecisionView

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["events"])

KEEPALIVE_S = 15.0
HISTORY_LIMIT = 500
"""The most activities (and decisions) one history read asks the scaler for."""
RangeName = Annotated[str | None, Query(alias="range", max_length=8, description="15m, 1h, 6h, 24h or 7d")]


class EventPublic(BaseModel):
    """One event."""

    id: int
    subject: str
    type: str
    at: datetime
    group: str | None
    status: str | None
    data: dict[str, Any]


def _types(value: str | None) -> set[str] | None:
    return {part.strip() for part in value.split(",") if part.strip()} if value else None


@router.get("/events", response_model=list[EventPublic], summary="Recent events, newest first")
async def list_events(
    state: State,
    _: Viewer,
    group: Annotated[str | None, Query(max_length=63)] = None,
    type: Annotated[str | None, Query(max_length=200, description="comma-separated: activity,decision,...")] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    since: Instant = None,
    until: Instant = None,
    window: RangeName = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 200,
) -> list[EventPublic]:
    """Events seen by this gateway: activities, decisions, alerts, pools, VMs, audit.

    ``range`` (a preset ending now) or ``since``/``until`` choose the time range. When it starts
    before what this gateway's ring holds, the scaler's persisted activities (a start and an end
    each) and decisions of the range are merged in, without duplicates (those have ``id`` 0). For
    older pages, ask again with ``until`` at the oldest ``at`` received.
    """
    if window is not None:
        if since is not None:
            raise InvalidInput("give range or since, not both", fields=(("range", "range or since, not both"),))
        since = window_of(window).since(datetime.now(UTC))
    if since is not None and until is not None and since > until:
        raise InvalidInput("since is after until", fields=(("since", "must not be after until"),))
    types = _types(type)
    found = state.feed.recent(group=group, types=types, status=status, since=since, until=until, limit=limit)
    if since is not None and since < state.feed.horizon() and (not types or types & {"activity", "decision"}):
        stored = await _stored(state, group, types, since, until, min(limit, HISTORY_LIMIT))
        found = merge_events(found, (e for e in stored if not status or e.status == status), limit)
    return [EventPublic(**event.as_dict()) for event in found]


async def _stored(
    state: GatewayState, group: str | None, types: set[str] | None, since: datetime, until: datetime | None, limit: int
) -> list[FeedEvent]:
    activities: tuple[ActivityView, ...] = ()
    decisions: tuple[DecisionView, ...] = ()
    if not types or "activity" in types:
        activities = (
            await state.scaler.activities(group=group, status=None, limit=limit, since=since, until=until)
        ).activities
    if not types or "decision" in types:
        decisions = (await state.scaler.decisions(group=group, limit=limit, since=since, until=until)).decisions
    events = stored_events(activities, decisions)  # an activity's end may fall after ``until``
    return [e for e in events if since <= e.at and (until is None or e.at <= until)]


class SizePoint(BaseModel):
    """The group's size from ``at`` until the next point."""

    at: datetime
    size: int


class SizeHistory(BaseModel):
    """A group's size over a range, derived from its activities and the size it has now."""

    group: str
    range: str
    since: datetime
    until: datetime
    points: list[SizePoint]
    complete: bool
    """False when the range held more activities than one read returns (the oldest part may be off)."""


@router.get(
    "/groups/{name}/size-history", response_model=SizeHistory, tags=["groups"], summary="A group's size over time"
)
async def size_history(name: GroupName, state: State, _: Viewer, window: RangeName = "1h") -> SizeHistory:
    """The size at the start of the range and after each change in it, to now: a scale-out counts
    its VMs from its start, a scale-in stops counting them at its start, one rolled back, cancelled
    or failed gives them back at its end (the scaler's persisted activities; nothing new is stored)."""
    preset = window_of(window or "1h")
    now = datetime.now(UTC)
    since = preset.since(now)
    group = await state.scaler.group(name)
    if group.group is None:
        raise InvalidInput("the scaler returned no group")
    # an activity that started before the range may end (roll back) inside it: read a day earlier too
    earlier = since - timedelta(days=1)
    reply = await state.scaler.activities(group=name, status=None, limit=HISTORY_LIMIT, since=earlier, until=now)
    points = size_series(reply.activities, group.group.size, since, now)
    return SizeHistory(
        group=name,
        range=preset.name,
        since=since,
        until=now,
        points=[SizePoint(at=at, size=size) for at, size in points],
        complete=len(reply.activities) < HISTORY_LIMIT,
    )


def _matches(event: FeedEvent, group: str | None, types: set[str] | None) -> bool:
    return (not group or event.group == group) and (not types or event.type in types)


@router.get(
    "/events/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
    summary="Server-Sent Events: every new event as it happens",
)
async def stream_events(
    request: Request,
    state: State,
    _: Viewer,
    group: Annotated[str | None, Query(max_length=63)] = None,
    type: Annotated[str | None, Query(max_length=200)] = None,
) -> StreamingResponse:
    """``event: <subject>`` / ``data: <json>`` frames; a comment every 15 s keeps proxies open."""
    types = _types(type)
    queue = state.feed.listen()

    async def frames() -> AsyncIterator[str]:
        try:
            yield "retry: 3000\n\n"
            while not await request.is_disconnected():
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if _matches(event, group, types):
                    yield f"id: {event.id}\nevent: {event.subject}\ndata: {json.dumps(event.as_dict())}\n\n"
        finally:
            state.feed.forget(queue)

    return StreamingResponse(
        frames(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
