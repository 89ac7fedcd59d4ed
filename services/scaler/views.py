"""Read models for ``query.scaler.*``: groups, activities with steps, decisions, instances, pools."""

from __future__ import annotations

from datetime import datetime

from services.scaler.domain import ipam
from services.scaler.domain.model import Instance, InstanceState, IpPool
from services.scaler.domain.saga import Activity
from services.scaler.ports import DecisionRecord, GroupRecord, MetricsQuery, Store, UnitOfWork
from shared.errors import RetryableError
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


def pool_view(pool: IpPool, uow: UnitOfWork) -> IpPoolView:
    """A pool with capacity, free count and held leases."""
    leases = uow.ip_pools.leases(pool.name)
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

    def __init__(self, store: Store, metrics: MetricsQuery) -> None:
        self._store = store
        self._metrics = metrics

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
        return (
            group_view(record, instances, active),
            [instance_view(i) for i in instances if i.state is not InstanceState.TERMINATED],
            [activity_view(a) for a in recent],
            drift,
        )

    async def activities(self, group: str | None, status: str | None, limit: int) -> list[ActivityView]:
        """Recent activities."""
        found = await self._store.transaction(lambda uow: uow.activities.recent(group, status, limit))
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
        """Instances of a group (or all)."""
        found = await self._store.transaction(lambda uow: uow.instances.all(group))
        return [instance_view(i) for i in found if include_terminated or i.state is not InstanceState.TERMINATED]

    async def pools(self) -> list[IpPoolView]:
        """Every IP pool."""
        return await self._store.transaction(lambda uow: [pool_view(p, uow) for p in uow.ip_pools.all()])
