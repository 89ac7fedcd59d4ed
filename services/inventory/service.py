"""The inventory service's parts wired together: cache, watcher, lifecycle, queries."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from services.inventory.cache import InventoryCache
from services.inventory.claims import OperationClaims
from services.inventory.context import Publish, Timeouts
from services.inventory.lifecycle import Lifecycle
from services.inventory.ports import InventoryReader, OperationStore, VmProvisioner
from services.inventory.queries import InventoryQueries
from services.inventory.watcher import Watcher
from shared.loops import every
from shared.singleton import Leases, Singleton
from shared.telemetry import get_logger

__all__ = ["InventoryService"]

log = get_logger(__name__)


class InventoryService:
    """Everything the handlers call; ``start`` after the store exists, ``stop`` on the way out."""

    def __init__(
        self,
        reader: InventoryReader,
        provisioner: VmProvisioner,
        publish: Publish,
        *,
        timeouts: Timeouts | None = None,
        wait_s: int = 5,
        backoff_s: float = 2.0,
        resync_s: float = 600.0,
        page_size: int = 1000,
    ) -> None:
        self.cache = InventoryCache()
        self.watcher = Watcher(reader, self.cache, wait_s=wait_s, backoff_s=backoff_s, resync_s=resync_s)
        self._reader = reader
        self._provisioner = provisioner
        self._publish = publish
        self._timeouts = timeouts
        self._page_size = page_size
        self._lifecycle: Lifecycle | None = None
        self._queries: InventoryQueries | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._orphan_lease: Singleton | None = None

    @property
    def lifecycle(self) -> Lifecycle:
        """The command side (exists once started)."""
        if self._lifecycle is None:
            raise RuntimeError("the inventory service has not started")
        return self._lifecycle

    @property
    def queries(self) -> InventoryQueries:
        """The query side (exists once started)."""
        if self._queries is None:
            raise RuntimeError("the inventory service has not started")
        return self._queries

    async def start(
        self,
        store: OperationStore,
        *,
        sync_timeout_s: float = 30.0,
        claims: OperationClaims | None = None,
        owner: str = "",
        leases: Leases | None = None,
        lease_ttl_s: float = 15.0,
    ) -> None:
        """Wire the store, start following vCenter, resume unfinished operations once synced.

        With ``claims`` (several replicas share the store) each operation runs on the replica
        that claims it, and every half claim TTL a pass takes over those a dead replica left.
        With ``leases`` too, that orphan pass runs on one replica at a time (the singleton lease
        ``orphan-pass``, ``lease_ttl_s``); each operation it starts is still claimed one by one.
        Every replica follows vCenter's change feed: it fills this replica's own cache, which
        answers the queries that reach this replica, and changes nothing shared.
        """
        self._orphan_lease = Singleton(leases, "orphan-pass", owner, lease_ttl_s, log=log) if leases else None
        self._lifecycle = Lifecycle(
            self._reader, self._provisioner, store, self.cache, self._publish, self._timeouts, claims, owner
        )
        self._queries = InventoryQueries(self.cache, store, self.watcher.status, self._page_size)
        self._tasks.append(asyncio.create_task(self.watcher.run(), name="inventory-watcher"))
        self._tasks.append(asyncio.create_task(self._resume_when_synced(sync_timeout_s), name="inventory-resume"))
        self._tasks.append(asyncio.create_task(self._republish_loop(), name="inventory-republish"))

    async def _republish_loop(self) -> None:
        """Every ``Timeouts.republish_s``: publish results a NATS blip held back (NATS or the
        database still down: the next pass retries)."""

        async def republish() -> None:
            sent = await self.lifecycle.republish_stored()
            if sent:
                log.info("re-published held results", count=sent)

        interval = self.lifecycle.timeouts.republish_s
        await every(interval, republish, name="re-publish pass", log=log, wait_first=True, level=logging.INFO)

    async def _resume_when_synced(self, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.watcher.synced.wait(), timeout_s)
        resumed = await self.lifecycle.resume()
        if resumed:
            log.info("resumed unfinished operations", count=resumed)
        if self.lifecycle.claims is not None:  # the database down: the next pass tries again
            interval = self.lifecycle.timeouts.claim_ttl_s / 2
            if self._orphan_lease is None:
                await every(interval, self.lifecycle.resume_orphans, name="orphan pass", log=log, wait_first=True)
            await self._orphan_lease.every(
                interval, self.lifecycle.resume_orphans, name="orphan pass", log=log, wait_first=True
            )

    async def stop(self) -> None:
        """Stop following vCenter and pause running operations (they resume at next start)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._lifecycle is not None:
            await self._lifecycle.cancel()

    async def health(self) -> str | None:
        """``None`` when vCenter answers, else what is wrong (for the health query)."""
        status = self.watcher.status
        if status.connected:
            return None
        return f"vCenter unreachable: {status.last_error or 'not connected yet'}"
