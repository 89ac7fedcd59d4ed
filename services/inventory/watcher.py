"""Keeps the cache in step with vCenter: cold sync, then the change feed, healing on errors.

Tracks the connection status the status query reports (connected, last success, consecutive
failures, vCenter version).
"""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass
from datetime import datetime

from services.inventory.cache import InventoryCache
from services.inventory.ports import InventoryReader
from shared.errors import VmscaleError
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
        self, reader: InventoryReader, cache: InventoryCache, *, wait_s: int = 5, backoff_s: float = 2.0
    ) -> None:
        self.reader = reader
        self.cache = cache
        self.status = ConnectionStatus()
        self._wait_s = wait_s
        self._backoff_s = backoff_s
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
        if isinstance(exc, VmscaleError):
            log.warning("vCenter read failed", error=str(exc), failures=self.status.consecutive_failures)
        else:  # not translated into ours: a bug to fix, with its traceback, but the watch goes on
            log.exception("vCenter read failed unexpectedly", failures=self.status.consecutive_failures)

    async def sync(self) -> None:
        """One full read into the cache (the cold sync)."""
        snapshot = await asyncio.to_thread(self.reader.snapshot)
        self.cache.replace(snapshot.vms, snapshot.objects)
        _settle()
        self.status.vcenter = await asyncio.to_thread(self.reader.about)
        self._ok()
        self.synced.set()
        log.info("inventory synced", vms=len(snapshot.vms), revision=self.cache.revision)

    async def run(self) -> None:
        """Sync, then follow changes until cancelled; errors back off and heal."""
        while True:
            try:
                if not self.cache.synced:
                    await self.sync()
                batch = await asyncio.to_thread(self.reader.changes, self._wait_s)
                self.cache.apply(batch)
                if batch.full:
                    _settle()
                self._ok()
            except Exception as exc:  # any failure backs off and heals; a dead watch would freeze the cache
                self._failed(exc)
                await asyncio.sleep(min(self._backoff_s * self.status.consecutive_failures, 30.0))
