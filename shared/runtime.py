"""What every service process shares: bus, health replies, heartbeats, metrics, logging.

A service's composition root (``services/<name>/app.py``) builds a ``ServiceRuntime`` from its
settings, adds its routers and start/stop hooks, and returns ``runtime.app()``. Nothing connects
until the FastStream app starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from faststream import FastStream
from faststream.nats import NatsRouter
from faststream.nats.prometheus import NatsPrometheusMiddleware
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, Gauge, start_http_server
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from shared import subjects
from shared.bus import Bus, DeadLetterPolicy, Topology, build_broker
from shared.db import make_engine, upgrade
from shared.errors import VmscaleError
from shared.messages import HealthQuery, HealthReply, ServiceHeartbeat, utcnow
from shared.settings import ServiceSettings
from shared.telemetry import build_tracer_provider, get_logger

__all__ = ["VERSION", "HealthCheck", "ServiceRuntime", "threaded_check", "tune_gc"]

VERSION = "0.1.0"

HealthCheck = Callable[[], Awaitable[str | None]]
"""A dependency check: returns ``None`` when healthy, otherwise what is wrong (or raises a
``VmscaleError`` or ``OSError``, whose message is what is wrong)."""

log = get_logger(__name__)


def threaded_check(blocking: Callable[[], object]) -> HealthCheck:
    """A health check around a blocking call (a vendor SDK), run in a thread, one at a time.

    A thread cannot be cancelled: when the check times out, the call goes on. Asked again while
    it runs, the check waits for that same call instead of starting another, so an unreachable
    system never fills the thread pool with hung calls.
    """
    running: asyncio.Future[object] | None = None

    async def check() -> None:
        nonlocal running
        if running is None or running.done():
            running = asyncio.ensure_future(asyncio.to_thread(blocking))
            running.add_done_callback(lambda done: done.cancelled() or done.exception())
        await asyncio.shield(running)

    return check


class ServiceRuntime:
    """The parts of a service process that do not depend on what the service does."""

    def __init__(
        self,
        service: str,
        settings: ServiceSettings,
        *,
        tracer_provider: TracerProvider | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if service not in subjects.SERVICES:
            raise ValueError(f"unknown service {service!r}")
        self.service = service
        self.settings = settings
        self.instance = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.started_at: datetime = utcnow()
        self.tracer_provider = tracer_provider or build_tracer_provider(service, settings.otel_exporter)
        self.registry = registry or CollectorRegistry()
        self.bus: Bus = build_broker(
            settings.nats_url,
            client_name=f"vmscale-{service}",
            topology=Topology(settings.subject_prefix),
            policy=DeadLetterPolicy(max_deliver=settings.max_deliver, retry_delay_s=settings.retry_delay_s),
            tracer_provider=self.tracer_provider,
            registry=self.registry,
        )
        self.bus.broker.add_middleware(NatsPrometheusMiddleware(registry=self.registry, app_name=f"vmscale_{service}"))
        self._checks: dict[str, HealthCheck] = {}
        self._external: set[str] = set()
        self._startup: list[Callable[[], Awaitable[None]]] = []
        self._shutdown: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._metrics_server: Any = None
        self.engine: Engine | None = None
        self._up = Gauge("vmscale_service_up", "1 while the service runs", ["service"], registry=self.registry)
        self._include_health_router()

    # -- wiring -------------------------------------------------------------------------------

    def include(self, router: NatsRouter) -> None:
        """Add a router of the service's handlers."""
        self.bus.broker.include_router(router)

    def add_check(self, name: str, check: HealthCheck, *, critical: bool = True) -> None:
        """Add a check reported by the health query.

        ``critical`` checks (the bus, our database, Redis) decide whether the service is healthy.
        Non-critical ones are the external systems the service drives (Prometheus, a load
        balancer): their outage is reported as a problem — the service degrades and says so —
        but does not make the service unready, so one vendor outage cannot cascade into restarts
        or a failed readiness of the whole system.
        """
        self._checks[name] = check
        if not critical:
            self._external.add(name)

    def on_startup(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run ``hook`` after the bus is connected, before consumers start."""
        self._startup.append(hook)

    def on_shutdown(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run ``hook`` after consumers stop (in reverse order of registration)."""
        self._shutdown.append(hook)

    def background(self, make: Callable[[], Awaitable[None]]) -> None:
        """Run ``make()`` as a task for the life of the service; it is cancelled on stop."""
        self._startup.append(lambda: self._spawn(make))

    async def _spawn(self, make: Callable[[], Awaitable[None]]) -> None:
        self._tasks.append(asyncio.create_task(make()))  # type: ignore[arg-type]

    # -- health -------------------------------------------------------------------------------

    def _include_health_router(self) -> None:
        router = NatsRouter()

        @self.bus.responder(router, subjects.health_query(self.service), self.service)
        async def health(query: HealthQuery) -> HealthReply:
            return await self.health()

        self.include(router)

    async def health(self) -> HealthReply:
        """Run every check at once, each bounded to two seconds and timed."""

        async def run(check: HealthCheck) -> tuple[str, float]:
            started = time.perf_counter()
            try:
                problem = await asyncio.wait_for(check(), timeout=2.0)
            except TimeoutError:
                problem = "no answer within 2 s"
            except (VmscaleError, OSError) as exc:
                problem = str(exc) or type(exc).__name__
            return problem or "ok", round((time.perf_counter() - started) * 1000, 2)

        names = list(self._checks)
        outcomes = await asyncio.gather(*(run(self._checks[name]) for name in names))
        results = {"nats": "ok", **{name: outcome for name, (outcome, _) in zip(names, outcomes, strict=True)}}
        return HealthReply(
            service=self.service,
            healthy=all(value == "ok" for name, value in results.items() if name not in self._external),
            checks=results,
            latency_ms={name: elapsed for name, (_, elapsed) in zip(names, outcomes, strict=True)},
            external=sorted(self._external),
            started_at=self.started_at,
        )

    async def _heartbeat(self) -> None:
        beat = subjects.HEARTBEAT
        while True:
            health = await self.health()
            message = ServiceHeartbeat(
                healthy=health.healthy,
                problems={name: value for name, value in health.checks.items() if value != "ok"},
                service=self.service,
                instance=self.instance,
                pid=os.getpid(),
                started_at=self.started_at,
                version=VERSION,
            )
            with contextlib.suppress(VmscaleError):
                await self.bus.publish(beat, message)
            await asyncio.sleep(self.settings.heartbeat_interval_s)

    # -- lifecycle ----------------------------------------------------------------------------

    def require_engine(self) -> Engine:
        """The service's database engine (available once the service has started)."""
        if self.engine is None:
            raise RuntimeError("the database engine exists only after start()")
        return self.engine

    async def _check_database(self) -> str | None:
        engine = self.require_engine()

        def ping() -> None:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))

        try:
            await asyncio.to_thread(ping)
        except SQLAlchemyError as exc:
            return f"database unavailable: {type(exc).__name__}"
        return None

    async def start(self) -> None:
        """Migrate, connect, declare streams, run start hooks, start metrics and heartbeats."""
        url = self.settings.resolved_database_url()
        await asyncio.to_thread(upgrade, self.service, url)
        self.engine = make_engine(url)
        self.add_check("database", self._check_database)
        await self.bus.connect()
        for hook in self._startup:
            await hook()
        if self.settings.metrics_port:
            self._metrics_server, _ = start_http_server(
                self.settings.metrics_port, addr=self.settings.metrics_host, registry=self.registry
            )
        self._up.labels(self.service).set(1)
        self._tasks.append(asyncio.create_task(self._heartbeat()))
        log.info("service started", settings=self.settings.public_dict())

    async def stop(self) -> None:
        """Cancel background tasks, run stop hooks, stop metrics."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for hook in reversed(self._shutdown):
            await hook()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server = None
        if self.engine is not None:
            self.engine.dispose()
        log.info("service stopped")

    def app(self) -> FastStream:
        """The FastStream application of this service."""
        application = FastStream(self.bus.broker, logger=logging.getLogger("vmscale.app"))
        application.on_startup(self.start)
        application.on_shutdown(self.stop)
        return application


def tune_gc() -> None:
    """Tune the cyclic garbage collector for a serving process, once its app is built.

    What exists by then (modules, routes, models, schemas) lives as long as the process:
    ``gc.freeze`` takes it out of every later collection, and a larger first threshold makes
    the young collections, which a request's short-lived objects set off, fewer. Measured on the
    webhook (``bench/gateway_webhook.py``, one worker, 2 cores): p99 from about 120 ms to about
    30 ms, as the full collections that walked the whole app no longer run mid-request.
    Reference counting still frees almost everything at once; only cycles wait a little longer.
    """
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
