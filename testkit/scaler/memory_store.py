"""The scaler's store in memory (``Store`` and its unit of work), faithful to the SQL adapter.

It keeps real state, raises the same errors and honours the same idempotency as the real
adapter. It gives real transactions: a function runs on a copy of the state, which replaces the
state only when the function returns. The other ports' fakes are in ``testkit.scaler.memory``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from ipaddress import IPv4Address
from typing import Any, TypeVar

from services.scaler.domain.errors import ActivityRunning
from services.scaler.domain.model import (
    Instance,
    IpLease,
    IpPool,
)
from services.scaler.domain.saga import Activity
from services.scaler.ports import (
    AlertRecord,
    At,
    DecisionRecord,
    GroupRecord,
    OutboxEntry,
    UnitOfWork,
)
from shared.clock import Clock, SystemClock
from shared.messages import Message
from shared.subjects import Subject
from shared.telemetry import current_trace_context

__all__ = ["MemoryStore"]

T = TypeVar("T")


class _State:
    """The store's tables. A transaction's copy shares them with the committed state and copies a
    table only when it first writes to it (``w``): a transaction costs what it touches, not the
    size of the history (decisions, activities and the outbox grow for the store's life)."""

    TABLES = (
        "groups",
        "instances",
        "pools",
        "leases",
        "activities",
        "open",
        "decisions",
        "alerts",
        "outbox",
        "unpublished",
        "inbox",
    )

    def __init__(self) -> None:
        self.groups: dict[str, GroupRecord] = {}
        self.instances: dict[str, dict[str, Instance]] = {}  # by group, then VM name
        self.pools: dict[str, IpPool] = {}
        self.leases: dict[tuple[str, IPv4Address], IpLease] = {}
        self.activities: dict[str, Activity] = {}
        self.open: dict[str, Activity] = {}  # the activities not yet terminal
        self.decisions: list[DecisionRecord] = []
        self.alerts: dict[tuple[str, str], AlertRecord] = {}
        self.outbox: dict[str, OutboxEntry] = {}
        self.unpublished: dict[str, OutboxEntry] = {}
        self.inbox: set[str] = set()
        self._owned: set[str] = set(self.TABLES)

    def copy(self) -> _State:
        other = _State.__new__(_State)
        for table in self.TABLES:
            setattr(other, table, getattr(self, table))
        other._owned = set()
        return other

    def w(self, table: str) -> Any:
        """The table, copied first if this state still shares it."""
        if table not in self._owned:
            setattr(self, table, getattr(self, table).copy())
            self._owned.add(table)
        return getattr(self, table)


class _Groups:
    def __init__(self, state: _State) -> None:
        self._s = state

    def get(self, name: str, *, for_update: bool = False) -> GroupRecord | None:
        return self._s.groups.get(name)

    def all(self) -> list[GroupRecord]:
        return [self._s.groups[k] for k in sorted(self._s.groups)]

    def save(self, record: GroupRecord) -> None:
        self._s.w("groups")[record.spec.name] = record

    def delete(self, name: str) -> None:
        self._s.w("groups").pop(name, None)


class _Instances:
    def __init__(self, state: _State) -> None:
        self._s = state

    def all(self, group: str | None = None) -> list[Instance]:
        tables = self._s.instances.values() if group is None else [self._s.instances.get(group, {})]
        found = [i for table in tables for i in table.values()]
        return sorted(found, key=lambda i: (i.created_at, i.vm_name))

    def get(self, group: str, vm_name: str) -> Instance | None:
        return self._s.instances.get(group, {}).get(vm_name)

    def save(self, instance: Instance) -> None:
        groups = self._s.w("instances")  # the group's table is copied: the committed one is shared
        groups[instance.group] = {**groups.get(instance.group, {}), instance.vm_name: instance}

    def delete(self, group: str, vm_name: str) -> None:
        groups = self._s.w("instances")
        groups[group] = {k: v for k, v in groups.get(group, {}).items() if k != vm_name}


class _Pools:
    def __init__(self, state: _State) -> None:
        self._s = state

    def get(self, name: str) -> IpPool | None:
        return self._s.pools.get(name)

    def all(self) -> list[IpPool]:
        return [self._s.pools[k] for k in sorted(self._s.pools)]

    def save(self, pool: IpPool) -> None:
        self._s.w("pools")[pool.name] = pool

    def delete(self, name: str) -> None:
        self._s.w("pools").pop(name, None)
        leases = self._s.w("leases")
        for key in [k for k, v in leases.items() if k[0] == name and v.state == "released"]:
            del leases[key]

    def leases(self, pool: str, *, for_update: bool = False) -> list[IpLease]:
        return sorted((v for (p, _), v in self._s.leases.items() if p == pool), key=lambda v: int(v.address))

    def save_lease(self, lease: IpLease) -> None:
        self._s.w("leases")[(lease.pool, lease.address)] = lease


class _Activities:
    def __init__(self, state: _State) -> None:
        self._s = state

    def get(self, activity_id: str, *, for_update: bool = False) -> Activity | None:
        return self._s.activities.get(activity_id)

    def active(self, group: str | None = None) -> list[Activity]:
        return sorted(
            (a for a in self._s.open.values() if group is None or a.group == group),
            key=lambda a: a.created_at,
        )

    def recent(
        self, group: str | None = None, status: str | None = None, limit: int = 50, since: At = None, until: At = None
    ) -> list[Activity]:
        found = [
            a
            for a in self._s.activities.values()
            if (group is None or a.group == group)
            and (status is None or a.status == status)
            and (since is None or a.created_at >= since)
            and (until is None or a.created_at <= until)
        ]
        return sorted(found, key=lambda a: (a.created_at, a.id), reverse=True)[:limit]

    def save(self, activity: Activity) -> None:
        if not activity.status.terminal:
            for other in self.active(activity.group):
                if other.id != activity.id:
                    raise ActivityRunning(f"group {activity.group} already runs {other.id}", group=activity.group)
        self._s.w("activities")[activity.id] = activity
        if activity.status.terminal:
            self._s.w("open").pop(activity.id, None)
        else:
            self._s.w("open")[activity.id] = activity


class _Decisions:
    def __init__(self, state: _State) -> None:
        self._s = state

    def add(self, record: DecisionRecord) -> None:
        self._s.w("decisions").append(record)

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
        self._s.w("alerts")[(record.group, record.fingerprint)] = record

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
                id=entry_id,
                subject=subject.name,
                payload=message.model_dump_json(),
                created_at=self._clock.now(),
                trace_context=current_trace_context(),
            )
            self._s.w("outbox")[entry_id] = entry
            self._s.w("unpublished")[entry_id] = entry
            self._recorded.append(entry)
        return entry_id

    def recorded(self) -> list[OutboxEntry]:
        return list(self._recorded)

    def pending(self, limit: int = 100) -> list[OutboxEntry]:
        return sorted(self._s.unpublished.values(), key=lambda e: e.created_at)[:limit]

    def mark_published(self, ids: list[str], at: datetime) -> None:
        for entry_id in ids:
            entry = self._s.outbox.get(entry_id)
            if entry is not None:
                self._s.w("outbox")[entry_id] = entry.model_copy(update={"published_at": at})
                self._s.w("unpublished").pop(entry_id, None)


class _Inbox:
    def __init__(self, state: _State) -> None:
        self._s = state

    def claim(self, message_id: str, subject: str) -> bool:
        if message_id in self._s.inbox:
            return False
        self._s.w("inbox").add(message_id)
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
