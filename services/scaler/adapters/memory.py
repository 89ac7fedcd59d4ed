"""Faithful in-memory versions of the scaler's ports (STYLE.md rule 12).

They keep real state, raise the same errors and honour the same idempotency as the real
adapters; clocks are injectable. ``MemoryStore`` gives real transactions: a function runs on a
copy of the state, which replaces the state only when the function returns.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from typing import Any, TypeVar

from services.scaler.domain.errors import ActivityRunning
from services.scaler.domain.model import (
    HookSpec,
    Instance,
    IpLease,
    IpPool,
    MetricHistory,
    MetricPoint,
    MetricReading,
    ScalingGroup,
    TargetTrackingPolicy,
)
from services.scaler.domain.saga import Activity
from services.scaler.ports import (
    AlertRecord,
    DecisionRecord,
    GroupRecord,
    Lease,
    OutboxEntry,
    UnitOfWork,
)
from shared.errors import NotFound, OperationTimeout, PermanentError, ServiceUnavailable
from shared.messages import Message
from shared.subjects import Subject
from shared.testing.clock import Clock, SystemClock

__all__ = [
    "MemoryAddressProbe",
    "MemoryHealthProbe",
    "MemoryHooks",
    "MemoryLease",
    "MemoryMetrics",
    "MemoryPoolReader",
    "MemoryResourceChecker",
    "MemoryStore",
    "RecordingPublisher",
]

T = TypeVar("T")


class _State:
    def __init__(self) -> None:
        self.groups: dict[str, GroupRecord] = {}
        self.instances: dict[tuple[str, str], Instance] = {}
        self.pools: dict[str, IpPool] = {}
        self.leases: dict[tuple[str, IPv4Address], IpLease] = {}
        self.activities: dict[str, Activity] = {}
        self.decisions: list[DecisionRecord] = []
        self.alerts: dict[tuple[str, str], AlertRecord] = {}
        self.outbox: dict[str, OutboxEntry] = {}
        self.inbox: set[str] = set()

    def copy(self) -> _State:
        other = _State()
        for name, value in vars(self).items():
            setattr(other, name, value.copy())
        return other


class _Groups:
    def __init__(self, state: _State) -> None:
        self._s = state

    def get(self, name: str, *, for_update: bool = False) -> GroupRecord | None:
        return self._s.groups.get(name)

    def all(self) -> list[GroupRecord]:
        return [self._s.groups[k] for k in sorted(self._s.groups)]

    def save(self, record: GroupRecord) -> None:
        self._s.groups[record.spec.name] = record

    def delete(self, name: str) -> None:
        self._s.groups.pop(name, None)


class _Instances:
    def __init__(self, state: _State) -> None:
        self._s = state

    def all(self, group: str | None = None) -> list[Instance]:
        found = [i for (g, _), i in self._s.instances.items() if group is None or g == group]
        return sorted(found, key=lambda i: (i.created_at, i.vm_name))

    def get(self, group: str, vm_name: str) -> Instance | None:
        return self._s.instances.get((group, vm_name))

    def save(self, instance: Instance) -> None:
        self._s.instances[(instance.group, instance.vm_name)] = instance

    def delete(self, group: str, vm_name: str) -> None:
        self._s.instances.pop((group, vm_name), None)


class _Pools:
    def __init__(self, state: _State) -> None:
        self._s = state

    def get(self, name: str) -> IpPool | None:
        return self._s.pools.get(name)

    def all(self) -> list[IpPool]:
        return [self._s.pools[k] for k in sorted(self._s.pools)]

    def save(self, pool: IpPool) -> None:
        self._s.pools[pool.name] = pool

    def delete(self, name: str) -> None:
        self._s.pools.pop(name, None)
        for key in [k for k, v in self._s.leases.items() if k[0] == name and v.state == "released"]:
            del self._s.leases[key]

    def leases(self, pool: str, *, for_update: bool = False) -> list[IpLease]:
        return sorted((v for (p, _), v in self._s.leases.items() if p == pool), key=lambda v: int(v.address))

    def save_lease(self, lease: IpLease) -> None:
        self._s.leases[(lease.pool, lease.address)] = lease


class _Activities:
    def __init__(self, state: _State) -> None:
        self._s = state

    def get(self, activity_id: str, *, for_update: bool = False) -> Activity | None:
        return self._s.activities.get(activity_id)

    def active(self, group: str | None = None) -> list[Activity]:
        return sorted(
            (a for a in self._s.activities.values() if not a.status.terminal and (group is None or a.group == group)),
            key=lambda a: a.created_at,
        )

    def recent(self, group: str | None = None, status: str | None = None, limit: int = 50) -> list[Activity]:
        found = [
            a
            for a in self._s.activities.values()
            if (group is None or a.group == group) and (status is None or a.status == status)
        ]
        return sorted(found, key=lambda a: (a.created_at, a.id), reverse=True)[:limit]

    def save(self, activity: Activity) -> None:
        if not activity.status.terminal:
            for other in self.active(activity.group):
                if other.id != activity.id:
                    raise ActivityRunning(f"group {activity.group} already runs {other.id}", group=activity.group)
        self._s.activities[activity.id] = activity


class _Decisions:
    def __init__(self, state: _State) -> None:
        self._s = state

    def add(self, record: DecisionRecord) -> None:
        self._s.decisions = [*self._s.decisions, record]

    def find(
        self,
        group: str | None = None,
        allowed: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[DecisionRecord]:
        found = [
            d
            for d in self._s.decisions
            if (group is None or d.group == group)
            and (allowed is None or d.allowed == allowed)
            and (since is None or d.at >= since)
            and (until is None or d.at <= until)
        ]
        return sorted(found, key=lambda d: d.at, reverse=True)[:limit]


class _Alerts:
    def __init__(self, state: _State) -> None:
        self._s = state

    def get(self, group: str, fingerprint: str) -> AlertRecord | None:
        return self._s.alerts.get((group, fingerprint))

    def save(self, record: AlertRecord) -> None:
        self._s.alerts[(record.group, record.fingerprint)] = record

    def firing(self, group: str | None = None) -> list[AlertRecord]:
        return [a for (g, _), a in self._s.alerts.items() if a.resolved_at is None and (group is None or g == group)]


class _Outbox:
    def __init__(self, state: _State, clock: Clock) -> None:
        self._s = state
        self._clock = clock
        self._recorded: list[OutboxEntry] = []

    def add(self, subject: Subject[Any], message: Message) -> str:
        if not isinstance(message, subject.model):
            raise TypeError(f"{subject.name} carries {subject.model.__name__}")
        entry_id = str(message.message_id)
        if entry_id not in self._s.outbox:
            entry = OutboxEntry(
                id=entry_id, subject=subject.name, payload=message.model_dump_json(), created_at=self._clock.now()
            )
            self._s.outbox[entry_id] = entry
            self._recorded.append(entry)
        return entry_id

    def recorded(self) -> list[OutboxEntry]:
        return list(self._recorded)

    def pending(self, limit: int = 100) -> list[OutboxEntry]:
        waiting = [e for e in self._s.outbox.values() if e.published_at is None]
        return sorted(waiting, key=lambda e: e.created_at)[:limit]

    def mark_published(self, ids: list[str], at: datetime) -> None:
        for entry_id in ids:
            entry = self._s.outbox.get(entry_id)
            if entry is not None:
                self._s.outbox[entry_id] = entry.model_copy(update={"published_at": at})


class _Inbox:
    def __init__(self, state: _State) -> None:
        self._s = state

    def claim(self, message_id: str, subject: str) -> bool:
        if message_id in self._s.inbox:
            return False
        self._s.inbox.add(message_id)
        return True


class _MemoryUnitOfWork:
    def __init__(self, state: _State, clock: Clock) -> None:
        self.groups = _Groups(state)
        self.instances = _Instances(state)
        self.ip_pools = _Pools(state)
        self.activities = _Activities(state)
        self.decisions = _Decisions(state)
        self.alerts = _Alerts(state)
        self.outbox = _Outbox(state, clock)
        self.inbox = _Inbox(state)


class MemoryStore:
    """The ``Store`` port in memory: serialised transactions over copied state."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._state = _State()
        self._lock = threading.Lock()
        self._clock = clock or SystemClock()
        self.fail_next: Exception | None = None

    async def transaction(self, fn: Callable[[UnitOfWork], T]) -> T:
        """Run ``fn`` on a copy of the state; keep the copy only if ``fn`` returns."""
        with self._lock:
            if self.fail_next is not None:
                error, self.fail_next = self.fail_next, None
                raise error
            work = self._state.copy()
            result = fn(_MemoryUnitOfWork(work, self._clock))
            self._state = work
            return result


