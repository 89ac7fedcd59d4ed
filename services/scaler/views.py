"""Read models for ``query.scaler.*``: groups, activities with steps, decisions, instances, pools."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.scaler.domain import ipam
from services.scaler.domain.drift import pool_drift
from services.scaler.domain.errors import UnknownGroup
from services.scaler.domain.model import Instance, InstanceState, IpLease, IpPool
from services.scaler.domain.saga import Activity
from services.scaler.ports import At, DecisionRecord, GroupRecord, MetricsQuery, PoolReader, Store, UnitOfWork
from shared.clock import Clock
from shared.errors import NotFound, RetryableError
from shared.messages import (
    ActivityView,
    DecisionView,
    DriftView,
    GroupView,
    InstanceView,
    IpLeaseView,
    IpPoolView,
    StepView,
)

__all__ = ["Views", "activity_view", "decision_view", "group_view", "instance_view", "pool_view"]


def group_view(record: GroupRecord, instances: list[Instance], active: list[Activity]) -> GroupView:
    """A group as the operator sees it (settings hold no secrets: only a credentials reference)."""
    spec, state = record.spec, record.state
    backoff = state.failure_backoff
    return GroupView(
        name=spec.name,
        enabled=spec.enabled,
        min_size=spec.min_size,
        max_size=spec.max_size,
        size=sum(1 for i in instances if i.counts),
        in_service=sum(1 for i in instances if i.state is InstanceState.IN_SERVICE),
        suspended=tuple(sorted(spec.suspended)),
        alerts_status=state.alerts_status,
        alerts_detail=state.alerts_detail,
        scale_in_silenced=state.scale_in_silenced,
        last_scale_out_at=state.last_scale_out_at,
        last_scale_in_at=state.last_scale_in_at,
        failure_backoff_until=backoff.until if backoff is not None else None,
        failure_backoff=f"scale-{backoff.direction} after {backoff.activity_id}: {backoff.reason}" if backoff else "",
        active_activity=active[0].id if active else None,
        spec=spec.model_dump(mode="json"),
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def instance_view(instance: Instance) -> InstanceView:
    """One instance."""
    return InstanceView(
        group=instance.group,
        vm_name=instance.vm_name,
        address=str(instance.address) if instance.address is not None else None,
        state=instance.state,
        protected=instance.protected,
        base=instance.base,
        activity_id=instance.activity_id,
        created_at=instance.created_at,
    )


def activity_view(activity: Activity) -> ActivityView:
    """One activity with every step of every VM."""
    steps = [
        StepView(
            vm_name=track.vm_name,
            step=run.step,
            phase=run.phase,
            status=run.status,
            attempts=run.attempts,
            started_at=run.started_at,
            finished_at=run.finished_at,
            error=run.error,
        )
        for track in activity.tracks
        for run in (*track.forward, *track.compensation)
    ]
    return ActivityView(
        id=activity.id,
        group=activity.group,
        kind=activity.kind,
        status=activity.status,
        cause=activity.cause,
        decision_id=activity.decision_id,
        created_at=activity.created_at,
        finished_at=activity.finished_at,
        failed_step=activity.failed_step,
        reason=activity.reason,
        vm_names=tuple(t.vm_name for t in activity.tracks),
        steps=tuple(steps),
    )


def decision_view(record: DecisionRecord) -> DecisionView:
    """One decision."""
    return DecisionView(**record.model_dump())


def pool_view(pool: IpPool, leases: Sequence[IpLease]) -> IpPoolView:
    """A pool with capacity, free count and held leases (``leases``: the pool's, any state)."""
    return IpPoolView(
        name=pool.name,
        network=str(pool.network),
        gateway=str(pool.gateway) if pool.gateway else None,
        dns=tuple(str(d) for d in pool.dns),
        ranges=tuple(f"{r.start}-{r.end}" for r in pool.ranges),
        exclusions=tuple(sorted(str(e) for e in pool.exclusions)),
        ping_check=pool.ping_check,
        capacity=ipam.capacity(pool),
        free=ipam.free_count(pool, leases),
        leases=tuple(
            IpLeaseView(
                address=str(lease.address),
                group=lease.group,
                vm_name=lease.vm_name,
                state=lease.state,
                activity_id=lease.activity_id,
                updated_at=lease.updated_at,
            )
            for lease in leases
            if lease.state != "released"
        ),
    )


class Views:
    """Answers the scaler's queries from the database (and Prometheus for drift)."""

    def __init__(self, store: Store, metrics: MetricsQuery, clock: Clock, pools: PoolReader | None = None) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._pools = pools

    async def groups(self) -> list[GroupView]:
        """Every group."""

        def txn(uow: UnitOfWork) -> list[GroupView]:
            return [
                group_view(r, uow.instances.all(r.spec.name), uow.activities.active(r.spec.name))
                for r in uow.groups.all()
            ]

        return await self._store.transaction(txn)

    async def group(self, name: str) -> tuple[GroupView, list[InstanceView], list[ActivityView], DriftView] | None:
        """One group with instances, recent activities and a drift report."""

        def txn(uow: UnitOfWork) -> tuple[GroupRecord, list[Instance], list[Activity], list[Activity]] | None:
            record = uow.groups.get(name)
            if record is None:
                return None
            return record, uow.instances.all(name), uow.activities.active(name), uow.activities.recent(name, limit=10)

        found = await self._store.transaction(txn)
        if found is None:
            return None
        record, instances, active, recent = found
        counted = sum(1 for i in instances if i.counts)
        notes: list[str] = []
        targets: int | None = None
        try:
            targets = await self._metrics.target_count(record.spec.prometheus_job)
        except RetryableError as exc:
            notes.append(f"Prometheus not reachable: {exc}")
        in_service = sum(1 for i in instances if i.state is InstanceState.IN_SERVICE)
        if targets is not None and targets != in_service:
            notes.append(
                f"Prometheus has {targets} targets in job {record.spec.prometheus_job}, {in_service} in service"
            )
        drift = DriftView(instances=counted, prometheus_targets=targets, notes=tuple(notes))
        drift = await self._pool_drift(record, instances, drift, bool(active))
        return (
            group_view(record, instances, active),
            [instance_view(i) for i in instances if i.state is not InstanceState.TERMINATED],
            [activity_view(a) for a in recent],
            drift,
        )

    async def _pool_drift(
        self, record: GroupRecord, instances: list[Instance], drift: DriftView, busy: bool
    ) -> DriftView:
        """The pool as the load balancer reports it now, else as last seen (with a note)."""
        state, notes = record.state, list(drift.notes)
        if state.pool_note:
            notes.append(state.pool_note)
        update: dict[str, Any] = {
            "pool_members": state.pool_members,
            "missing_from_pool": state.pool_missing,
            "unexpected_in_pool": state.pool_unexpected,
            "pool_checked_at": state.pool_checked_at,
        }
        if self._pools is not None:
            try:
                members = await self._pools.members(record.spec.pool)
            except (RetryableError, NotFound) as exc:
                seen = f"; last compared {state.pool_checked_at:%Y-%m-%d %H:%M:%S}" if state.pool_checked_at else ""
                notes.append(f"load balancer not asked: {exc}{seen}")
            else:
                found = pool_drift(instances, members)
                update = {
                    "pool_members": len(members),
                    "missing_from_pool": found.missing,
                    "unexpected_in_pool": found.unexpected,
                    "pool_checked_at": self._clock.now(),
                }
                if busy and found.any:
                    notes.append("an activity is running: the pool may be mid-change")
        if update["missing_from_pool"]:
            notes.append(f"in service but not in pool {record.spec.pool}: {', '.join(update['missing_from_pool'])}")
        if update["unexpected_in_pool"]:
            notes.append(f"in pool {record.spec.pool} but not in the group: {', '.join(update['unexpected_in_pool'])}")
        return drift.model_copy(update={**update, "notes": tuple(notes)})

    async def activities(
        self, group: str | None, status: str | None, limit: int, since: At = None, until: At = None
    ) -> list[ActivityView]:
        """Activities newest first; ``since``/``until`` bound when they were created."""
        found = await self._store.transaction(lambda uow: uow.activities.recent(group, status, limit, since, until))
        return [activity_view(a) for a in found]

    async def activity(self, activity_id: str) -> ActivityView | None:
        """One activity."""
        found = await self._store.transaction(lambda uow: uow.activities.get(activity_id))
        return activity_view(found) if found is not None else None

    async def decisions(
        self, group: str | None, allowed: bool | None, since: datetime | None, until: datetime | None, limit: int
    ) -> list[DecisionView]:
        """Decisions, newest first."""
        found = await self._store.transaction(lambda uow: uow.decisions.find(group, allowed, since, until, limit))
        return [decision_view(d) for d in found]

    async def instances(self, group: str | None, include_terminated: bool) -> list[InstanceView]:
        """Instances of a group (or all); ``UnknownGroup`` for a group that does not exist."""

        def read(uow: UnitOfWork) -> list[Instance]:
            if group is not None and uow.groups.get(group) is None:
                raise UnknownGroup(f"no scaling group {group!r}", group=group)
            return uow.instances.all(group)

        found = await self._store.transaction(read)
        return [instance_view(i) for i in found if include_terminated or i.state is not InstanceState.TERMINATED]

    async def pools(self) -> list[IpPoolView]:
        """Every IP pool."""
        return await self._store.transaction(
            lambda uow: [pool_view(p, uow.ip_pools.leases(p.name)) for p in uow.ip_pools.all()]
        )
