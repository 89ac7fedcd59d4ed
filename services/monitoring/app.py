"""Composition root of the monitoring service: build everything from settings, connect nothing."""

from __future__ import annotations

from faststream import FastStream

from services.monitoring.handlers import build_routers
from services.monitoring.settings import MonitoringSettings
from shared.runtime import ServiceRuntime

__all__ = ["create_app"]


def create_app(settings: MonitoringSettings, runtime: ServiceRuntime | None = None) -> FastStream:
    """The FastStream app of the monitoring service."""
    runtime = runtime or ServiceRuntime("monitoring", settings)
    for router in build_routers(runtime.bus):
        runtime.include(router)
    return runtime.app()
