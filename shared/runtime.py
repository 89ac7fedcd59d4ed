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
from prometheus_client import CollectorRegistry, start_http_server
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from shared import subjects
from shared.bus import Bus, DeadLetterPolicy, Topology, build_broker
from shared.db import make_engine, upgrade
from shared.errors import VmscaleError
from shared.loops import every
from shared.messages import HealthQuery, HealthReply, LogLevelSet, ServiceHeartbeat, utcnow
from shared.metrics import ServiceMetrics
from shared.nats_connection import NatsConnection
from shared.republish import Republisher
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
        self._owns_tracer_provider = tracer_provider is None
        self.tracer_provider = tracer_provider or build_tracer_provider(
            service,
            settings.otel_traces_exporter,
            endpoint=settings.otlp_traces_endpoint(),
            headers=settings.otlp_headers(),
        )
        self.registry = registry or CollectorRegistry()
        self.nats = NatsConnection.from_settings(settings)
        """The NATS servers, credentials and TLS (validated here: a bad setting fails the start)."""
        self.bus: Bus = build_broker(
            settings.nats_url,
            client_name=f"vmscale-{service}",
            topology=Topology(settings.subject_prefix),
            policy=DeadLetterPolicy(max_deliver=settings.max_deliver, retry_delay_s=settings.retry_delay_s),
            tracer_provider=self.tracer_provider,
            registry=self.registry,
            replicas=settings.nats_replicas,
            security=self.nats.security(),
        )
        self.results = Republisher(self.bus.publish)
        """Publishes a service's result events; one a NATS blip stopped goes out on the next pass."""
        self.bus.broker.add_middleware(NatsPrometheusMiddleware(registry=self.registry, app_name=f"vmscale_{service}"))
        self._checks: dict[str, HealthCheck] = {}
        self._external: set[str] = set()
        self._startup: list[Callable[[], Awaitable[None]]] = []
        self._shutdown: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._metrics_server: Any = None
        self.engine: Engine | None = None
        self.metrics = ServiceMetrics(self.registry, service)
        self.log_level: str = settings.log_level
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

        @self.bus.listener(router, subjects.LOG_LEVEL_SET)
        async def log_level(change: LogLevelSet) -> None:
            if change.service in ("*", self.service):
                self.set_log_level(change.level, actor=change.actor)

        self.include(router)

    def set_log_level(self, level: str, *, actor: str = "") -> None:
        """Change this process's log level now (libraries' chatter stays at WARNING or above)."""
        numeric = logging.getLevelName(level)
        if not isinstance(numeric, int):
            raise ValueError(f"unknown log level {level!r}")
        logging.getLogger().setLevel(numeric)
        for noisy in ("asyncssh", "httpx", "httpcore"):
            logging.getLogger(noisy).setLevel(max(logging.WARNING, numeric))
        self.log_level = level
        log.warning("log level changed", level=level, actor=actor or None)

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
        self.metrics.checked({**results, "nats": "ok" if self.bus.is_connected() else "disconnected"})
        return HealthReply(
            service=self.service,
            healthy=all(value == "ok" for name, value in results.items() if name not in self._external),
            checks=results,
            latency_ms={name: elapsed for name, (_, elapsed) in zip(names, outcomes, strict=True)},
            external=sorted(self._external),
            started_at=self.started_at,
        )

    async def _heartbeat(self) -> None:
        """Publish one heartbeat with the health checks' outcome (a missed beat is logged at
        debug level: the next one comes within the interval)."""
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
        await self.bus.publish(subjects.HEARTBEAT, message)

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
        self.metrics.started(self.started_at.timestamp())
        heartbeats = every(
            self.settings.heartbeat_interval_s, self._heartbeat, name="heartbeat", log=log, level=logging.DEBUG
        )
        self._tasks.append(asyncio.create_task(heartbeats))
        self._tasks.append(asyncio.create_task(self.results.run(self.settings.republish_interval_s)))
        log.info("service started", settings=self.settings.public_dict())
        for note in self.settings.deprecation_notes():
            log.warning(note)  # the original's environment names (docs/migrating.md)

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
        self.metrics.stopped()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server = None
        if self.engine is not None:
            self.engine.dispose()
        log.info("service stopped")
        if self._owns_tracer_provider and self.settings.otel_traces_exporter == "otlp":
            # the spans still batched go to the collector now, at most 10 s (the provider's exit
            # hook shuts it down; a runtime started again keeps exporting)
            await asyncio.to_thread(self.tracer_provider.force_flush, 10_000)

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
