"""Composition root of the loadbalancer service: build everything from settings, connect nothing.

The driver is built here; member records need the database, which exists once the runtime has
migrated it, so they are bound in the start hook — which then resumes the waits of adds and
drains that were under way when the service last stopped, and starts the reconcile loop.
"""

from __future__ import annotations

import asyncio

from faststream import FastStream

from services.loadbalancer.adapters.sql import SqlRecords
from services.loadbalancer.drivers import build_driver
from services.loadbalancer.handlers import build_routers
from services.loadbalancer.membership import Membership, Timings
from services.loadbalancer.reconcile import Reconciler
from services.loadbalancer.records import MemberRecord
from services.loadbalancer.settings import LoadbalancerSettings
from shared.errors import VmscaleError
from shared.runtime import ServiceRuntime
from shared.telemetry import get_logger

__all__ = ["DeferredRecords", "create_app"]

log = get_logger(__name__)


class DeferredRecords:
    """``MemberRecords`` bound to the database once the runtime has started."""

    def __init__(self) -> None:
        self.inner: SqlRecords | None = None

    def _records(self) -> SqlRecords:
        if self.inner is None:
            raise RuntimeError("member records are available once the service has started")
        return self.inner

    async def get(self, pool: str, name: str) -> MemberRecord | None:
        """See ``MemberRecords.get``."""
        return await self._records().get(pool, name)

    async def put(self, record: MemberRecord) -> None:
        """See ``MemberRecords.put``."""
        await self._records().put(record)

    async def delete(self, pool: str, name: str) -> None:
        """See ``MemberRecords.delete``."""
        await self._records().delete(pool, name)

    async def all(self) -> list[MemberRecord]:
        """See ``MemberRecords.all``."""
        return await self._records().all()


def create_app(settings: LoadbalancerSettings, runtime: ServiceRuntime | None = None) -> FastStream:
    """The FastStream app of the loadbalancer service."""
    runtime = runtime or ServiceRuntime("loadbalancer", settings)
    driver, close_driver = build_driver(settings)
    records = DeferredRecords()
    timings = Timings(
        health_poll_s=settings.health_poll_s,
        drain_poll_s=settings.drain_poll_s,
        drain_timeout_s=settings.drain_timeout_s,
        drain_timeouts=settings.drain_timeouts,
    )
    membership = Membership(driver, records, runtime.bus, timings)
    reconciler = Reconciler(membership, repair=settings.reconcile_repair)
    for router in build_routers(runtime.bus, membership):
        runtime.include(router)

    async def start() -> None:
        records.inner = SqlRecords(runtime.require_engine())
        resumed = await membership.resume()
        if resumed:
            log.info("resumed pool waits", count=resumed)

    async def reconcile_loop() -> None:
        while True:
            await asyncio.sleep(settings.reconcile_interval_s)
            try:
                await reconciler.run_once()
            except VmscaleError as exc:
                log.warning("reconcile failed", error=str(exc))
            except Exception:  # the next round still comes: a dead loop would stop reconciling silently
                log.exception("reconcile failed unexpectedly")

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
    if settings.reconcile_interval_s > 0:
        runtime.background(reconcile_loop)
    runtime.add_check(settings.lb_driver, check_driver, critical=False)
    runtime.on_shutdown(stop)
    return runtime.app()
