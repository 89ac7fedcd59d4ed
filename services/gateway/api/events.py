"""Events: the newest, filtered by group, type, status and time; and a Server-Sent Events stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from services.gateway.api.params import Instant
from services.gateway.deps import State, Viewer
from services.gateway.events import FeedEvent

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["events"])

KEEPALIVE_S = 15.0


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
    limit: Annotated[int, Query(ge=1, le=2000)] = 200,
) -> list[EventPublic]:
    """Events seen by this gateway: activities, decisions, alerts, pools, VMs, audit."""
    found = state.feed.recent(group=group, types=_types(type), status=status, since=since, until=until, limit=limit)
    return [EventPublic(**event.as_dict()) for event in found]


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