class MemoryLease:
    """The ``GroupLease`` port in memory, with expiry on an injectable clock."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._held: dict[str, tuple[Lease, datetime]] = {}
        self._fence: dict[str, int] = {}
        self.down = False

    def flush(self) -> None:
        """Forget every lease and counter, as a restarted Redis without persistence does."""
        self._held.clear()
        self._fence.clear()

    def _live(self, group: str) -> Lease | None:
        if self.down:
            raise ServiceUnavailable("lease store down", group=group)
        entry = self._held.get(group)
        if entry is None or entry[1] <= self._clock.now():
            self._held.pop(group, None)
            return None
        return entry[0]

    async def acquire(self, group: str, owner: str, ttl_s: float, floor: int = 0) -> Lease | None:
        """Take the lease if free; a new holder gets a token larger than any before and ``floor``."""
        if self._live(group) is not None:
            return None
        token = max(self._fence.get(group, 0), floor) + 1
        self._fence[group] = token
        lease = Lease(group=group, owner=owner, token=token)
        self._held[group] = (lease, self._clock.now() + timedelta(seconds=ttl_s))
        return lease

    async def extend(self, lease: Lease, ttl_s: float) -> bool:
        """Renew when still held with this token."""
        if self._live(lease.group) != lease:
            return False
        self._held[lease.group] = (lease, self._clock.now() + timedelta(seconds=ttl_s))
        return True

    async def release(self, lease: Lease) -> bool:
        """Give up when still held with this token."""
        if self._live(lease.group) != lease:
            return False
        del self._held[lease.group]
        return True

    async def holder(self, group: str) -> Lease | None:
        """The current holder, or None."""
        return self._live(group)


class MemoryMetrics:
    """The ``MetricsQuery`` port in memory: values set by the test, per group.

    Without a clock a value set holds for all time, past included (the window of every rule
    is full of it); with one, it holds from the moment it was set, so ``history`` shows the
    change where it happened, as Prometheus would.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.cpu: dict[str, float] = {}
        self.memory: dict[str, float] = {}
        self.values: dict[str, float] = {}
        self.jobs: dict[str, int] = {}
        self.down = False
        self._clock = clock
        self._changes: dict[str, list[tuple[datetime, float, float]]] = {}

    def set(self, group: str, cpu: float, memory: float, value: float | None = None) -> None:
        """Set what Prometheus would say about the group (from now on, with a clock)."""
        self.cpu[group] = cpu
        self.memory[group] = memory
        if value is not None:
            self.values[group] = value
        since = self._clock.now() if self._clock is not None else datetime.min.replace(tzinfo=UTC)
        changes = [c for c in self._changes.get(group, []) if c[0] < since]
        self._changes[group] = [*changes, (since, cpu, memory)]

    async def history(self, group: ScalingGroup, start: datetime, end: datetime, step_s: float) -> MetricHistory:
        """The values set, at every step from ``start`` to ``end``; unavailable while ``down``."""
        if self.down:
            return MetricHistory(available=False, error="Prometheus unreachable", step_s=step_s)
        changes = self._changes.get(group.name, [])
        points = []
        at = start
        while at <= end:
            current = [c for c in changes if c[0] <= at]
            if current:
                points.append(MetricPoint(at=at, cpu=current[-1][1], memory=current[-1][2]))
            at += timedelta(seconds=step_s)
        return MetricHistory(available=True, points=tuple(points), step_s=step_s)

    async def read(self, group: ScalingGroup, policy: TargetTrackingPolicy | None = None) -> MetricReading:
        """The values set for the group; unavailable while ``down``."""
        if self.down:
            return MetricReading(available=False, error="Prometheus unreachable")
        return MetricReading(
            available=True,
            cpu=self.cpu.get(group.name),
            memory=self.memory.get(group.name),
            value=self.values.get(group.name),
            queries={"cpu": f"memory:{group.prometheus_job}"},
        )

    async def job_exists(self, job: str) -> bool:
        """True when the job was registered with ``jobs``."""
        if self.down:
            raise ServiceUnavailable("Prometheus unreachable")
        return job in self.jobs

    async def target_count(self, job: str) -> int:
        """The count registered for the job."""
        if self.down:
            raise ServiceUnavailable("Prometheus unreachable")
        return self.jobs.get(job, 0)


