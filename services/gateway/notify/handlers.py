"""Subscribers feeding the notifications: core subscriptions (every event is an ordinary NATS
message too), so nothing piles up in a consumer while notifications are off, and a first start
does not replay a week of history as notifications.

Every replica of the gateway subscribes in the one queue group ``QUEUE``: NATS hands each event
to one of them, so a notification goes out once however many replicas run (the live event feed,
``services.gateway.events``, subscribes without a group: every replica's browsers see every
event). De-duplication and the rate limit are shared state (``notify.ports``), so two copies of
an episode landing on two replicas are still sent once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faststream.nats import NatsRouter

from services.gateway.notify.service import Notifications
from shared import subjects
from shared.bus import Bus
from shared.messages import ActivityRolledBack, DeadLetter, DecisionRecorded, OrphanVmsDetected
from shared.subjects import Subject

__all__ = ["QUEUE", "notification_router"]

QUEUE = "gateway-notifications"
"""The queue group of every gateway replica's notification subscribers."""


def notification_router(bus: Bus, notifications: Notifications) -> NatsRouter:
    """``activity.rolled_back``, ``decision.recorded``, ``decision.orphans_detected``, ``dlq.>``,
    each in the queue group ``QUEUE``."""
    router = NatsRouter()

    def shared_listener(subject: Subject[Any]) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
        return router.subscriber(bus.topology.subject(subject), queue=QUEUE)

    @shared_listener(subjects.ACTIVITY_ROLLED_BACK)
    async def on_rolled_back(event: ActivityRolledBack) -> None:
        await notifications.on_event(event)

    @shared_listener(subjects.DECISION_RECORDED)
    async def on_decision(event: DecisionRecorded) -> None:
        await notifications.on_event(event)

    @shared_listener(subjects.ORPHAN_VMS_DETECTED)
    async def on_orphans(event: OrphanVmsDetected) -> None:
        await notifications.on_event(event)

    @shared_listener(subjects.DEAD_LETTERS)
    async def on_dead_letter(letter: DeadLetter) -> None:
        await notifications.on_event(letter)

    return router
