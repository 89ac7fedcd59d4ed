"""Composition root of the loadbalancer service: build everything from settings, connect nothing.

The driver is built here; member records and stored results need the database, which exists
once the runtime has migrated it, so they are bound in the start hook — which then publishes
the results an earlier process stored but could not publish (``ResultOutbox``), resumes the
waits of adds and drains that were under way when the service last stopped, and starts the
reconcile loop. The outbox's re-publish pass runs every ``republish_interval_s``.

Several replicas share the database: each health or drain wait is claimed by the replica that
runs it (``WaitClaims``, ``wait_claim_ttl_s``), a pass every half of that TTL resumes the waits a
dead replica left, and the reconcile loop runs on one replica at a time (the singleton lease
``reconcile``, ``singleton_ttl_s``).
"""

from __future__ import annotations

from faststream import FastStream

from services.loadbalancer.adapters.sql import SqlRecords
from services.loadbalancer.adapters.sql_results import SqlResults
from services.loadbalancer.adapters.tables import leases as lease_table
from services.loadbalancer.drivers import build_driver
from services.loadbalancer.handlers import build_routers
from services.loadbalancer.membership import Membership, Timings, WaitClaims
from services.loadbalancer.outbox import ResultOutbox, ResultStore
from services.loadbalancer.reconcile import Reconciler
from services.loadbalancer.records import MemberRecords
from services.loadbalancer.settings import LoadbalancerSettings
from shared.errors import VmscaleError
from shared.late import Late
from shared.loops import every
from shared.runtime import ServiceRuntime
from shared.singleton import Leases, Singleton
from shared.singleton_sql import SqlLeases
from shared.telemetry import get_logger

__all__ = ["create_app"]

log = get_logger(__name__)


def create_app(settings: LoadbalancerSettings, runtime: ServiceRuntime | None = None) -> FastStream:
    """The FastStream app of the loadbalancer service."""
    runtime = runtime or ServiceRuntime("loadbalancer", settings)
    driver, close_driver = build_driver(settings)
    records: Late[MemberRecords] = Late("member records")
    stored: Late[ResultStore] = Late("stored results")
    timings = Timings(
        health_poll_s=settings.health_poll_s,
        drain_poll_s=settings.drain_poll_s,
        drain_timeout_s=settings.drain_timeout_s,
        drain_timeouts=settings.drain_timeouts,
    )
    # results are stored before they are published: a NATS blip delays them, a crash loses none
    outbox = ResultOutbox(stored.proxy(), runtime.bus.publish)
    leases: Late[Leases] = Late("leases")
    claims = WaitClaims(leases.proxy(), runtime.instance, settings.wait_claim_ttl_s)
    membership = Membership(driver, records.proxy(), outbox, timings, claims=claims)
    singleton = Singleton(leases.proxy(), "reconcile", runtime.instance, settings.singleton_ttl_s, log=log)
    reconciler = Reconciler(membership, repair=settings.reconcile_repair, fence=singleton.check)
    for router in build_routers(runtime.bus, membership):
        runtime.include(router)

    async def start() -> None:
        engine = runtime.require_engine()
        records.bind(SqlRecords(engine))
        stored.bind(SqlResults(engine))
        leases.bind(SqlLeases(engine, lease_table))
        try:
            sent = await outbox.flush()
        except VmscaleError as exc:  # NATS or the database blinked: the re-publish pass retries
            log.warning("stored results not re-published at start", error=str(exc))
        else:
            if sent:
                log.info("re-published results stored before the restart", count=sent)
        resumed = await membership.resume()
        if resumed:
            log.info("resumed pool waits", count=resumed)

    async def resume_pass() -> None:
        resumed = await membership.resume()
        if resumed:
            log.info("resumed pool waits another replica left", count=resumed)

    async def check_driver() -> str | None:
        try:
            await driver.pools()
        except VmscaleError as exc:
            return f"{settings.lb_driver}: {exc}"
        return None

    async def stop() -> None:
        await membership.close()
        await close_driver()

    runtime.on_startup(start)
    runtime.background(lambda: outbox.run(settings.republish_interval_s))
    every_half_ttl = settings.wait_claim_ttl_s / 2
    runtime.background(lambda: every(every_half_ttl, resume_pass, name="wait resume pass", log=log, wait_first=True))
    if settings.reconcile_interval_s > 0:
        interval = settings.reconcile_interval_s
        runtime.background(
            lambda: singleton.every(interval, reconciler.run_once, name="reconcile", log=log, wait_first=True)
        )
    runtime.add_check(settings.lb_driver, check_driver, critical=False)
    runtime.on_shutdown(stop)
    return runtime.app()
