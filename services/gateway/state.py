"""What request handlers reach through ``request.app.state.gateway``: stores, services, clients."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from redis.exceptions import RedisError

from services.gateway.adapters.redis_notify import RedisPinnedSpells, RedisSendLedger
from services.gateway.adapters.redis_store import EpisodeLedger, LoginLockouts, RateLimiter
from services.gateway.adapters.sql_auth import SqlAuditLog, SqlKeyStore, SqlSessionStore, SqlUserStore
from services.gateway.adapters.sql_notify import SqlDeliveryLog
from services.gateway.auth.model import Principal
from services.gateway.auth.ports import AuditEntry, AuditLog
from services.gateway.auth.secrets import PasswordHashing
from services.gateway.auth.service import AuthService
from services.gateway.clients import InventoryClient, LoadBalancerClient, MonitoringClient, ScalerClient
from services.gateway.events import EventFeed
from services.gateway.heartbeats import HeartbeatBoard
from services.gateway.metrics import GatewayMetrics
from services.gateway.notify import Notifications, NotifyStores, RuleSettings, load_channels
from services.gateway.settings import GatewaySettings
from services.gateway.webhook.directory import BusGroupDirectory
from services.gateway.webhook.ingest import WebhookIngest
from shared import subjects
from shared.bus import subject_label
from shared.clock import Clock, SystemClock
from shared.dead_letters import JetStreamDeadLetters
from shared.errors import Conflict, VmscaleError
from shared.late import Late
from shared.loops import every
from shared.messages import AuditRecorded
from shared.runtime import VERSION, ServiceRuntime
from shared.telemetry import get_logger

__all__ = ["GatewayState"]

log = get_logger(__name__)


def _secret_file(path: Path, make: bool) -> str | None:
    """Read a generated secret, creating it (mode 0600) when asked and absent."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip() or None
    if not make:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(24)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker of this gateway made it first
        return _secret_file(path, make=False)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(value + "\n")
    return value


