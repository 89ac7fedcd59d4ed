"""Use cases of the loadbalancer service: add (health-gated), drain, cancel, remove, resume.

Handlers call these and return at once; waiting (for health after an add, for connections to end
during a drain) runs in a background task per member, recorded in ``MemberRecords`` so a
restarted service resumes it. Every change ends with ``pool.updated`` carrying the full list.

Add: the driver adds the member disabled with health checks running; once the monitor reports
it up (or the pool has no monitor) it is enabled and ``pool.member_added`` is published; after
``timeout_s`` it stays disabled and ``pool.operation_failed`` says why. Drain: disable, wait
until connections reach 0 or the drain timeout (the command's, else the pool's, else 300 s),
force offline, then ``pool.member_drained`` with the final count and the time it took.
``cmd.pool.cancel_drain`` stops a drain and re-enables the member.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from services.loadbalancer.ports import PoolMembers
from services.loadbalancer.records import Desired, MemberRecord, MemberRecords
from shared import subjects
from shared.errors import NotFound, RetryableError, VmscaleError
from shared.messages import (
    AddPoolMember,
    CancelDrain,
    DrainCancelled,
    DrainPoolMember,
    MemberAdmin,
    MemberHealth,
    PoolMember,
    PoolMemberAdded,
    PoolMemberDrained,
    PoolMemberRemoved,
    PoolOperationFailed,
    PoolUpdated,
    RemovePoolMember,
    utcnow,
)
from shared.subjects import Subject
from shared.telemetry import get_logger

__all__ = ["EventSink", "Membership", "Timings"]

log = get_logger(__name__)
Key = tuple[str, str]


class EventSink(Protocol):
    """Where events go (the bus in the service, a list in unit tests)."""

    async def publish(self, subject: Subject[Any], message: Any) -> None:
        """Publish ``message`` on ``subject``."""
        ...


@dataclass(frozen=True)
class Timings:
    """Polling intervals and drain timeouts."""

    health_poll_s: float = 1.0
    drain_poll_s: float = 2.0
    drain_timeout_s: float = 300.0
    drain_timeouts: Mapping[str, float] = field(default_factory=dict)

    def drain_timeout(self, pool: str) -> float:
        """The pool's drain timeout."""
        return float(self.drain_timeouts.get(pool, self.drain_timeout_s))


def _envelope(record: MemberRecord) -> dict[str, Any]:
    return {"correlation_id": record.correlation_id, "causation_id": record.causation_id}


