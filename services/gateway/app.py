"""Composition root of the gateway: FastAPI in front, the bus behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from fastapi import FastAPI
from faststream.nats import NatsRouter
from prometheus_client import CollectorRegistry, Counter
from redis.exceptions import RedisError

from services.gateway.api import system
from services.gateway.heartbeats import HeartbeatBoard
from services.gateway.settings import GatewaySettings
from services.gateway.tracing import TracingMiddleware
from shared import subjects
from shared.messages import ServiceHeartbeat
from shared.runtime import VERSION, ServiceRuntime
from shared.testing.clock import SystemClock

__all__ = ["GatewayState", "create_app"]


class GatewayState:
    """What request handlers reach through ``request.app.state.gateway``."""

    def __init__(self, settings: GatewaySettings, runtime: ServiceRuntime) -> None:
        self.settings = settings
        self.runtime = runtime
        self.registry: CollectorRegistry = runtime.registry
        self.board = HeartbeatBoard(SystemClock(), settings.heartbeat_stale_s)
        self.redis: aioredis.Redis | None = None
        self.requests = Counter(
            "vmscale_gateway_http_requests", "HTTP requests served", ["method", "status"], registry=self.registry
        )

    async def check_redis(self) -> str | None:
        """None when Redis answers PING."""
        if self.redis is None:
            return "not connected"
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            return f"redis unavailable: {type(exc).__name__}"
        return None

    async def readiness(self) -> dict[str, Any]:
        """The /readyz body."""
        health = await self.runtime.health()
        nats_ok = self.runtime.bus.is_connected()
        checks = dict(health.checks)
        checks["nats"] = "ok" if nats_ok else "disconnected"
        services = {
            item.service: {
                "healthy": item.healthy,
                "heartbeat_age_s": item.age_s,
                "instances": item.instances,
                "pid": item.pid,
                "problems": item.problems,
            }
            for item in self.board.liveness()
        }
        ready = all(value == "ok" for value in checks.values()) and all(item["healthy"] for item in services.values())
        return {"ready": ready, "version": VERSION, "checks": checks, "services": services}


def create_app(settings: GatewaySettings, runtime: ServiceRuntime | None = None) -> FastAPI:
    """The gateway's ASGI app; the bus, database and Redis connect in its lifespan."""
    runtime = runtime or ServiceRuntime("gateway", settings)
    state = GatewayState(settings, runtime)

    beats = NatsRouter()

    @runtime.bus.listener(beats, subjects.HEARTBEAT)
    async def on_heartbeat(beat: ServiceHeartbeat) -> None:
        state.board.record(beat)

    runtime.include(beats)
    runtime.add_check("redis", state.check_redis)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.redis = aioredis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        await runtime.start()
        await runtime.bus.broker.start()
        try:
            yield
        finally:
            await runtime.bus.broker.stop()
            await runtime.stop()
            await state.redis.aclose()
            await asyncio.sleep(0)

    app = FastAPI(
        title="vmscale",
        version=VERSION,
        summary="Autoscaling for VMware vSphere VM groups",
        lifespan=lifespan,
        openapi_url="/api/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.gateway = state
    app.include_router(system.router)
    app.add_middleware(TracingMiddleware, tracer_provider=runtime.tracer_provider)
    return app
