"""Request/reply handlers for ``query.scaler.*``: reads, and operator changes.

Errors from our tree become ``Reply(error=..., error_kind=<class name>)`` so the gateway maps
them to HTTP in one place; anything else propagates (and the caller times out).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from ipaddress import IPv4Address
from typing import TypeVar

from faststream.nats import NatsRouter

from services.scaler.domain.model import ManualChange, Process
from services.scaler.groups import parse_group, parse_pool
from services.scaler.service import Scaler
from services.scaler.views import decision_view, instance_view, pool_view
from shared import subjects
from shared.bus import Bus
from shared.errors import InvalidInput, NotFound, VmscaleError, kind_of
from shared.messages import (
    ActivitiesReply,
    ActivityReply,
    AdoptInstance,
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
    InstanceCallbackReply,
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
    MarkInstanceGone,
    OperationReply,
    ProtectInstance,
    Reply,
    SaveGroup,
    SaveIpPool,
    ScaleReply,
    SetGroupEnabled,
    SetSuspendedProcesses,
    ValidateGroup,
    ValidationReply,
)

__all__ = ["query_router"]

R = TypeVar("R", bound=Reply)


async def _guard(reply: type[R], work: Callable[[], Awaitable[R]]) -> R:
    try:
        return await work()
    except VmscaleError as exc:
        fields = exc.fields if isinstance(exc, InvalidInput) else ()
        return reply(error=str(exc), error_kind=kind_of(exc), error_fields=fields)


def _address(query: AdoptInstance | MarkInstanceGone) -> IPv4Address:
    try:
        return IPv4Address(query.address)
    except ValueError as exc:
        raise InvalidInput(f"{query.address!r} is not an IPv4 address", fields=(("address", "not IPv4"),)) from exc


def query_router(bus: Bus, scaler: Scaler) -> NatsRouter:
    """Every ``query.scaler.*`` responder."""
    router = NatsRouter()
    views = scaler.views

    async def group_reply(name: str, problems: list[str] | None = None) -> GroupReply:
        found = await views.group(name)
        if found is None:
            raise NotFound(f"no group {name}", group=name)
        group, instances, activities, drift = found
        return GroupReply(
            group=group,
            instances=tuple(instances),
            activities=tuple(activities),
            drift=drift,
            problems=tuple(problems or ()),
        )

    @bus.responder(router, subjects.QUERY_SCALER_GROUP_STATUS, "scaler")
    async def group_status(query: GroupStatusQuery) -> GroupStatusReply:
        record = await scaler.ports.store.transaction(lambda uow: uow.groups.get(query.group))
        if record is None:
            return GroupStatusReply(group=query.group)
        return GroupStatusReply(group=query.group, exists=True, enabled=record.spec.enabled)

    @bus.responder(router, subjects.QUERY_SCALER_GROUPS, "scaler")
    async def groups(query: ListGroups) -> GroupsReply:
        return await _guard(GroupsReply, lambda: _groups(scaler))

    @bus.responder(router, subjects.QUERY_SCALER_GROUP, "scaler")
    async def group(query: GetGroup) -> GroupReply:
        return await _guard(GroupReply, lambda: group_reply(query.name))

    @bus.responder(router, subjects.QUERY_SCALER_ACTIVITIES, "scaler")
    async def activities(query: ListActivities) -> ActivitiesReply:
        async def work() -> ActivitiesReply:
            found = await views.activities(query.group, query.status, query.limit, query.since, query.until)
            return ActivitiesReply(activities=tuple(found))

        return await _guard(ActivitiesReply, work)

    @bus.responder(router, subjects.QUERY_SCALER_ACTIVITY, "scaler")
    async def activity(query: GetActivity) -> ActivityReply:
        async def work() -> ActivityReply:
            found = await views.activity(query.activity_id)
            if found is None:
                raise NotFound(f"no activity {query.activity_id}")
            return ActivityReply(activity=found)

        return await _guard(ActivityReply, work)

    @bus.responder(router, subjects.QUERY_SCALER_DECISIONS, "scaler")
    async def decisions(query: ListDecisions) -> DecisionsReply:
        async def work() -> DecisionsReply:
            found = await views.decisions(query.group, query.allowed, query.since, query.until, query.limit)
            return DecisionsReply(decisions=tuple(found))

        return await _guard(DecisionsReply, work)

    @bus.responder(router, subjects.QUERY_SCALER_INSTANCES, "scaler")
    async def instances(query: ListInstances) -> InstancesReply:
        async def work() -> InstancesReply:
            return InstancesReply(instances=tuple(await views.instances(query.group, query.include_terminated)))

        return await _guard(InstancesReply, work)

    @bus.responder(router, subjects.QUERY_SCALER_IP_POOLS, "scaler")
    async def ip_pools(query: ListIpPools) -> IpPoolsReply:
        async def work() -> IpPoolsReply:
            return IpPoolsReply(pools=tuple(await views.pools()))

        return await _guard(IpPoolsReply, work)

    @bus.responder(router, subjects.QUERY_SCALER_SAVE_GROUP, "scaler")
    async def save_group(query: SaveGroup) -> GroupReply:
        async def work() -> GroupReply:
            spec = parse_group(query.spec)
            _, problems = await scaler.admin.save_group(spec, create=query.create)
            return await group_reply(spec.name, problems)

        return await _guard(GroupReply, work)

    @bus.responder(router, subjects.QUERY_SCALER_DELETE_GROUP, "scaler")
    async def delete_group(query: DeleteGroup) -> OperationReply:
        async def work() -> OperationReply:
            problems = await scaler.admin.delete_group(query.name)
            return OperationReply(ok=True, message=f"group {query.name} deleted", problems=tuple(problems))

        return await _guard(OperationReply, work)

    @bus.responder(router, subjects.QUERY_SCALER_SET_ENABLED, "scaler")
    async def set_enabled(query: SetGroupEnabled) -> GroupReply:
        async def work() -> GroupReply:
            _, problems = await scaler.admin.set_enabled(query.name, query.enabled)
            return await group_reply(query.name, problems)

        return await _guard(GroupReply, work)

    @bus.responder(router, subjects.QUERY_SCALER_SCALE, "scaler")
    async def scale(query: ManualScale) -> ScaleReply:
        async def work() -> ScaleReply:
            try:
                change = ManualChange(
                    desired=query.desired, delta=query.delta, honor_cooldown=query.honor_cooldown, actor=query.actor
                )
            except ValueError as exc:
                raise InvalidInput(str(exc)) from exc
            stored = await scaler.triggers.manual(query.group, change)
            if stored is None:
                raise NotFound(f"no group {query.group}", group=query.group)
            return ScaleReply(decision=decision_view(stored))

        return await _guard(ScaleReply, work)

    @bus.responder(router, subjects.QUERY_SCALER_SUSPEND, "scaler")
    async def suspend(query: SetSuspendedProcesses) -> GroupReply:
        async def work() -> GroupReply:
            try:
                stop = {Process(p) for p in query.suspend}
                go = {Process(p) for p in query.resume}
            except ValueError as exc:
                raise InvalidInput(f"unknown process: {exc}; known: {[p.value for p in Process]}") from exc
            await scaler.admin.suspend(query.group, stop, go)
            return await group_reply(query.group)

        return await _guard(GroupReply, work)

    @bus.responder(router, subjects.QUERY_SCALER_PROTECT, "scaler")
    async def protect(query: ProtectInstance) -> InstanceReply:
        async def work() -> InstanceReply:
            instance = await scaler.admin.protect(query.group, query.vm_name, query.protected)
            return InstanceReply(instance=instance_view(instance))

        return await _guard(InstanceReply, work)

    @bus.responder(router, subjects.QUERY_SCALER_DETACH, "scaler")
    async def detach(query: DetachInstance) -> InstanceReply:
        async def work() -> InstanceReply:
            instance = await scaler.admin.detach(query.group, query.vm_name)
            return InstanceReply(instance=instance_view(instance))

        return await _guard(InstanceReply, work)

    @bus.responder(router, subjects.QUERY_SCALER_ADOPT, "scaler")
    async def adopt(query: AdoptInstance) -> InstanceCallbackReply:
        async def work() -> InstanceCallbackReply:
            outcome, changed, instance = await scaler.callbacks.adopt(query.group, query.vm_name, _address(query))
            return InstanceCallbackReply(
                outcome=outcome, changed=changed, instance=instance_view(instance) if instance else None
            )

        return await _guard(InstanceCallbackReply, work)

    @bus.responder(router, subjects.QUERY_SCALER_MARK_GONE, "scaler")
    async def mark_gone(query: MarkInstanceGone) -> InstanceCallbackReply:
        async def work() -> InstanceCallbackReply:
            outcome, changed, instance = await scaler.callbacks.mark_gone(query.group, query.vm_name, _address(query))
            return InstanceCallbackReply(
                outcome=outcome, changed=changed, instance=instance_view(instance) if instance else None
            )

        return await _guard(InstanceCallbackReply, work)

    @bus.responder(router, subjects.QUERY_SCALER_CANCEL, "scaler")
    async def cancel(query: CancelActivity) -> ActivityReply:
        async def work() -> ActivityReply:
            if await scaler.activities.cancel(query.activity_id, query.actor) is None:
                raise NotFound(f"no activity {query.activity_id}")
            return ActivityReply(activity=await views.activity(query.activity_id))

        return await _guard(ActivityReply, work)

    @bus.responder(router, subjects.QUERY_SCALER_SAVE_IP_POOL, "scaler")
    async def save_ip_pool(query: SaveIpPool) -> IpPoolReply:
        async def work() -> IpPoolReply:
            pool = await scaler.admin.save_pool(parse_pool(query.spec))
            view = await scaler.ports.store.transaction(lambda uow: pool_view(pool, uow.ip_pools.leases(pool.name)))
            return IpPoolReply(pool=view)

        return await _guard(IpPoolReply, work)

    @bus.responder(router, subjects.QUERY_SCALER_DELETE_IP_POOL, "scaler")
    async def delete_ip_pool(query: DeleteIpPool) -> OperationReply:
        async def work() -> OperationReply:
            await scaler.admin.delete_pool(query.name)
            return OperationReply(ok=True, message=f"IP pool {query.name} deleted")

        return await _guard(OperationReply, work)

    @bus.responder(router, subjects.QUERY_SCALER_VALIDATE, "scaler")
    async def validate(query: ValidateGroup) -> ValidationReply:
        async def work() -> ValidationReply:
            outcome = await scaler.preview.validate(query.spec)
            return ValidationReply(problems=outcome.problems, warnings=outcome.warnings)

        return await _guard(ValidationReply, work)

    @bus.responder(router, subjects.QUERY_SCALER_DRY_RUN, "scaler")
    async def dry_run(query: DryRunGroup) -> DryRunReply:
        async def work() -> DryRunReply:
            outcomes = await scaler.preview.dry_run(query.name)
            return DryRunReply(outcomes=tuple(DryRunOutcome(**vars(o)) for o in outcomes))

        return await _guard(DryRunReply, work)

    return router


async def _groups(scaler: Scaler) -> GroupsReply:
    return GroupsReply(groups=tuple(await scaler.views.groups()))