class GatewayState:
    """Everything the routes use; the connections open in ``start`` (the app's lifespan)."""

    def __init__(self, settings: GatewaySettings, runtime: ServiceRuntime, clock: Clock | None = None) -> None:
        self.settings = settings
        self.runtime = runtime
        self.clock = clock or SystemClock()
        self.registry: CollectorRegistry = runtime.registry
        self.board = HeartbeatBoard(SystemClock(), settings.heartbeat_stale_s)
        self.redis: aioredis.Redis | None = None
        self.metrics = GatewayMetrics(self.registry, self.board)
        channels = load_channels(settings.notify_channels)
        self.notifications: Notifications | None = (
            Notifications(
                channels,
                self.clock,
                RuleSettings(
                    pinned_after_s=settings.notify_pinned_after_s, pool_low_free=settings.notify_pool_low_free
                ),
                self.registry,
                retention_s=settings.notify_delivery_retention_s,
            )
            if channels
            else None
        )
        self.webhook_outcomes = self.metrics.webhook_outcomes
        self.truncated_alerts = self.metrics.truncated_alerts
        self.dead_letters_stored = self.metrics.dead_letters_stored
        self.feed = EventFeed(runtime.bus)
        self.dead_letters = JetStreamDeadLetters(runtime.bus, settings.backend_timeout_s)
        timeout_s = settings.backend_timeout_s
        self.scaler = ScalerClient(runtime.bus, timeout_s)
        self.inventory = InventoryClient(runtime.bus, timeout_s)
        self.monitoring = MonitoringClient(runtime.bus, timeout_s)
        self.loadbalancer = LoadBalancerClient(runtime.bus, timeout_s)
        self.directory = BusGroupDirectory(self.scaler.with_timeout(0.5), settings.group_cache_ttl_s)
        self.webhook_token: str = settings.webhook_token.get_secret_value()
        self._auth: Late[AuthService] = Late("the authentication service")  # bound in start()
        self._audit: Late[AuditLog] = Late("the audit log")
        self.limiter: RateLimiter | None = None
        self.lockouts: LoginLockouts | None = None
        self._purge: asyncio.Task[None] | None = None
        self.ingest: WebhookIngest | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def open_redis(self) -> None:
        """Create the Redis client and the adapters over it (nothing connects yet)."""
        self.redis = aioredis.from_url(self.settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        namespace = self._namespace()
        self.limiter = RateLimiter(self.redis, namespace)
        self.lockouts = LoginLockouts(self.redis, namespace)
        ledger = EpisodeLedger(self.redis, namespace, self.settings.webhook_episode_ttl_s)
        self.ingest = WebhookIngest(self.runtime.bus, ledger)

    def _namespace(self) -> str:
        """The gateway's Redis key prefix (one per vmscale installation, shared by its replicas)."""
        return f"vmscale:{self.settings.subject_prefix or 'main'}:gateway"

    async def start(self) -> None:
        """After the runtime started: stores over its engine, first admin, webhook secret."""
        engine = self.runtime.require_engine()
        self._auth.bind(
            AuthService(
                SqlUserStore(engine),
                SqlKeyStore(engine),
                SqlSessionStore(engine),
                self.clock,
                self.settings.session_ttl_s,
                PasswordHashing(
                    self.settings.password_hash_memory_kib,
                    self.settings.password_hash_time_cost,
                    self.settings.password_hash_parallelism,
                ),
            )
        )
        self._audit.bind(SqlAuditLog(engine))
        await asyncio.to_thread(self._first_start)
        if self.settings.webhook_allowed_sources:
            sources = list(self.settings.webhook_allowed_sources)
            log.warning("weakened setting: the webhook takes notifications without credentials", sources=sources)
            await self.audit("system", "settings.weakened", "webhook_allowed_sources", "startup", sources=sources)
        if self.notifications is not None and self.redis is not None:
            namespace = self._namespace()
            self.notifications.start(
                NotifyStores(
                    RedisSendLedger(self.redis, namespace),
                    RedisPinnedSpells(self.redis, namespace),
                    SqlDeliveryLog(engine),
                )
            )
        purge = every(
            self.settings.session_purge_interval_s, self._purge_sessions, name="session purge", log=log, wait_first=True
        )
        self._purge = asyncio.create_task(purge, name="gateway-session-purge")

    async def _purge_sessions(self) -> None:
        """Delete expired sessions (run every ``session_purge_interval_s``; a database outage just
        skips a round)."""
        purged = await asyncio.to_thread(self.auth.purge_sessions)
        if purged:
            log.info("expired sessions purged", count=purged)

    def _first_start(self) -> None:
        state_dir = Path(self.settings.state_dir)
        if not self.webhook_token and not self.settings.webhook_password.get_secret_value():
            path = state_dir / "webhook-token"
            self.webhook_token = _secret_file(path, make=True) or ""
            log.info("webhook token generated", path=str(path))
        auth = self.auth
        if auth.users.count() > 0:
            return
        configured = self.settings.initial_admin_password.get_secret_value()
        path = state_dir / "initial-admin-password"
        password = configured or _secret_file(path, make=True) or ""
        try:
            auth.ensure_admin(self.settings.initial_admin_username, password)
        except Conflict:
            return  # another worker of this gateway created it first
        where = "from the setting INITIAL_ADMIN_PASSWORD" if configured else f"password in {path}"
        log.info("initial admin created", user=self.settings.initial_admin_username, where=where)

    async def close(self) -> None:
        """Stop the session purge, close the Redis client."""
        if self._purge is not None:
            self._purge.cancel()
            await asyncio.gather(self._purge, return_exceptions=True)
            self._purge = None
        if self.notifications is not None:
            await self.notifications.close()
        if self.redis is not None:
            await self.redis.aclose()

    # -- accessors ----------------------------------------------------------------------------

    @property
    def auth(self) -> AuthService:
        """The authentication service (after start; ``NotBound`` before)."""
        return self._auth.get()

    @property
    def audit_log(self) -> AuditLog:
        """The audit log (after start; ``NotBound`` before)."""
        return self._audit.get()

    async def audit(
        self,
        actor: Principal | str,
        action: str,
        target: str,
        source: str,
        outcome: str = "ok",
        **detail: Any,
    ) -> None:
        """Write an audit entry and announce it on ``audit.recorded`` (best effort)."""
        name = actor if isinstance(actor, str) else actor.name
        entry = AuditEntry(
            at=self.clock.now(), actor=name, action=action, target=target, source=source, outcome=outcome, detail=detail
        )
        await asyncio.to_thread(self.audit_log.append, entry)
        try:
            await self.runtime.bus.publish(
                subjects.AUDIT_RECORDED,
                AuditRecorded(
                    actor=name, action=action, target=target, detail={**detail, "outcome": outcome, "source": source}
                ),
            )
        except VmscaleError:
            log.warning("audit event not published", action=action)

    async def refresh_dead_letter_gauge(self) -> None:
        """Set ``vmscale_dead_letters_stored`` from the stream; left as it was when NATS does not answer.

        Named apart from the bus's ``vmscale_dead_letters_total`` counter: a gauge called
        ``vmscale_dead_letters`` would be a second metric family of that name in this registry.
        """
        try:
            counts = await self.dead_letters.counts()
        except VmscaleError:
            log.debug("dead letters not counted: NATS did not answer")
            return
        labelled: dict[str, int] = {}
        for subject, count in counts.items():
            label = subject_label(subject)
            labelled[label] = labelled.get(label, 0) + count
        self.dead_letters_stored.clear()
        for label, count in labelled.items():
            self.dead_letters_stored.labels(label).set(count)

    # -- health -------------------------------------------------------------------------------

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
                "degraded": item.healthy and bool(item.problems),
            }
            for item in self.board.liveness()
        }
        ready = all(value == "ok" for value in checks.values()) and all(item["healthy"] for item in services.values())
        return {"ready": ready, "version": VERSION, "checks": checks, "services": services}
