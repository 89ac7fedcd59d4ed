"""The outbox relay: publishes what transactions recorded, after they commit.

At least once: a crash between publishing and marking re-publishes with the same message id,
which JetStream's duplicate window drops and idempotent consumers ignore (docs/architecture.md §5).
Each entry is published in the trace context stored with it, so a trace goes on through the
outbox whenever the message leaves.
"""

from __future__ import annotations

import asyncio

from services.scaler.ports import CommandPublisher, OutboxEntry, Store, UnitOfWork
from shared import subjects
from shared.clock import Clock
from shared.errors import RetryableError
from shared.loops import every
from shared.telemetry import get_logger, restored_trace_context

__all__ = ["OutboxRelay"]

log = get_logger(__name__)

SENT_MEMORY = 10_000
"""How many published ids the relay remembers to avoid publishing one twice itself."""


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
        self._sent: dict[str, None] = {}
        """Ids this relay published lately (oldest first, at most ``SENT_MEMORY``): a pending read
        that raced with their marking does not publish them again."""
        self.published = 0

    def _skip(self, entry: OutboxEntry) -> bool:
        return entry.id in self._inflight or entry.id in self._sent

    def _remember(self, ids: list[str]) -> None:
        for entry_id in ids:
            self._sent[entry_id] = None
        while len(self._sent) > SENT_MEMORY:
            del self._sent[next(iter(self._sent))]

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
        the message id makes the second a duplicate that JetStream drops."""
        if not entries:
            return
        # Claim each entry (single-threaded: check and add are one step): an entry the relay loop
        # is publishing is left to it, and ours stay claimed until marked, so the loop never
        # reads one as pending between our publish and our mark (a second publish, which
        # JetStream drops but the metrics taken from published events would count twice).
        ordered = [e for e in sorted(entries, key=lambda e: not e.subject.startswith("cmd.")) if not self._skip(e)]
        ids = {e.id for e in ordered}
        self._inflight |= ids
        done: list[str] = []
        try:
            try:
                for entry in ordered:
                    await self._publish(entry)
                    done.append(entry.id)
            except RetryableError as exc:
                log.warning("publishing after commit failed; the relay loop will retry", error=str(exc))
                self.kick()
            if done:
                self.published += len(done)
                self._remember(done)
                try:
                    await self._mark(done)
                except RetryableError as exc:  # published but not marked: the loop re-publishes (deduped)
                    log.warning("marking published entries failed", error=str(exc))
        finally:
            self._inflight -= ids

    async def flush(self) -> int:
        """Publish every pending entry (commands of a batch before its events); returns how
        many were published. Stops at the first publish failure (the rest waits)."""
        async with self._lock:
            total = 0
            while True:
                entries: list[OutboxEntry] = await self._store.transaction(lambda uow: uow.outbox.pending(self._batch))
                sent = [e.id for e in entries if e.id in self._sent and e.id not in self._inflight]
                if sent:  # published here already, their mark failed or raced with this read
                    await self._mark(sent)
                entries = [e for e in entries if not self._skip(e)]
                if not entries:
                    return total
                done: list[str] = []
                # Commands first: they are what the saga waits on; events only inform.
                entries = sorted(entries, key=lambda e: not e.subject.startswith("cmd."))
                claimed = {e.id for e in entries}
                self._inflight |= claimed  # publish_committed leaves these to us until marked
                try:
                    for entry in entries:
                        await self._publish(entry)
                        done.append(entry.id)
                finally:
                    try:
                        if done:
                            self._remember(done)
                            await self._mark(done)
                            total += len(done)
                            self.published += len(done)
                    finally:
                        self._inflight -= claimed
                if len(done) < len(entries):
                    return total

    async def _publish(self, entry: OutboxEntry) -> None:
        """Publish one entry in the trace it was recorded in: the relay loop runs outside every
        request's span, and a message sent after the commit must still continue the trace of
        the alert, reply or request that produced it."""
        subject = subjects.by_name(entry.subject)
        with restored_trace_context(entry.trace_context):
            await self._publisher.publish(subject, subject.model.model_validate_json(entry.payload))

    async def _mark(self, ids: list[str]) -> None:
        at = self._clock.now()

        def txn(uow: UnitOfWork) -> None:
            uow.outbox.mark_published(ids, at)

        await self._store.transaction(txn)

    async def run(self, interval_s: float = 1.0) -> None:
        """Flush whenever kicked, and every ``interval_s`` anyway (crash recovery), for the life
        of the service: a failed flush is logged and the next one comes (``shared.loops.every``)."""
        await every(interval_s, self.flush, name="outbox flush", log=log, wait_first=True, wake=self._wake)
