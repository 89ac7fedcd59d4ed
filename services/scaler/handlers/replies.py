"""Subscribers for the replies of inventory, monitoring and the load balancer → activities."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faststream.nats import NatsRouter

from services.scaler.service import Scaler
from services.scaler.steps import REPLY_SUBJECTS
from shared import subjects
from shared.bus import Bus
from shared.messages import GroupAlertsProvisioned, GroupAlertsRemoved, MonitoringFailed
from shared.subjects import Subject

__all__ = ["reply_router"]


def _step_handler(scaler: Scaler, subject: Subject[Any]) -> Callable[..., Awaitable[None]]:
    async def handle(event: Any) -> None:
        await scaler.activities.on_reply(subject, event)
        if isinstance(event, MonitoringFailed):
            await scaler.admin.on_monitoring_event(event)

    handle.__annotations__ = {"event": subject.model, "return": None}
    handle.__name__ = f"on_{subject.name.replace('.', '_')}"
    return handle


def reply_router(bus: Bus, scaler: Scaler) -> NatsRouter:
    """One durable consumer per reply subject, plus alert-provisioning outcomes."""
    router = NatsRouter()
    for subject in REPLY_SUBJECTS:
        bus.consumer(router, subject, "scaler")(_step_handler(scaler, subject))

    @bus.consumer(router, subjects.MONITORING_ALERTS_PROVISIONED, "scaler")
    async def on_alerts_provisioned(event: GroupAlertsProvisioned) -> None:
        await scaler.admin.on_monitoring_event(event)

    @bus.consumer(router, subjects.MONITORING_ALERTS_REMOVED, "scaler")
    async def on_alerts_removed(event: GroupAlertsRemoved) -> None:
        await scaler.admin.on_monitoring_event(event)

    return router
