"""Subscribers for the load balancer's pool reports → drift (``DriftWatch``)."""

from __future__ import annotations

from faststream.nats import NatsRouter

from services.scaler.service import Scaler
from shared import subjects
from shared.bus import Bus
from shared.messages import PoolDriftDetected, PoolUpdated

__all__ = ["pool_router"]


def pool_router(bus: Bus, scaler: Scaler) -> NatsRouter:
    """``pool.updated`` and ``pool.drift_detected``."""
    router = NatsRouter()

    @bus.consumer(router, subjects.POOL_UPDATED, "scaler")
    async def on_pool_updated(event: PoolUpdated) -> None:
        await scaler.drift.on_pool_updated(event)

    @bus.consumer(router, subjects.POOL_DRIFT_DETECTED, "scaler")
    async def on_pool_drift_detected(event: PoolDriftDetected) -> None:
        await scaler.drift.on_pool_drift_detected(event)

    return router
