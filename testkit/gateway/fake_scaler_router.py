"""The scaler stand-in's responders and consumers (``FakeScaler.router``)."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from faststream.nats import NatsRouter
from pydantic import ValidationError

from services.scaler.domain import ipam
from services.scaler.domain.errors import InvalidPolicy
from services.scaler.domain.model import Process, ScalingGroup
from services.scaler.groups import parse_group, parse_pool
from services.scaler.preview import validation_problems
from shared import subjects
from shared.bus import Bus
from shared.errors import kind_of
from shared.messages import (
    ActivitiesReply,
    ActivityKind,
    ActivityReply,
    ActivityRolledBack,
    AlertFired,
    AlertResolved,
    CancelActivity,
    DecisionsReply,
    DeleteGroup,
    DeleteIpPool,
    DetachInstance,
    DryRunGroup,
    DryRunOutcome,
    DryRunReply,
    GetActivity,
    GetGroup,
    GroupReply,
    GroupsReply,
    GroupStatusQuery,
    GroupStatusReply,
    InstanceReply,
    InstancesReply,
    IpPoolReply,
    IpPoolsReply,
    ListActivities,
    ListDecisions,
    ListGroups,
    ListInstances,
    ListIpPools,
    ManualScale,
    OperationReply,
    ProtectInstance,
    SaveGroup,
    SaveIpPool,
    ScaleReply,
    SetGroupEnabled,
    SetSuspendedProcesses,
    StepView,
    ValidateGroup,
    ValidationReply,
    utcnow,
)

if TYPE_CHECKING:
    from testkit.gateway.fake_scaler import FakeScaler

__all__ = ["scaler_router"]

_DISABLED_WARNING = "the group is disabled: no alert reaches it until it is enabled"


def scaler_router(fake: FakeScaler, bus: Bus) -> NatsRouter:
    """A router with ``fake``'s responders and consumers on ``bus``."""
    router = NatsRouter()

    @bus.responder(router, subjects.QUERY_SCALER_GROUP_STATUS, "scaler")
    async def group_status(query: GroupStatusQuery) -> GroupStatusReply:
        fake.status_queries += 1
        enabled = fake.groups.get(query.group)
        return GroupStatusReply(group=query.group, exists=enabled is not None, enabled=bool(enabled))

    @bus.responder(router, subjects.QUERY_SCALER_GROUPS, "scaler")
    async def list_groups(query: ListGroups) -> GroupsReply:
        return GroupsReply(groups=tuple(fake.view(name) for name in sorted(fake.groups)))

    @bus.responder(router, subjects.QUERY_SCALER_GROUP, "scaler")
    async def get_group(query: GetGroup) -> GroupReply:
        if query.name not in fake.groups:
            return fake.missing(query.name, GroupReply)
        mine = tuple(a for a in fake.activities if a.group == query.name)
        members = tuple(fake.members(query.name).values())
        return GroupReply(group=fake.view(query.name), instances=members, activities=mine)

    @bus.responder(router, subjects.QUERY_SCALER_SAVE_GROUP, "scaler")
    async def save_group(query: SaveGroup) -> GroupReply:
        try:
            parsed = parse_group(query.spec)  # the scaler's own validation, messages and fields
        except InvalidPolicy as exc:
            return GroupReply(error=str(exc), error_kind=kind_of(exc), error_fields=exc.fields)
        name = parsed.name
        if query.create and name in fake.groups:
            return GroupReply(error=f"group {name!r} exists", error_kind="Conflict")
        if not query.create and name not in fake.groups:
            return fake.missing(name, GroupReply)
        fake.specs[name] = parsed.model_dump(mode="json")  # stored and shown normalised, as the scaler does
        fake.groups[name] = bool(query.spec.get("enabled", fake.groups.get(name, False)))
        return GroupReply(group=fake.view(name))

    @bus.responder(router, subjects.QUERY_SCALER_DELETE_GROUP, "scaler")
    async def delete_group(query: DeleteGroup) -> OperationReply:
        if query.name not in fake.groups:
            return fake.missing(query.name, OperationReply)
        del fake.groups[query.name]
        fake.specs.pop(query.name, None)
        fake.instances.pop(query.name, None)
        return OperationReply(ok=True, message="deleted")

    @bus.responder(router, subjects.QUERY_SCALER_SET_ENABLED, "scaler")
    async def set_enabled(query: SetGroupEnabled) -> GroupReply:
        if query.name not in fake.groups:
            return fake.missing(query.name, GroupReply)
        fake.groups[query.name] = query.enabled
        if query.name in fake.specs:  # the scaler keeps the flag in the spec it shows
            fake.specs[query.name] = {**fake.specs[query.name], "enabled": query.enabled}
        return GroupReply(group=fake.view(query.name))

    @bus.responder(router, subjects.QUERY_SCALER_SUSPEND, "scaler")
    async def suspend(query: SetSuspendedProcesses) -> GroupReply:
        if query.group not in fake.groups:
            return fake.missing(query.group, GroupReply)
        try:  # the scaler's own vocabulary
            stop, go = {Process(p) for p in query.suspend}, {Process(p) for p in query.resume}
        except ValueError as exc:
            error = f"unknown process: {exc}; known: {[p.value for p in Process]}"
            return GroupReply(error=error, error_kind="InvalidInput")
        spec = fake.specs.setdefault(query.group, {"name": query.group, "min_size": 1, "max_size": 1})
        spec["suspended"] = sorted((set(spec.get("suspended", ())) | stop) - go)
        return GroupReply(group=fake.view(query.group))

    @bus.responder(router, subjects.QUERY_SCALER_SCALE, "scaler")
    async def scale(query: ManualScale) -> ScaleReply:
        if query.group not in fake.groups:
            return fake.missing(query.group, ScaleReply)
        view = fake.view(query.group)
        if query.desired is not None:
            delta = max(view.min_size, min(view.max_size, query.desired)) - view.size
        else:
            delta = query.delta or 0
        if delta == 0:
            return ScaleReply(decision=fake.blocked(query.group, f"the group already has {view.size} VM(s)"))
        return ScaleReply(decision=await fake.decide(bus, query.group, delta, "manual"))

    @bus.responder(router, subjects.QUERY_SCALER_DRY_RUN, "scaler")
    async def dry_run(query: DryRunGroup) -> DryRunReply:
        if query.name not in fake.groups:
            return fake.missing(query.name, DryRunReply)
        view = fake.view(query.name)
        grow, shrink = view.size < view.max_size, view.size > view.min_size
        observed = {"size": view.size}
        return DryRunReply(
            outcomes=(
                DryRunOutcome(
                    trigger=f"alert:{query.name}_HighResourceUsage",
                    allowed=grow,
                    delta=1 if grow else 0,
                    reason="allowed" if grow else "at_max",
                    message="would add 1 VM(s)" if grow else f"{view.size} VMs ≥ max_size {view.max_size}",
                    rule="step",
                    observed=observed,
                ),
                DryRunOutcome(
                    trigger=f"alert:{query.name}_LowResourceUsage",
                    allowed=shrink,
                    delta=-1 if shrink else 0,
                    reason="allowed" if shrink else "at_min",
                    message="would remove 1 VM(s)" if shrink else f"{view.size} VMs ≤ min_size {view.min_size}",
                    rule="step",
                    observed=observed,
                ),
            )
        )

    @bus.responder(router, subjects.QUERY_SCALER_DECISIONS, "scaler")
    async def decisions(query: ListDecisions) -> DecisionsReply:
        found = [
            d
            for d in reversed(fake.decisions)
            if query.group in (None, d.group)
            and query.allowed in (None, d.allowed)
            and (query.since is None or d.at >= query.since)
            and (query.until is None or d.at <= query.until)
        ]
        return DecisionsReply(decisions=tuple(found[: query.limit]))

    @bus.responder(router, subjects.QUERY_SCALER_ACTIVITIES, "scaler")
    async def activities(query: ListActivities) -> ActivitiesReply:
        found = [
            a
            for a in reversed(fake.activities)
            if query.group in (None, a.group)
            and query.status in (None, a.status)
            and (query.since is None or a.created_at >= query.since)
            and (query.until is None or a.created_at <= query.until)
        ]
        return ActivitiesReply(activities=tuple(found[: query.limit]))

    @bus.responder(router, subjects.QUERY_SCALER_ACTIVITY, "scaler")
    async def activity(query: GetActivity) -> ActivityReply:
        found = fake.activity(query.activity_id)
        if found is None:
            return ActivityReply(error=f"no activity {query.activity_id}", error_kind="NotFound")
        return ActivityReply(activity=found[1])

    @bus.responder(router, subjects.QUERY_SCALER_CANCEL, "scaler")
    async def cancel(query: CancelActivity) -> ActivityReply:
        found = fake.activity(query.activity_id)
        if found is None:
            return ActivityReply(error=f"no activity {query.activity_id}", error_kind="NotFound")
        n, current = found
        if current.status != "running":
            return ActivityReply(activity=current)
        now = utcnow()
        undo = tuple(
            StepView(vm_name=step.vm_name, step="release_ip", phase="compensate", status="done", started_at=now)
            for step in current.steps
            if step.step == "reserve_ip" and step.status == "done"
        )
        reason = f"cancelled by {query.actor}"
        cancelled = current.model_copy(
            update={
                "status": "cancelled",
                "failed_step": "cancel",
                "reason": reason,
                "finished_at": now,
                "steps": current.steps + undo,
            }
        )
        fake.activities[n] = cancelled
        await bus.publish(
            subjects.ACTIVITY_ROLLED_BACK,
            ActivityRolledBack(
                activity_id=current.id,
                group=current.group,
                kind=ActivityKind(current.kind),
                failed_step="cancel",
                reason=reason,
                duration_s=(now - current.created_at).total_seconds(),
            ),
        )
        return ActivityReply(activity=cancelled)

    @bus.responder(router, subjects.QUERY_SCALER_INSTANCES, "scaler")
    async def instances(query: ListInstances) -> InstancesReply:
        if query.group is not None and query.group not in fake.groups:
            return fake.missing(query.group, InstancesReply)
        names = sorted(fake.groups) if query.group is None else [query.group]
        return InstancesReply(instances=tuple(i for name in names for i in fake.members(name).values()))

    @bus.responder(router, subjects.QUERY_SCALER_PROTECT, "scaler")
    async def protect(query: ProtectInstance) -> InstanceReply:
        members = fake.members(query.group)
        if query.vm_name not in members:
            error = f"no instance {query.vm_name} in {query.group}"
            return InstanceReply(error=error, error_kind="NotFound")
        changed = members[query.vm_name].model_copy(update={"protected": query.protected})
        members[query.vm_name] = changed
        return InstanceReply(instance=changed)

    @bus.responder(router, subjects.QUERY_SCALER_DETACH, "scaler")
    async def detach(query: DetachInstance) -> InstanceReply:
        if query.group not in fake.groups:
            return fake.missing(query.group, InstanceReply)
        running = [a.id for a in fake.activities if a.group == query.group and a.status == "running"]
        if running:
            error = f"group {query.group} runs activity {running[0]}; try again after it"
            return InstanceReply(error=error, error_kind="Conflict")
        members = fake.members(query.group)
        if query.vm_name not in members:
            error = f"no instance {query.vm_name} in {query.group}"
            return InstanceReply(error=error, error_kind="NotFound")
        instance = members.pop(query.vm_name)
        # its address leaves the IP pool for good, as the scaler does
        pool = fake.ip_pools.get(str(fake.specs.get(query.group, {}).get("ip_pool")))
        if pool is not None and instance.address is not None:
            excluded = pool.exclusions | {ipaddress.IPv4Address(instance.address)}
            fake.ip_pools[pool.name] = pool.model_copy(update={"exclusions": excluded})
        return InstanceReply(instance=instance)

    @bus.responder(router, subjects.QUERY_SCALER_VALIDATE, "scaler")
    async def validate(query: ValidateGroup) -> ValidationReply:
        try:  # the scaler's own validation and flapping lint, in its words
            ScalingGroup.model_validate(query.spec)
        except ValidationError as exc:
            return ValidationReply(problems=validation_problems(exc, query.spec))
        disabled = () if query.spec.get("enabled") else (_DISABLED_WARNING,)
        return ValidationReply(warnings=disabled)

    @bus.responder(router, subjects.QUERY_SCALER_IP_POOLS, "scaler")
    async def ip_pools(query: ListIpPools) -> IpPoolsReply:
        return IpPoolsReply(pools=tuple(fake.pool(name) for name in sorted(fake.ip_pools)))

    @bus.responder(router, subjects.QUERY_SCALER_SAVE_IP_POOL, "scaler")
    async def save_ip_pool(query: SaveIpPool) -> IpPoolReply:
        try:
            pool = parse_pool(query.spec)  # the scaler's own validation
        except InvalidPolicy as exc:
            return IpPoolReply(error=str(exc), error_kind=kind_of(exc), error_fields=exc.fields)
        old = fake.ip_pools.get(pool.name)
        usable = set(ipam.usable(pool))
        for lease in fake.leases(old) if old is not None else ():
            if lease.address not in usable:
                error = f"{lease.address} is held by {lease.vm_name} and would fall outside the pool"
                return IpPoolReply(error=error, error_kind="Conflict")
        fake.ip_pools[pool.name] = pool
        return IpPoolReply(pool=fake.pool(pool.name))

    @bus.responder(router, subjects.QUERY_SCALER_DELETE_IP_POOL, "scaler")
    async def delete_ip_pool(query: DeleteIpPool) -> OperationReply:
        if query.name not in fake.ip_pools:
            return OperationReply(error=f"no IP pool {query.name}", error_kind="NotFound")
        users = [name for name in sorted(fake.groups) if fake.specs.get(name, {}).get("ip_pool") == query.name]
        if users:  # (leases come from the users' instances, so no user means no lease)
            error = f"IP pool {query.name} is used by {', '.join(users)}"
            return OperationReply(error=error, error_kind="Conflict")
        del fake.ip_pools[query.name]
        return OperationReply(ok=True, message=f"IP pool {query.name} deleted")

    @bus.consumer(router, subjects.ALERT_FIRED, "scaler")
    async def on_fired(event: AlertFired) -> None:
        fake.fired.append(event)
        fake.arrived.set()

    @bus.consumer(router, subjects.ALERT_RESOLVED, "scaler")
    async def on_resolved(event: AlertResolved) -> None:
        fake.resolved.append(event)
        fake.arrived.set()

    return router
