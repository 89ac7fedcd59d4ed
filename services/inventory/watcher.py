"""Keeps the cache in step with vCenter: cold sync, then the change feed, healing on errors.

The change feed carries every change, removals included, within one round trip; a full
resync every ``resync_s`` (and whenever the feed restarts) is only the safety net that bounds
how long anything the feed might miss can stay wrong. Tracks the connection status the status
query reports (connected, last success, consecutive failures, vCenter version).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from services.inventory.cache import InventoryCache
from services.inventory.ports import InventoryReader
from shared.loops import Backoff, every
from shared.messages import utcnow
from shared.telemetry import get_logger

__all__ = ["ConnectionStatus", "Watcher"]

log = get_logger(__name__)


@dataclass
class ConnectionStatus:
    """What the service knows about its vCenter connection."""

    connected: bool = False
    vcenter: str | None = None
    last_success: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None


def _settle() -> None:
    """Move the (large, long-lived, acyclic) inventory out of the cyclic GC's way.

    Without this a full collection walks every cached VM and stalls queries for hundreds of
    milliseconds; frozen objects are still freed by reference counting when replaced.
    """
    gc.freeze()


class Watcher:
    """Runs the read side: one snapshot, then ``changes`` in a loop, all in worker threads."""

    def __init__(
        self,
        reader: InventoryReader,
        cache: InventoryCache,
        *,
        wait_s: int = 5,
        backoff_s: float = 2.0,
        resync_s: float = 600.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reader = reader
        self.cache = cache
        self.status = ConnectionStatus()
        self._wait_s = wait_s
        self._backoff = Backoff(base_s=backoff_s, max_s=30.0)
        self._resync_s = resync_s
        self._monotonic = monotonic
        self._full_at: float | None = None
        """When the cache was last made the full picture (``monotonic``)."""
        self.synced = asyncio.Event()

    def _ok(self) -> None:
        self.status.connected = True
        self.status.last_success = utcnow()
        self.status.consecutive_failures = 0
        self.status.last_error = None

    def _failed(self, exc: Exception) -> None:
        self.status.connected = False
        self.status.consecutive_failures += 1
        self.status.last_error = str(exc) or type(exc).__name__

    def _resync_due(self) -> bool:
        return self._full_at is None or self._monotonic() - self._full_at >= self._resync_s

    async def sync(self) -> None:
        """One full read into the cache (the cold sync, and the periodic resync)."""
        cold = not self.cache.synced
        snapshot = await asyncio.to_thread(self.reader.snapshot)
        changed, removed = self.cache.replace(snapshot.vms, snapshot.objects)
        self._full_at = self._monotonic()
        _settle()
        self.status.vcenter = await asyncio.to_thread(self.reader.about)
        self._ok()
        self.synced.set()
        if cold:
            log.info("inventory synced", vms=len(snapshot.vms), revision=self.cache.revision)
        elif changed or removed:  # changes between the last feed answer and now, or ones it missed
            log.info("periodic resync corrected the cache", changed=changed, removed=removed)

    async def step(self) -> None:
        """One round: the (re)sync when due, else one answer of the change feed into the cache."""
        try:
            if self._resync_due():
                await self.sync()
                return
            batch = await asyncio.to_thread(self.reader.changes, self._wait_s)
            self.cache.apply(batch)
            if batch.full:
                self._full_at = self._monotonic()
                _settle()
            self._ok()
        except Exception as exc:  # recorded for the status query; ``every`` logs it and backs off
            self._failed(exc)
            raise

    async def run(self) -> NoReturn:
        """Sync, then follow changes until cancelled; errors back off and heal (a dead watch
        would freeze the cache)."""
        await every(0, self.step, name="vCenter read", log=log, backoff=self._backoff)