class Membership:
    """Pool membership as vmscale manages it."""

    def __init__(
        self,
        driver: PoolMembers,
        records: MemberRecords,
        events: EventSink,
        timings: Timings | None = None,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.driver = driver
        self.records = records
        self.events = events
        self.timings = timings or Timings()
        self._now = now
        self._tasks: dict[Key, tuple[str, asyncio.Task[None]]] = {}

    # -- commands ---------------------------------------------------------------------------

    async def add(self, cmd: AddPoolMember) -> None:
        """Add the member disabled, then enable it once healthy (in the background)."""
        key = (cmd.pool, cmd.name)
        if self._running(key) == "add":
            return  # a redelivered command: the wait is already under way
        await self._stop(key)
        await self.driver.add(cmd.pool, cmd.name, cmd.address, cmd.port)
        record = MemberRecord(
            cmd.pool, cmd.name, cmd.address, cmd.port, Desired.ADDING, self._now(), cmd.timeout_s,
            cmd.activity_id, cmd.correlation_id, str(cmd.message_id),
        )  # fmt: skip
        await self.records.put(record)
        if cmd.wait_healthy:
            self._spawn(key, "add", self._await_health(record))
        else:
            await self._activate(record)

    async def drain(self, cmd: DrainPoolMember) -> None:
        """Disable the member and wait (in the background) for its connections to end."""
        key = (cmd.pool, cmd.name)
        if self._running(key) == "drain":
            return
        await self._stop(key)
        member = await self._require(cmd.pool, cmd.name)
        timeout = cmd.timeout_s if "timeout_s" in cmd.model_fields_set else self.timings.drain_timeout(cmd.pool)
        if member.admin is MemberAdmin.ENABLED:
            await self.driver.disable(cmd.pool, cmd.name)
        record = MemberRecord(
            cmd.pool, cmd.name, member.address, member.port, Desired.DRAINING, self._now(), timeout,
            cmd.activity_id, cmd.correlation_id, str(cmd.message_id),
        )  # fmt: skip
        await self.records.put(record)
        await self._updated(cmd.pool, record)
        self._spawn(key, "drain", self._await_drain(record))

    async def cancel_drain(self, cmd: CancelDrain) -> None:
        """Stop a drain and re-enable the member (also when no drain is running)."""
        key = (cmd.pool, cmd.name)
        await self._stop(key)
        member = await self._require(cmd.pool, cmd.name)
        await self.driver.enable(cmd.pool, cmd.name)
        record = MemberRecord(
            cmd.pool, cmd.name, member.address, member.port, Desired.ACTIVE, self._now(), 0.0,
            cmd.activity_id, cmd.correlation_id, str(cmd.message_id),
        )  # fmt: skip
        await self.records.put(record)
        await self.events.publish(
            subjects.POOL_DRAIN_CANCELLED,
            DrainCancelled(activity_id=cmd.activity_id, pool=cmd.pool, name=cmd.name, **_envelope(record)),
        )
        await self._updated(cmd.pool, record)

    async def remove(self, cmd: RemovePoolMember) -> None:
        """Remove the member (a missing one is success) and forget its record."""
        key = (cmd.pool, cmd.name)
        await self._stop(key)
        await self.driver.remove(cmd.pool, cmd.name)
        await self.records.delete(cmd.pool, cmd.name)
        envelope = {"correlation_id": cmd.correlation_id, "causation_id": str(cmd.message_id)}
        await self.events.publish(
            subjects.POOL_MEMBER_REMOVED,
            PoolMemberRemoved(activity_id=cmd.activity_id, pool=cmd.pool, name=cmd.name, **envelope),
        )
        await self._updated(cmd.pool, None, envelope)

    async def resume(self) -> int:
        """Restart the waits of recorded adds and drains (after a restart); how many."""
        resumed = 0
        for record in await self.records.all():
            key = (record.pool, record.name)
            if self._running(key):
                continue
            if record.desired is Desired.ADDING:
                self._spawn(key, "add", self._await_health(record))
                resumed += 1
            elif record.desired is Desired.DRAINING:
                self._spawn(key, "drain", self._await_drain(record))
                resumed += 1
        return resumed

    async def wait_idle(self) -> None:
        """Wait until no background wait runs (tests, benchmarks, shutdown)."""
        while self._tasks:
            await asyncio.gather(*(task for _, task in list(self._tasks.values())), return_exceptions=True)

    async def close(self) -> None:
        """Cancel background waits; their records let the next start resume them."""
        for key in list(self._tasks):
            await self._stop(key)

    def running(self) -> dict[Key, str]:
        """Which members have a background wait, and of which kind."""
        return {key: kind for key, (kind, _) in self._tasks.items()}

    # -- background waits -------------------------------------------------------------------

    async def _await_health(self, record: MemberRecord) -> None:
        try:
            while True:
                member = await self._member_or_none(record)
                if member is None:
                    raise NotFound(f"member {record.name} vanished from pool {record.pool}", pool=record.pool)
                if member.health in (MemberHealth.UP, MemberHealth.UNCHECKED):
                    await self._activate(record)
                    return
                if self._elapsed(record) >= record.timeout_s:
                    await self.records.put(record.moved(Desired.FAILED, self._now()))
                    reason = f"not healthy after {record.timeout_s:g} s (health {member.health}); left disabled"
                    await self._failed(record, "add", reason, "OperationTimeout", retryable=True)
                    await self._updated(record.pool, record)
                    return
                await asyncio.sleep(self.timings.health_poll_s)
        except VmscaleError as exc:
            await self._failed(record, "add", str(exc), type(exc).__name__, retryable=exc.retryable)

    async def _await_drain(self, record: MemberRecord) -> None:
        try:
            connections = 0
            while True:
                member = await self._member_or_none(record)
                connections = member.connections if member else 0
                if member is None or connections == 0 or self._elapsed(record) >= record.timeout_s:
                    break
                await asyncio.sleep(self.timings.drain_poll_s)
            if member is not None:
                await self.driver.force_offline(record.pool, record.name)
            elapsed = round(self._elapsed(record), 3)
            await self.records.put(record.moved(Desired.DRAINED, self._now()))
            await self.events.publish(
                subjects.POOL_MEMBER_DRAINED,
                PoolMemberDrained(
                    activity_id=record.activity_id, pool=record.pool, name=record.name,
                    final_connections=connections, drain_seconds=elapsed, **_envelope(record),
                ),
            )  # fmt: skip
            await self._updated(record.pool, record)
        except VmscaleError as exc:
            await self._failed(record, "drain", str(exc), type(exc).__name__, retryable=exc.retryable)

    # -- internals --------------------------------------------------------------------------

    async def _activate(self, record: MemberRecord) -> None:
        await self.driver.enable(record.pool, record.name)
        await self.records.put(record.moved(Desired.ACTIVE, self._now()))
        member = await self._member_or_none(record)
        state = member.state if member else None
        await self.events.publish(
            subjects.POOL_MEMBER_ADDED,
            PoolMemberAdded(
                activity_id=record.activity_id, pool=record.pool, name=record.name, address=record.address,
                port=record.port, state=state or "unknown", **_envelope(record),
            ),
        )  # fmt: skip
        await self._updated(record.pool, record)

    async def _failed(self, record: MemberRecord, operation: str, reason: str, kind: str, *, retryable: bool) -> None:
        log.warning("pool operation failed", pool=record.pool, member=record.name, operation=operation, reason=reason)
        await self.events.publish(
            subjects.POOL_OPERATION_FAILED,
            PoolOperationFailed(
                activity_id=record.activity_id, pool=record.pool, name=record.name, operation=operation,
                reason=reason, error_kind=kind, retryable=retryable, **_envelope(record),
            ),
        )  # fmt: skip

    async def _updated(self, pool: str, record: MemberRecord | None, envelope: dict[str, Any] | None = None) -> None:
        try:
            members = await self.driver.members(pool)
        except VmscaleError as exc:
            log.warning("pool.updated skipped: cannot list members", pool=pool, error=str(exc))
            return
        extra = envelope if envelope is not None else (_envelope(record) if record else {})
        await self.events.publish(subjects.POOL_UPDATED, PoolUpdated(pool=pool, members=tuple(members), **extra))

    async def _member_or_none(self, record: MemberRecord) -> PoolMember | None:
        while True:
            try:
                members = await self.driver.members(record.pool)
                return next((m for m in members if m.name == record.name), None)
            except RetryableError as exc:  # the load balancer blinked: keep waiting
                log.info("waiting on the load balancer", pool=record.pool, error=str(exc))
                await asyncio.sleep(self.timings.health_poll_s)

    async def _require(self, pool: str, name: str) -> PoolMember:
        member = next((m for m in await self.driver.members(pool) if m.name == name), None)
        if member is None:
            raise NotFound(f"member {name} is not in pool {pool}", pool=pool, member=name)
        return member

    def _elapsed(self, record: MemberRecord) -> float:
        return (self._now() - record.since).total_seconds()

    def _running(self, key: Key) -> str | None:
        entry = self._tasks.get(key)
        return entry[0] if entry and not entry[1].done() else None

    def _spawn(self, key: Key, kind: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks[key] = (kind, task)

        def forget(done: asyncio.Task[None]) -> None:
            if self._tasks.get(key, (None, None))[1] is done:
                del self._tasks[key]
            if not done.cancelled() and done.exception() is not None:
                log.error("background pool wait crashed", pool=key[0], member=key[1], error=str(done.exception()))

        task.add_done_callback(forget)

    async def _stop(self, key: Key) -> None:
        entry = self._tasks.pop(key, None)
        if entry is not None and not entry[1].done():
            entry[1].cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await entry[1]
