"""A Grafana annotation for every scale activity (started, succeeded, rolled back)."""

from __future__ import annotations

from faststream.nats import NatsRouter

from services.monitoring.service import MonitoringService
from shared import subjects
from shared.bus import Bus
from shared.messages import ActivityRolledBack, ActivityStarted, ActivitySucceeded

__all__ = ["activity_router"]

SERVICE = "monitoring"


def activity_router(bus: Bus, service: MonitoringService) -> NatsRouter:
    """Subscribers of ``activity.started`` / ``succeeded`` / ``rolled_back``."""
    router = NatsRouter()

    @bus.consumer(router, subjects.ACTIVITY_STARTED, SERVICE)
    async def on_started(event: ActivityStarted) -> None:
        text = f"{event.kind.value} of {event.group} started ({event.delta:+d}): {event.cause}"
        await service.annotate(event.group, text, [event.kind.value, "started"])

    @bus.consumer(router, subjects.ACTIVITY_SUCCEEDED, SERVICE)
    async def on_succeeded(event: ActivitySucceeded) -> None:
        vms = ", ".join(event.vm_names) or "no VM"
        text = f"{event.kind.value} of {event.group} succeeded in {event.duration_s:.0f} s ({vms})"
        await service.annotate(event.group, text, [event.kind.value, "succeeded"])

    @bus.consumer(router, subjects.ACTIVITY_ROLLED_BACK, SERVICE)
    async def on_rolled_back(event: ActivityRolledBack) -> None:
        text = f"{event.kind.value} of {event.group} rolled back at {event.failed_step}: {event.reason}"
        await service.annotate(event.group, text, [event.kind.value, "rolled_back"])

    return router