class MemoryAddressProbe:
    """``AddressProbe``: the addresses in ``answering`` are in use; every probe is recorded."""

    def __init__(self, answering: set[IPv4Address] | None = None) -> None:
        self.answering = answering if answering is not None else set()
        self.probed: list[IPv4Address] = []

    async def in_use(self, addresses: Sequence[IPv4Address]) -> set[IPv4Address]:
        self.probed.extend(addresses)
        return {a for a in addresses if a in self.answering}


class MemoryPoolReader:
    """``PoolReader`` over a dict of pool → ``(name, address)`` members; ``down`` fails reads."""

    def __init__(self, pools: dict[str, list[tuple[str, str]]] | None = None) -> None:
        self.pools = pools if pools is not None else {}
        self.down = False

    async def members(self, pool: str) -> list[tuple[str, str]]:
        if self.down:
            raise ServiceUnavailable("load balancer not reachable")
        if pool not in self.pools:
            raise NotFound(f"load-balancer pool {pool!r} does not exist")
        return list(self.pools[pool])


class MemoryHealthProbe:
    """The ``HealthProbe`` port in memory: healthy URLs (or a predicate) decide."""

    def __init__(self, healthy: Callable[[str], bool] | None = None) -> None:
        self.healthy = healthy or (lambda url: True)
        self.probed: list[str] = []

    async def wait_healthy(self, url: str, timeout_s: float) -> None:
        """Succeed at once when healthy; otherwise time out (without sleeping)."""
        self.probed.append(url)
        await asyncio.sleep(0)
        if not self.healthy(url):
            raise OperationTimeout("health check timed out", url=url)


