"""The outbox relay: publishes what transactions recorded, after they commit.

At least once: a crash between publishing and marking re-publishes with the same message id,
which JetStream's duplicate window drops and consumers' inboxes ignore (INTEGRATIONS.md B).
"""

from __future__ import annotations

import asyncio
import contextlib

from services.scaler.ports import CommandPublisher, OutboxEntry, Store, UnitOfWork
from shared import subjects
from shared.errors import RetryableError
from shared.telemetry import get_logger
from shared.testing.clock import Clock

__all__ = ["OutboxRelay"]

log = get_logger(__name__)


class OutboxRelay:
    """Publishes pending outbox entries in order; ``kick`` after a commit for low latency."""

    def __init__(self, store: Store, publisher: CommandPublisher, clock: Clock, batch: int = 200) -> None:
        self._store = store
        self._publisher = publisher
        self._clock = clock
        self._batch = batch
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._inflight: set[str] = set()
        self.published = 0

    def kick(self) -> None:
        """Ask the relay loop to flush now."""
        self._wake.set()

    async def flush_soon(self) -> None:
        """Publish what was just committed now (the caller's latency), else leave it to the loop."""
        try:
            await self.flush()
        except RetryableError as exc:
            log.warning("outbox publish failed; the relay loop will retry", error=str(exc))
            self.kick()

    async def publish_committed(self, entries: list[OutboxEntry]) -> None:
        """Publish what a transaction just committed (``Outbox.recorded``), commands first,
        without reading it back, then mark it published. A publish failure leaves the rest to
        the relay loop (kicked). The loop skips entries in flight here; should both publish one,
        the message id makes the second a duplicate that JetStream and inboxes drop."""
        if not entries:
            return
        ordered = sorted(entries, key=lambda e: not e.subject.startswith("cmd."))
        ids = {e.id for e in ordered}
        self._inflight |= ids
        done: list[str] = []
        try:
            for entry in ordered:
                subject = subjects.by_name(entry.subject)
                await self._publisher.publish(subject, subject.model.model_validate_json(entry.payload))
                done.append(entry.id)
        except RetryableError as exc:
            log.warning("publishing after commit failed; the relay loop will retry", error=str(exc))
            self.kick()
        finally:
            self._inflight -= ids
        if done:
            self.published += len(done)
            try:
                await self._mark(done)
            except RetryableError as exc:  # published but not marked: the loop re-publishes (deduped)
                log.warning("marking published entries failed", error=str(exc))

    async def flush(self) -> int:
        """Publish every pending entry (commands of a batch before its events); returns how
        many were published. Stops at the first publish failure (the rest waits)."""
        async with self._lock:
            total = 0
            while True:
                entries: list[OutboxEntry] = await self._store.transaction(lambda uow: uow.outbox.pending(self._batch))
                entries = [e for e in entries if e.id not in self._inflight]
                if not entries:
                    return total
                done: list[str] = []
                # Commands first: they are what the saga waits on; events only inform.
                entries = sorted(entries, key=lambda e: not e.subject.startswith("cmd."))
                try:
                    for entry in entries:
                        subject = subjects.by_name(entry.subject)
                        await self._publisher.publish(subject, subject.model.model_validate_json(entry.payload))
                        done.append(entry.id)
                finally:
                    if done:
                        await self._mark(done)
                        total += len(done)
                        self.published += len(done)
                if len(done) < len(entries):
                    return total

    async def _mark(self, ids: list[str]) -> None:
        at = self._clock.now()

        def txn(uow: UnitOfWork) -> None:
            uow.outbox.mark_published(ids, at)

        await self._store.transaction(txn)

    async def run(self, interval_s: float = 1.0) -> None:
        """Flush whenever kicked, and every ``interval_s`` anyway (crash recovery)."""
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval_s)
            self._wake.clear()
            try:
                await self.flush()
            except RetryableError as exc:
                log.warning("outbox flush failed; will retry", error=str(exc))
            except Exception:  # the relay must outlive any one failure, or nothing is published again
                log.exception("outbox flush failed unexpectedly; will retry")
