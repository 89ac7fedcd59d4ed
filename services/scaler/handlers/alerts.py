"""Subscribers for alerts from the gateway → decisions."""

from __future__ import annotations

from faststream.nats import NatsRouter

from services.scaler.service import Scaler
from shared import subjects
from shared.bus import Bus
from shared.messages import AlertFired, AlertResolved

__all__ = ["alert_router"]


def alert_router(bus: Bus, scaler: Scaler) -> NatsRouter:
    """``alert.fired`` and ``alert.resolved``."""
    router = NatsRouter()

    @bus.consumer(router, subjects.ALERT_FIRED, "scaler")
    async def on_alert_fired(event: AlertFired) -> None:
        await scaler.decisions.on_alert_fired(event)

    @bus.consumer(router, subjects.ALERT_RESOLVED, "scaler")
    async def on_alert_resolved(event: AlertResolved) -> None:
        await scaler.decisions.on_alert_resolved(event)

    return router
