"""Composition root of the inventory service: build everything from settings, connect nothing."""

from __future__ import annotations

from faststream import FastStream

from services.inventory.handlers import build_routers
from services.inventory.settings import InventorySettings
from shared.runtime import ServiceRuntime

__all__ = ["create_app"]


def create_app(settings: InventorySettings, runtime: ServiceRuntime | None = None) -> FastStream:
    """The FastStream app of the inventory service."""
    runtime = runtime or ServiceRuntime("inventory", settings)
    for router in build_routers(runtime.bus):
        runtime.include(router)
    return runtime.app()
