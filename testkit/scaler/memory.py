"""Faithful in-memory versions of the scaler's ports other than the store (docs/architecture.md §4).

They keep real state, raise the same errors and honour the same idempotency as the real
adapters; clocks are injectable. The store is ``testkit.scaler.memory_store.MemoryStore``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from typing import Any

from services.scaler.domain.model import (
    HookSpec,
    MetricHistory,
    MetricPoint,
    MetricReading,
    ScalingGroup,
    TargetTrackingPolicy,
)
from services.scaler.ports import (
    Lease,
)
from shared.clock import Clock, SystemClock
from shared.errors import NotFound, OperationTimeout, PermanentError, ServiceUnavailable
from shared.messages import Message
from shared.subjects import Subject

__all__ = [
    "MemoryAddressProbe",
    "MemoryHealthProbe",
    "MemoryHooks",
    "MemoryLease",
    "MemoryMetrics",
    "MemoryPoolReader",
    "MemoryResourceChecker",
    "RecordingPublisher",
]


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
        self.loads: dict[str, dict[str, float]] = {}
        self.health: dict[str, dict[str, bool]] = {}
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

    async def instance_loads(self, group: ScalingGroup) -> dict[str, float]:
        """The per-address loads set in ``loads`` for the group; {} while ``down``."""
        return {} if self.down else dict(self.loads.get(group.name, {}))

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

    async def target_health(self, job: str) -> dict[str, bool]:
        """The per-address health set in ``health`` for the job."""
        if self.down:
            raise ServiceUnavailable("Prometheus unreachable")
        return dict(self.health.get(job, {}))


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
        self.checkpoints: list[str | None] = []
        """The checkpoint each run was given (None: a fresh run)."""
        self.hand_out: str | None = None
        """When set, a fresh run hands this to ``on_checkpoint`` (as Jenkins' queue item URL)."""

    async def run(
        self,
        spec: HookSpec,
        context: dict[str, str],
        *,
        checkpoint: str | None = None,
        on_checkpoint: Callable[[str], Awaitable[None]] | None = None,
    ) -> str:
        """Record the run; raise ``PermanentError`` for a failing target."""
        self.runs.append((spec, dict(context)))
        self.checkpoints.append(checkpoint)
        if checkpoint is None and self.hand_out is not None and on_checkpoint is not None:
            await on_checkpoint(self.hand_out)
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
