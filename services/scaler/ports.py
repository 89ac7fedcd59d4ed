"""The scaler's ports: persistence (repositories + unit of work) and the outside world.

Every Protocol has an in-memory fake in ``testkit/scaler/`` and a real adapter, both run by one contract suite
(``tests/contracts/scaler_*.py``). Repositories are synchronous, used only inside ``Store.transaction``: one
database transaction, all of it committed or none. IO to other systems never happens inside it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from ipaddress import IPv4Address
from typing import Any, Protocol, TypeVar

from services.scaler.domain.model import (
    HookSpec,
    Instance,
    IpLease,
    IpPool,
    MetricHistory,
    MetricReading,
    ScalingGroup,
    TargetTrackingPolicy,
)
from services.scaler.domain.saga import Activity
from services.scaler.records import AlertRecord, DecisionRecord, GroupRecord, Lease, OutboxEntry
from shared.messages import Message
from shared.subjects import Subject

__all__ = [
    "ActivityRepository",
    "AddressProbe",
    "AlertRecord",
    "AlertRepository",
    "At",
    "CommandPublisher",
    "DecisionLog",
    "DecisionRecord",
    "GroupLease",
    "GroupRecord",
    "GroupRepository",
    "HealthProbe",
    "Inbox",
    "InstanceRepository",
    "IpPoolRepository",
    "Lease",
    "LifecycleHook",
    "MetricsQuery",
    "Outbox",
    "OutboxEntry",
    "PoolReader",
    "ResourceChecker",
    "Store",
    "UnitOfWork",
]

T = TypeVar("T")
At = datetime | None


class GroupRepository(Protocol):
    """Scaling groups."""

    def get(self, name: str, *, for_update: bool = False) -> GroupRecord | None:
        """The group, or None. ``for_update`` locks its row until the transaction ends."""
        ...

    def all(self) -> list[GroupRecord]:
        """Every group, by name."""
        ...

    def save(self, record: GroupRecord) -> None:
        """Insert or replace the group (idempotent)."""
        ...

    def delete(self, name: str) -> None:
        """Remove the group; a missing group is no error."""
        ...


class InstanceRepository(Protocol):
    """Members of groups, the count every decision uses."""

    def all(self, group: str | None = None) -> list[Instance]:
        """Instances of ``group`` (every group when None), oldest first."""
        ...

    def get(self, group: str, vm_name: str) -> Instance | None:
        """One instance, or None."""
        ...

    def save(self, instance: Instance) -> None:
        """Insert or replace the instance (keyed by group and VM name)."""
        ...

    def delete(self, group: str, vm_name: str) -> None:
        """Forget the instance; a missing one is no error."""
        ...


class IpPoolRepository(Protocol):
    """IP pools and their leases."""

    def get(self, name: str) -> IpPool | None:
        """The pool, or None."""
        ...

    def all(self) -> list[IpPool]:
        """Every pool, by name."""
        ...

    def save(self, pool: IpPool) -> None:
        """Insert or replace the pool."""
        ...

    def delete(self, name: str) -> None:
        """Remove the pool and its released leases."""
        ...

    def leases(self, pool: str, *, for_update: bool = False) -> list[IpLease]:
        """Every lease of the pool (released ones too); ``for_update`` locks the pool itself until the
        transaction ends, so no other transaction can lease any of its addresses, even one without a row yet."""
        ...

    def save_lease(self, lease: IpLease) -> None:
        """Insert or replace the lease of ``(pool, address)``."""
        ...


class ActivityRepository(Protocol):
    """Activities (sagas)."""

    def get(self, activity_id: str, *, for_update: bool = False) -> Activity | None:
        """The activity, or None; ``for_update`` locks it until the transaction ends."""
        ...

    def active(self, group: str | None = None) -> list[Activity]:
        """Activities still running or compensating (of ``group``, or all)."""
        ...

    def recent(
        self, group: str | None = None, status: str | None = None, limit: int = 50, since: At = None, until: At = None
    ) -> list[Activity]:
        """Newest first, optionally filtered; ``since`` and ``until`` bound ``created_at``, inclusive."""
        ...

    def save(self, activity: Activity) -> None:
        """Insert or replace. Raises ``ActivityRunning`` when a second active one is inserted."""
        ...


class DecisionLog(Protocol):
    """Every decision, allowed or blocked."""

    def add(self, record: DecisionRecord) -> None:
        """Append a decision."""
        ...

    def find(
        self,
        group: str | None = None,
        allowed: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[DecisionRecord]:
        """Newest first, filtered."""
        ...


class AlertRepository(Protocol):
    """Alert episodes heard from the gateway."""

    def get(self, group: str, fingerprint: str) -> AlertRecord | None:
        """The episode, or None."""
        ...

    def save(self, record: AlertRecord) -> None:
        """Insert or replace by ``(group, fingerprint)``."""
        ...

    def firing(self, group: str | None = None) -> list[AlertRecord]:
        """Episodes not resolved yet."""
        ...


class Outbox(Protocol):
    """Messages to publish once the transaction that recorded them commits."""

    def add(self, subject: Subject[Any], message: Message) -> str:
        """Record ``message`` for ``subject`` with the current trace context (the relay publishes
        it in that trace); returns its id (the message id)."""
        ...

    def pending(self, limit: int = 100) -> list[OutboxEntry]:
        """Unpublished entries, oldest first."""
        ...

    def mark_published(self, ids: list[str], at: datetime) -> None:
        """Mark entries published (unknown ids are ignored)."""
        ...

    def recorded(self) -> list[OutboxEntry]:
        """The entries this transaction added that were not recorded before, in order: what its
        caller may publish right after the commit (``OutboxRelay.publish_committed``) instead of
        reading them back. Entries added after this call are left to the relay loop."""
        ...


class Inbox(Protocol):
    """Ids of messages already handled."""

    def claim(self, message_id: str, subject: str) -> bool:
        """Record the id; False when it was handled before (skip the work)."""
        ...


class UnitOfWork(Protocol):
    """The repositories of one transaction."""

    @property
    def groups(self) -> GroupRepository:
        """The groups of this transaction."""
        ...

    @property
    def instances(self) -> InstanceRepository:
        """The instances of this transaction."""
        ...

    @property
    def ip_pools(self) -> IpPoolRepository:
        """The ip pools of this transaction."""
        ...

    @property
    def activities(self) -> ActivityRepository:
        """The activities of this transaction."""
        ...

    @property
    def decisions(self) -> DecisionLog:
        """The decisions of this transaction."""
        ...

    @property
    def alerts(self) -> AlertRepository:
        """The alerts of this transaction."""
        ...

    @property
    def outbox(self) -> Outbox:
        """The outbox of this transaction."""
        ...

    @property
    def inbox(self) -> Inbox:
        """The inbox of this transaction."""
        ...


class Store(Protocol):
    """Runs functions in transactions."""

    async def transaction(self, fn: Callable[[UnitOfWork], T]) -> T:
        """Run ``fn`` in one transaction and return its result.

        Commits when ``fn`` returns; rolls everything back when it raises, and re-raises. Database
        outages raise ``ServiceUnavailable``; lock timeouts ``Contention``.
        """
        ...


class CommandPublisher(Protocol):
    """The bus, as the scaler uses it."""

    async def publish(self, subject: Subject[Any], message: Message) -> None:
        """Publish and wait for the stream's ack. Idempotent by message id inside the
        de-duplication window. Raises ``ServiceUnavailable`` / ``OperationTimeout``."""
        ...


class AddressProbe(Protocol):
    """Finds addresses already answering on the network before they are handed out
    (``IpPool.ping_check``; the original's lesson: a static IP that someone else uses)."""

    async def in_use(self, addresses: Sequence[IPv4Address]) -> set[IPv4Address]:
        """The addresses among ``addresses`` that answer. Probes them all at once and returns
        within the adapter's timeout (an address that does not answer in time counts as free);
        idempotent, read-only, raises nothing for an unreachable address."""
        ...


class PoolReader(Protocol):
    """The load balancer's view of a pool, to compare with the instance table (read-only)."""

    async def members(self, pool: str) -> list[tuple[str, str]]:
        """The pool's members as ``(name, address)`` pairs, as the load balancer reports them
        now. Blocks for one request; raises ``RetryableError`` when the load balancer does not
        answer and ``NotFound`` when it has no such pool."""
        ...


class GroupLease(Protocol):
    """One holder per group across every scaler replica, for a limited time."""

    async def acquire(self, group: str, owner: str, ttl_s: float, floor: int = 0) -> Lease | None:
        """Take the lease if nobody holds it; None when held. Never blocks on the holder.
        The token is larger than every token this store handed out before and than ``floor``
        (the largest token the database has accepted: a lease store that lost its state must
        not hand out tokens the database would refuse). Raises ``ServiceUnavailable`` when the
        lease store is down."""
        ...

    async def extend(self, lease: Lease, ttl_s: float) -> bool:
        """Renew a lease still held with this token; False when it was lost (expired or taken)."""
        ...

    async def release(self, lease: Lease) -> bool:
        """Give the lease up if still held with this token; False otherwise. Idempotent."""
        ...

    async def holder(self, group: str) -> Lease | None:
        """Who holds the group's lease right now, or None."""
        ...


class MetricsQuery(Protocol):
    """Prometheus, read-only."""

    async def read(self, group: ScalingGroup, policy: TargetTrackingPolicy | None = None) -> MetricReading:
        """The group's current busiest-instance CPU and memory (the alert rules' expressions)
        and the policy's metric. Never raises: an unreachable Prometheus gives
        ``available=False`` with the error."""
        ...

    async def history(self, group: ScalingGroup, start: datetime, end: datetime, step_s: float) -> MetricHistory:
        """The alert rules' expressions — the busiest instance's CPU and memory — evaluated at
        every ``step_s`` from ``start`` to ``end`` (a range query), oldest first, with the rate
        window the CPU expression uses. A time at which the job had no data has no point (or a
        point with ``None`` values); NaN is no data. Never raises: an unreachable Prometheus
        gives ``available=False`` with the error."""
        ...

    async def instance_loads(self, group: ScalingGroup) -> dict[str, float]:
        """Each scraped instance's CPU % now (the rules' per-instance expression), keyed by the host part
        of its ``instance`` label (the VM's address); the ``least_busy`` victim order ranks by it. Never
        raises: empty when Prometheus cannot answer (victims are then taken newest first)."""
        ...

    async def job_exists(self, job: str) -> bool:
        """True when Prometheus scrapes the job. Raises ``ServiceUnavailable``."""
        ...

    async def target_count(self, job: str) -> int:
        """Active targets of the job (for drift reports). Raises ``ServiceUnavailable``."""
        ...

    async def target_health(self, job: str) -> dict[str, bool]:
        """Whether Prometheus' last scrape of each active target of the job succeeded (``up``),
        keyed by the target's address (host part of ``instance``); targets not scraped yet are
        left out. Raises ``ServiceUnavailable``."""
        ...


class HealthProbe(Protocol):
    """The application's health path on a new VM."""

    async def wait_healthy(self, url: str, timeout_s: float) -> None:
        """Block until ``url`` answers 2xx/3xx; raises ``OperationTimeout`` after ``timeout_s``."""
        ...


class LifecycleHook(Protocol):
    """A post-provision or pre-termination hook (Jenkins job or HTTP endpoint)."""

    async def run(
        self,
        spec: HookSpec,
        context: dict[str, str],
        *,
        checkpoint: str | None = None,
        on_checkpoint: Callable[[str], Awaitable[None]] | None = None,
    ) -> str:
        """Run the hook and block until its result; returns a short description of it.
        ``context`` holds the activity id (a unique parameter, so Jenkins never folds two runs).
        A hook whose work outlives the call (a queued Jenkins build) hands its handle to
        ``on_checkpoint`` once it exists; given that handle back as ``checkpoint`` (after a
        restart), it follows that work instead of starting it again.
        Raises ``PermanentError`` on a failed run, ``RetryableError`` when unreachable."""
        ...


class ResourceChecker(Protocol):
    """Checks made before a group is enabled."""

    async def missing(self, group: ScalingGroup) -> list[str]:
        """What the group needs but does not exist (Prometheus job, template, LB pool), one
        sentence each; empty when all exist. Unreachable services are reported as missing."""
        ...
