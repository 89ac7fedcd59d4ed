"""Subscribers for alerts from the gateway → decisions."""

from __future__ import annotations

from faststream.nats import NatsRouter

from services.scaler.metrics import ScalerMetrics
from services.scaler.service import Scaler
from shared import subjects
from shared.bus import Bus
from shared.messages import AlertFired, AlertResolved

__all__ = ["alert_router"]


def alert_router(bus: Bus, scaler: Scaler, workers: int = 1, metrics: ScalerMetrics | None = None) -> NatsRouter:
    """``alert.fired`` (``workers`` messages at once) and ``alert.resolved`` (one at a time).

    Concurrent alerts are safe: each decision takes its group's fenced lease (a sibling alert of
    the same group records ``in_progress`` and its episode is re-checked on the next tick, as
    with two replicas), and groups sharing an IP pool serialise on the pool's row lock.
    ``metrics`` observes the latency of each alert that led to a recorded decision.
    """
    router = NatsRouter()
    options = {"max_workers": workers} if workers > 1 else {}

    @bus.consumer(router, subjects.ALERT_FIRED, "scaler", **options)
    async def on_alert_fired(event: AlertFired) -> None:
        decision = await scaler.triggers.on_alert_fired(event)
        if decision is not None and metrics is not None:
            metrics.decided(event, scaler.ports.clock.now())

    @bus.consumer(router, subjects.ALERT_RESOLVED, "scaler")
    async def on_alert_resolved(event: AlertResolved) -> None:
        await scaler.triggers.on_alert_resolved(event)

    return router