class MemoryHooks:
    """The ``LifecycleHook`` port in memory: records runs, fails targets listed in ``failing``."""

    def __init__(self) -> None:
        self.runs: list[tuple[HookSpec, dict[str, str]]] = []
        self.failing: set[str] = set()

    async def run(self, spec: HookSpec, context: dict[str, str]) -> str:
        """Record the run; raise ``PermanentError`` for a failing target."""
        self.runs.append((spec, dict(context)))
        await asyncio.sleep(0)
        if spec.target in self.failing:
            raise PermanentError(f"hook {spec.target} failed", hook=spec.target)
        return f"{spec.kind}:{spec.target} SUCCESS"


class MemoryResourceChecker:
    """The ``ResourceChecker`` port in memory: names of things that exist."""

    def __init__(
        self, jobs: set[str] | None = None, templates: set[str] | None = None, pools: set[str] | None = None
    ) -> None:
        self.jobs = jobs if jobs is not None else set()
        self.templates = templates if templates is not None else set()
        self.pools = pools if pools is not None else set()

    async def missing(self, group: ScalingGroup) -> list[str]:
        """What of the group's job, template and pool is not registered here."""
        out = []
        if group.prometheus_job not in self.jobs:
            out.append(f"Prometheus job {group.prometheus_job!r} does not exist")
        if group.template not in self.templates:
            out.append(f"template {group.template!r} does not exist")
        if group.pool not in self.pools:
            out.append(f"load-balancer pool {group.pool!r} does not exist")
        return out


class RecordingPublisher:
    """The ``CommandPublisher`` port in memory: records, then hands each message to listeners."""

    def __init__(self) -> None:
        self.published: list[tuple[str, Message]] = []
        self.listeners: list[Callable[[Subject[Any], Message], Any]] = []
        self.down = False
        self._seen: set[str] = set()

    async def publish(self, subject: Subject[Any], message: Message) -> None:
        """Record (once per message id, like JetStream's window) and notify listeners."""
        if self.down:
            raise ServiceUnavailable("NATS is unavailable", subject=subject.name)
        if not isinstance(message, subject.model):
            raise TypeError(f"{subject.name} carries {subject.model.__name__}")
        key = str(message.message_id)
        if key in self._seen:
            return
        self._seen.add(key)
        self.published.append((subject.name, message))
        for listener in list(self.listeners):
            result = listener(subject, message)
            if asyncio.iscoroutine(result):
                await result

    def of(self, subject: Subject[Any]) -> list[Any]:
        """Messages published on ``subject``."""
        return [m for name, m in self.published if name == subject.name]
