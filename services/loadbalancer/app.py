"""Composition root of the loadbalancer service: build everything from settings, connect nothing."""

from __future__ import annotations

from faststream import FastStream

from services.loadbalancer.handlers import build_routers
from services.loadbalancer.settings import LoadbalancerSettings
from shared.runtime import ServiceRuntime

__all__ = ["create_app"]


def create_app(settings: LoadbalancerSettings, runtime: ServiceRuntime | None = None) -> FastStream:
    """The FastStream app of the loadbalancer service."""
    runtime = runtime or ServiceRuntime("loadbalancer", settings)
    for router in build_routers(runtime.bus):
        runtime.include(router)
    return runtime.app()
