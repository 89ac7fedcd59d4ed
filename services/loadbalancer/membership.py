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

Several replicas: with ``WaitClaims`` each wait runs on the replica that claims it (a lease per
member, ``wait:<pool>:<name>``, renewed while the wait runs, released at its end); a replica
that finds the claim held leaves the wait alone, so two replicas never resume the same wait,
and one whose renewal is refused (it stalled past the TTL) stops its wait at once. A dead
replica's waits are taken over by another replica's ``resume`` pass once their claims expire.

A command reaching a replica that does not hold the member's wait stores the member's new
record (or deletes it) as usual; a drain, a cancel and a remove store it before they touch the
load balancer. The holder's wait reads the stored record at every poll, before its next side
effect; once it is no longer the one it waits for (another desired state or another command's id)
it stops without publishing, so the result is published once, by the replica that handled the
command; a new add or drain record is waited for under the same claim. The wait's end is one
conditional write (``MemberRecords.advance``: only while the stored record is still the wait's):
a command stored during the holder's final load balancer call makes that write fail, and the
holder then applies the newer record's state to the member again (its own call may have landed
after the command's) and publishes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from services.loadbalancer.ports import PoolMembers
from services.loadbalancer.records import Desired, MemberRecord, MemberRecords
from services.loadbalancer.waits import EventSink, Key, Timings, WaitClaims
from shared import subjects
from shared.clock import Clock, SystemClock
from shared.errors import NotFound, RetryableError, VmscaleError
from shared.keyed_tasks import KeyedTasks
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
)
from shared.singleton import hold_claim
from shared.telemetry import get_logger

__all__ = ["EventSink", "Membership", "Timings", "WaitClaims"]

log = get_logger(__name__)


class _Superseded(Exception):
    """The member's stored record is no longer the one a wait runs for: a command (maybe
    handled by another replica) replaced it with ``by`` (``None``: removed)."""

    def __init__(self, by: MemberRecord | None) -> None:
        super().__init__("superseded")
        self.by = by


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
        clock: Clock | None = None,
        claims: WaitClaims | None = None,
    ) -> None:
        self.driver = driver
        self.claims = claims
        self._claimed: set[str] = set()
        self.records = records
        self.events = events
        self.timings = timings or Timings()
        self._clock = clock or SystemClock()
        self._waits: KeyedTasks[Key] = KeyedTasks("background pool wait", log)
        self._switched: dict[Key, str] = {}  # waits now running another kind (see _run_wait)

    # -- commands ---------------------------------------------------------------------------

    async def add(self, cmd: AddPoolMember) -> None:
        """Add the member disabled, then enable it once healthy (in the background)."""
        key = (cmd.pool, cmd.name)
        if self.running().get(key) == "add":
            return  # a redelivered command: the wait is already under way
        await self._waits.cancel(key)
        await self.driver.add(cmd.pool, cmd.name, cmd.address, cmd.port)
        record = MemberRecord(
            cmd.pool, cmd.name, cmd.address, cmd.port, Desired.ADDING, self._clock.now(), cmd.timeout_s,
            cmd.activity_id, cmd.correlation_id, str(cmd.message_id),
        )  # fmt: skip
        await self.records.put(record)
        if cmd.wait_healthy:
            await self._start_wait(key, record, "add")
            return
        try:
            await self._activate(record)
        except _Superseded:
            log.info("pool add superseded by a newer command", pool=cmd.pool, member=cmd.name)

    async def drain(self, cmd: DrainPoolMember) -> None:
        """Disable the member and wait (in the background) for its connections to end."""
        key = (cmd.pool, cmd.name)
        if self.running().get(key) == "drain":
            return
        await self._waits.cancel(key)
        member = await self._require(cmd.pool, cmd.name)
        timeout = cmd.timeout_s if "timeout_s" in cmd.model_fields_set else self.timings.drain_timeout(cmd.pool)
        record = MemberRecord(
            cmd.pool, cmd.name, member.address, member.port, Desired.DRAINING, self._clock.now(), timeout,
            cmd.activity_id, cmd.correlation_id, str(cmd.message_id),
        )  # fmt: skip
        await self.records.put(record)  # first: a wait on another replica stops
        if member.admin is MemberAdmin.ENABLED:
            await self.driver.disable(cmd.pool, cmd.name)
        await self._updated(cmd.pool, record)
        await self._start_wait(key, record, "drain")

    async def cancel_drain(self, cmd: CancelDrain) -> None:
        """Stop a drain and re-enable the member (also when no drain is running)."""
        key = (cmd.pool, cmd.name)
        await self._waits.cancel(key)
        member = await self._require(cmd.pool, cmd.name)
        record = MemberRecord(
            cmd.pool, cmd.name, member.address, member.port, Desired.ACTIVE, self._clock.now(), 0.0,
            cmd.activity_id, cmd.correlation_id, str(cmd.message_id),
        )  # fmt: skip
        await self.records.put(record)  # first: a wait on another replica stops
        await self.driver.enable(cmd.pool, cmd.name)
        await self.events.publish(
            subjects.POOL_DRAIN_CANCELLED,
            DrainCancelled(activity_id=cmd.activity_id, pool=cmd.pool, name=cmd.name, **_envelope(record)),
        )
        await self._updated(cmd.pool, record)

    async def remove(self, cmd: RemovePoolMember) -> None:
        """Remove the member (a missing one is success) and forget its record."""
        key = (cmd.pool, cmd.name)
        await self._waits.cancel(key)
        await self.records.delete(cmd.pool, cmd.name)  # first: a wait on another replica stops
        await self.driver.remove(cmd.pool, cmd.name)
        envelope = {"correlation_id": cmd.correlation_id, "causation_id": str(cmd.message_id)}
        await self.events.publish(
            subjects.POOL_MEMBER_REMOVED,
            PoolMemberRemoved(activity_id=cmd.activity_id, pool=cmd.pool, name=cmd.name, **envelope),
        )
        await self._updated(cmd.pool, None, envelope)

    async def resume(self) -> int:
        """Restart the waits of recorded adds and drains that no replica runs (at start, and in
        the periodic pass that takes over a dead replica's waits); how many started here."""
        resumed = 0
        for record in await self.records.all():
            key = (record.pool, record.name)
            if key in self._waits:
                continue
            if record.desired is Desired.ADDING:
                resumed += await self._start_wait(key, record, "add")
            elif record.desired is Desired.DRAINING:
                resumed += await self._start_wait(key, record, "drain")
        return resumed

    async def _start_wait(self, key: Key, record: MemberRecord, kind: str) -> bool:
        """Start the wait of ``kind`` for ``record`` here, unless another replica holds its claim."""
        wait = partial(self._run_wait, record)
        claims = self.claims
        if claims is None:
            self._waits.start(key, wait, kind=kind)
            return True
        name = claims.name(key)
        token = await asyncio.to_thread(claims.leases.acquire, name, claims.owner, claims.ttl_s)
        if token is None:
            log.debug("pool wait held by another replica", pool=record.pool, member=record.name, kind=kind)
            return False
        self._claimed.add(name)
        self._waits.start(key, partial(self._hold, name, token, wait), kind=kind)
        return True

    async def _hold(self, name: str, token: int, wait: Callable[[], Awaitable[None]]) -> None:
        assert self.claims is not None
        claims = self.claims
        try:
            await hold_claim(claims.leases, name, claims.owner, claims.ttl_s, token, wait, log=log)
        finally:
            self._claimed.discard(name)

    async def wait_idle(self) -> None:
        """Wait until no background wait runs (tests, benchmarks, shutdown)."""
        await self._waits.wait_idle()

    async def close(self) -> None:
        """Cancel background waits and give up their claims: another replica (or the next start)
        resumes them from their records."""
        await self._waits.close()
        if self.claims is not None:  # a wait cancelled before it began never released its claim
            for name in list(self._claimed):
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.claims.leases.release, name, self.claims.owner)
            self._claimed.clear()

    def running(self) -> dict[Key, str]:
        """Which members have a background wait, and of which kind."""
        return {key: self._switched.get(key, kind) for key, kind in self._waits.running().items()}

    # -- background waits -------------------------------------------------------------------

    async def _run_wait(self, record: MemberRecord) -> None:
        """Run the wait ``record`` asks for (health for an add, connections for a drain); when a
        command replaced the record meanwhile, stop, or run the wait the new record asks for."""
        current: MemberRecord | None = record
        key = (record.pool, record.name)
        try:
            while current is not None:
                wait = self._await_health if current.desired is Desired.ADDING else self._await_drain
                try:
                    await wait(current)
                    return
                except _Superseded as exc:
                    current = exc.by if exc.by and exc.by.desired in (Desired.ADDING, Desired.DRAINING) else None
                if current is not None:
                    self._switched[key] = "add" if current.desired is Desired.ADDING else "drain"
                log.info(
                    "pool wait superseded by a newer command", pool=record.pool, member=record.name,
                    next=current.desired.value if current else None,
                )  # fmt: skip
        finally:
            self._switched.pop(key, None)

    async def _stands(self, record: MemberRecord) -> bool:
        """Raise ``_Superseded`` when the stored record is no longer ``record``; False when the
        store does not answer (try at the next poll). Without claims, commands stop waits locally."""
        if self.claims is None:
            return True
        try:
            stored = await self.records.get(record.pool, record.name)
        except RetryableError as exc:
            log.info("cannot read the member record; waiting", pool=record.pool, error=str(exc))
            return False
        if stored is None or (stored.desired, stored.causation_id) != (record.desired, record.causation_id):
            raise _Superseded(stored)
        return True

    async def _await_health(self, record: MemberRecord) -> None:
        try:
            while True:
                member = await self._member_or_none(record)
                if not await self._stands(record):
                    await asyncio.sleep(self.timings.health_poll_s)
                    continue
                if member is None:
                    raise NotFound(f"member {record.name} vanished from pool {record.pool}", pool=record.pool)
                if member.health in (MemberHealth.UP, MemberHealth.UNCHECKED):
                    await self._activate(record)
                    return
                if self._elapsed(record) >= record.timeout_s:
                    await self._settle(record, Desired.FAILED)
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
                if await self._stands(record) and (
                    member is None or connections == 0 or self._elapsed(record) >= record.timeout_s
                ):
                    break
                await asyncio.sleep(self.timings.drain_poll_s)
            if member is not None:
                await self.driver.force_offline(record.pool, record.name)
            elapsed = round(self._elapsed(record), 3)
            await self._settle(record, Desired.DRAINED)
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

    async def _settle(self, record: MemberRecord, desired: Desired) -> None:
        """End ``record``'s wait in ``desired``: one conditional write. When another command's
        record was stored meanwhile, apply that record's state to the member again (this wait's
        last load balancer call may have landed after the command's) and raise ``_Superseded``."""
        if await self.records.advance(record, record.moved(desired, self._clock.now())):
            return
        stored = await self.records.get(record.pool, record.name)
        await self._reassert(record, stored)
        raise _Superseded(stored)

    async def _reassert(self, record: MemberRecord, stored: MemberRecord | None) -> None:
        """Bring the member back to what ``stored`` (the newer command's record) wants."""
        pool, name = record.pool, record.name
        try:
            if stored is None:
                await self.driver.remove(pool, name)
            elif stored.desired is Desired.ACTIVE:
                await self.driver.enable(pool, name)
            elif stored.desired is Desired.DRAINED:
                await self.driver.force_offline(pool, name)
            else:
                await self.driver.disable(pool, name)
        except VmscaleError as exc:  # the reconcile compares records with the pool and reports it
            log.warning("pool member not set back after a superseded wait", pool=pool, member=name, error=str(exc))

    async def _activate(self, record: MemberRecord) -> None:
        await self.driver.enable(record.pool, record.name)
        await self._settle(record, Desired.ACTIVE)
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
        return (self._clock.now() - record.since).total_seconds()
