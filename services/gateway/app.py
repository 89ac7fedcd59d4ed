"""Composition root of the gateway: FastAPI in front, the bus behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from faststream.nats import NatsRouter

from services.gateway.access_log import AccessLogMiddleware
from services.gateway.api import (
    activities,
    auth,
    dead_letters,
    events,
    group_health,
    groups,
    inventory,
    jenkins_callbacks,
    log_level,
    monitoring,
    notifications,
    schedules,
    status,
    system,
    webhook,
)
from services.gateway.api.docs import mount_docs
from services.gateway.api.ui import mount_ui
from services.gateway.deps import single_valued_query
from services.gateway.errors import install_error_handlers
from services.gateway.metrics import HttpMetricsMiddleware
from services.gateway.notify.handlers import notification_router
from services.gateway.openapi import install_openapi
from services.gateway.security import SecurityHeadersMiddleware
from services.gateway.settings import GatewaySettings
from services.gateway.state import GatewayState
from services.gateway.tracing import TracingMiddleware
from shared import subjects
from shared.messages import ServiceHeartbeat
from shared.runtime import VERSION, ServiceRuntime

__all__ = ["GatewayState", "create_app"]


def create_app(settings: GatewaySettings, runtime: ServiceRuntime | None = None) -> FastAPI:
    """The gateway's ASGI app; the bus, database and Redis connect in its lifespan."""
    runtime = runtime or ServiceRuntime("gateway", settings)
    state = GatewayState(settings, runtime)

    beats = NatsRouter()

    @runtime.bus.listener(beats, subjects.HEARTBEAT)
    async def on_heartbeat(beat: ServiceHeartbeat) -> None:
        state.board.record(beat)

    runtime.include(beats)
    if state.notifications is not None:
        runtime.include(notification_router(runtime.bus, state.notifications))
    runtime.add_check("redis", state.check_redis)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.open_redis()
        await runtime.start()
        await state.start()
        await runtime.bus.broker.start()
        await state.feed.start()
        try:
            yield
        finally:
            await state.feed.stop()
            await runtime.bus.broker.stop()
            await runtime.stop()
            await state.close()
            await asyncio.sleep(0)

    app = FastAPI(
        title="vmscale",
        version=VERSION,
        summary="Autoscaling for VMware vSphere VM groups",
        description=(
            "The operator API of vmscale. Authenticate with a session (log in through the UI or "
            "`POST /api/v1/auth/login`; unsafe methods then need the `X-CSRF-Token` header) or with "
            "an API key (`Authorization: Bearer vms_…`). Errors are RFC 9457 `application/problem+json`."
        ),
        lifespan=lifespan,
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.gateway = state
    install_openapi(app)
    install_error_handlers(app)
    app.include_router(system.router)
    app.include_router(webhook.router)
    app.include_router(jenkins_callbacks.router)
    for module in (
        auth,
        groups,
        group_health,
        schedules,
        activities,
        inventory,
        monitoring,
        events,
        status,
        dead_letters,
        notifications,
        log_level,
    ):
        app.include_router(module.router, dependencies=[Depends(single_valued_query)])
    mount_docs(app)
    mount_ui(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-CSRF-Token"],
        )
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.tls_enabled)
    app.add_middleware(TracingMiddleware, tracer_provider=runtime.tracer_provider)
    if settings.http_metrics:
        app.add_middleware(HttpMetricsMiddleware, metrics=state.metrics)
    if settings.access_log:
        app.add_middleware(AccessLogMiddleware)
    return app
