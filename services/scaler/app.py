"""Composition root of the scaler service: build everything from settings, connect nothing."""

from __future__ import annotations

from faststream import FastStream

from services.scaler.handlers import build_routers
from services.scaler.settings import ScalerSettings
from shared.runtime import ServiceRuntime

__all__ = ["create_app"]


def create_app(settings: ScalerSettings, runtime: ServiceRuntime | None = None) -> FastStream:
    """The FastStream app of the scaler service."""
    runtime = runtime or ServiceRuntime("scaler", settings)
    for router in build_routers(runtime.bus):
        runtime.include(router)
    return runtime.app()
