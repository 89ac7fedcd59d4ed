"""Notification channels, the record of deliveries, and the test button.

Channels are shown by name, type, host and routing only: their URLs (a Slack URL is a secret)
and keys never leave the gateway.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from services.gateway.deps import Admin, State, Viewer, client_address
from services.gateway.errors import Problem
from services.gateway.notify import Delivery, DeliveryOutcome, Notifications
from shared.errors import NotFound

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["notifications"])


class ChannelPublic(BaseModel):
    """A channel as operators see it."""

    name: str
    type: str
    host: str | None = Field(
        description="where the generic webhook posts or the SMTP server; null for Slack (its URL is a secret)"
    )
    signed: bool
    groups: list[str]
    min_severity: str
    kinds: list[str]
    rate_per_min: int


class DeliveryPublic(BaseModel):
    """One notification on one channel: sent, failed (and why), deduplicated or rate-limited."""

    channel: str
    kind: str
    severity: str
    group: str | None
    title: str
    outcome: str
    attempts: int
    reason: str
    at: datetime


class DeliveryList(BaseModel):
    """Deliveries, newest first."""

    deliveries: list[DeliveryPublic]


def _public(delivery: Delivery) -> DeliveryPublic:
    return DeliveryPublic(**delivery.model_dump(exclude={"dedup_key"}))


def _configured(state: State) -> Notifications:
    if state.notifications is None:
        raise NotFound("no notification channel is configured (NOTIFY_CHANNELS)")
    return state.notifications


@router.get("/notifications/channels", response_model=list[ChannelPublic], summary="Notification channels")
async def list_channels(state: State, _: Viewer) -> list[ChannelPublic]:
    """The configured channels and their routing (empty when none is configured)."""
    if state.notifications is None:
        return []
    return [ChannelPublic.model_validate(item) for item in state.notifications.public_channels()]


@router.get("/notifications/deliveries", response_model=DeliveryList, summary="Notification deliveries")
async def list_deliveries(
    state: State,
    _: Viewer,
    channel: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Annotated[DeliveryOutcome | None, Query(description="only this outcome")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DeliveryList:
    """The recorded deliveries of every gateway replica, newest first, filtered by channel and
    outcome (kept for ``NOTIFY_DELIVERY_RETENTION_S``)."""
    if state.notifications is None:
        return DeliveryList(deliveries=[])
    found = await asyncio.to_thread(state.notifications.notifier.deliveries.recent, limit, channel, outcome)
    return DeliveryList(deliveries=[_public(d) for d in found])


@router.post(
    "/notifications/test",
    response_model=DeliveryList,
    summary="Send a test notification",
    responses={404: {"model": Problem, "description": "no channels configured, or no such channel"}},
)
async def send_test(
    request: Request,
    state: State,
    me: Admin,
    channel: Annotated[str | None, Query(max_length=64, description="one channel; all when omitted")] = None,
) -> DeliveryList:
    """Send a test notification now (past de-duplication and the rate limit) and answer with what
    became of it on each channel. Audited."""
    notifications = _configured(state)
    if channel is not None and channel not in {c.name for c in notifications.configs}:
        raise NotFound("no such notification channel", channel=channel)
    deliveries = await notifications.test(me.name, channel)
    outcomes = {d.channel: d.outcome.value for d in deliveries}
    await state.audit(me, "notification.test", channel or "*", client_address(request), outcomes=outcomes)
    return DeliveryList(deliveries=[_public(d) for d in deliveries])
