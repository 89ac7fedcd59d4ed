"""Composition root of the scaler service: build everything from settings, connect nothing.

The lifespan opens the engine (after migrations), the Redis client and the HTTP client, builds
the use cases, resumes unfinished activities, and closes everything on exit.
"""

from __future__ import annotations

import httpx
from faststream import FastStream

from services.scaler.activities import EngineConfig
from services.scaler.adapters.bus import BusPoolReader, BusPublisher, BusResourceChecker, BusVmPresence
from services.scaler.adapters.hook_secrets import HookSecrets
from services.scaler.adapters.hooks import HookRunner, HttpHealthProbe, HttpHook, JenkinsHook
from services.scaler.adapters.ping import TcpAddressProbe
from services.scaler.adapters.prometheus import PrometheusMetrics
from services.scaler.adapters.redis_lease import RedisLease
from services.scaler.adapters.sql import SqlStore
from services.scaler.adapters.tables import leases as lease_table
from services.scaler.domain.saga import Retry
from services.scaler.handlers import build_routers
from services.scaler.importer import bus_discovery
from services.scaler.metrics import ScalerMetrics
from services.scaler.orphans import tagged_vms_over_bus
from services.scaler.ports import Store
from services.scaler.reconcile import ReconcileConfig
from services.scaler.service import Ports, Scaler
from services.scaler.settings import ScalerSettings
from services.scaler.steps import StepTimeouts
from shared.clock import SystemClock
from shared.late import Late
from shared.runtime import ServiceRuntime
from shared.singleton_sql import SqlLeases

__all__ = ["create_app", "create_scaler"]


def create_scaler(
    settings: ScalerSettings, runtime: ServiceRuntime, store: Store, observed: ScalerMetrics | None = None
) -> tuple[Scaler, list[object]]:
    """The scaler's use cases over real adapters and ``store`` (returns it and the objects to close)."""
    http = httpx.AsyncClient(trust_env=False)
    lease = RedisLease.from_url(
        settings.redis_url,
        prefix=f"vmscale:{settings.subject_prefix or 'main'}:scaler:",
        on_change=observed.lease_taken if observed is not None else None,
    )
    metrics = PrometheusMetrics(http, settings.prometheus_url, settings.prometheus_rate_window)
    jenkins = None
    if settings.jenkins_url:
        jenkins = JenkinsHook(
            http,
            settings.jenkins_url,
            settings.jenkins_user,
            token=settings.jenkins_token,
            password=settings.jenkins_password,
            poll_s=settings.jenkins_poll_s,
        )
        runtime.add_check("jenkins", jenkins.ping, critical=False)
    allowed = frozenset(h.strip() for h in settings.hook_allowed_hosts.split(",") if h.strip())
    ports = Ports(
        store=store,
        lease=lease,
        metrics=metrics,
        probe=HttpHealthProbe(http, settings.health_interval_s),
        hooks=HookRunner(HttpHook(http, allowed, HookSecrets(settings.hook_secrets_dir)), jenkins),
        checker=BusResourceChecker(runtime.bus, metrics),
        publisher=BusPublisher(runtime.bus),
        clock=SystemClock(),
        addresses=TcpAddressProbe(settings.ping_check_port, settings.ping_check_timeout_s),
        pools=BusPoolReader(runtime.bus),
        existing_vms=bus_discovery(runtime.bus, metrics.target_addresses),
        tagged_vms=tagged_vms_over_bus(runtime.bus),
        presence=BusVmPresence(runtime.bus),
    )
    engine = EngineConfig(
        owner=settings.replica_id or runtime.instance,
        lease_ttl_s=settings.lease_ttl_s,
        retry=Retry(
            max_attempts=settings.step_max_attempts,
            backoff_s=settings.step_backoff_s,
            compensation_attempts=settings.compensation_attempts,
        ),
        timeouts=StepTimeouts(
            vm_s=settings.vm_timeout_s,
            power_on_s=settings.power_on_timeout_s,
            monitoring_s=settings.monitoring_timeout_s,
            pool_s=settings.pool_timeout_s,
            health_s=settings.health_timeout_s,
            hook_s=settings.hook_timeout_s,
        ),
        failure_backoff_s=settings.failure_backoff_s,
    )
    scaler = Scaler(
        ports,
        owner=engine.owner,
        webhook_base=settings.resolved_webhook_base_url(),
        engine=engine,
        evaluation_interval_s=settings.evaluation_interval_s,
        reconcile=ReconcileConfig(
            lost_grace_s=settings.lost_grace_s,
            unhealthy_grace_s=settings.unhealthy_grace_s,
            silence_renew_s=settings.silence_renew_s,
            interval_s=settings.evaluation_interval_s,
        ),
    )
    return scaler, [http, lease]


def create_app(settings: ScalerSettings, runtime: ServiceRuntime | None = None) -> FastStream:
    """The FastStream app of the scaler service."""
    runtime = runtime or ServiceRuntime("scaler", settings)
    observed = ScalerMetrics(runtime.registry)
    runtime.bus.observe(observed.observe)
    late: Late[Store] = Late("the scaler's database")  # bound once the runtime opened the engine
    scaler, closables = create_scaler(settings, runtime, late.proxy(), observed)
    for router in build_routers(runtime.bus, scaler, alert_workers=settings.alert_workers, metrics=observed):
        runtime.include(router)
    http, lease = closables

    async def open_store() -> None:
        engine = runtime.require_engine()
        late.bind(SqlStore(engine))
        await scaler.start(
            settings.tick_interval_s,
            settings.orphan_sweep_s,
            leases=SqlLeases(engine, lease_table),
            lease_ttl_s=settings.singleton_ttl_s,
        )

    async def close() -> None:
        await scaler.stop()
        assert isinstance(http, httpx.AsyncClient) and isinstance(lease, RedisLease)
        await http.aclose()
        await lease.close()

    runtime.on_startup(open_store)
    runtime.background(
        lambda: observed.follow(scaler.views.groups, scaler.views.pools, settings.capacity_metrics_interval_s)
    )
    runtime.on_shutdown(close)
    assert isinstance(lease, RedisLease)
    runtime.add_check("redis", lease.ping)
    return runtime.app()
