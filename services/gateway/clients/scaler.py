"""The scaler as the gateway asks it: groups, instances, activities, decisions, IP pools
(``query.scaler.*``, core request/reply; see shared/messages/scaling.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.gateway.clients.base import BackendClient
from shared import subjects
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
    SaveGroup,
    SaveIpPool,
    ScaleReply,
    SetGroupEnabled,
    SetSuspendedProcesses,
    ValidateGroup,
    ValidationReply,
)

__all__ = ["ScalerClient"]


class ScalerClient(BackendClient):
    """Typed calls to the scaler; every method raises what ``BackendClient`` documents."""

    # -- groups -----------------------------------------------------------------------------

    async def groups(self) -> GroupsReply:
        """Every group with its size and status."""
        return await self._ask(subjects.QUERY_SCALER_GROUPS, ListGroups(), GroupsReply)

    async def group(self, name: str) -> GroupReply:
        """One group with its instances, recent activities and drift (``NotFound`` when absent)."""
        return await self._ask(subjects.QUERY_SCALER_GROUP, GetGroup(name=name), GroupReply)

    async def group_status(self, group: str) -> GroupStatusReply:
        """Whether ``group`` exists and is enabled (the webhook's cheap question)."""
        return await self._ask(subjects.QUERY_SCALER_GROUP_STATUS, GroupStatusQuery(group=group), GroupStatusReply)

    async def save_group(self, spec: dict[str, Any], *, create: bool, actor: str) -> GroupReply:
        """Create (``create``) or replace a group's settings; ``InvalidInput`` lists the reasons."""
        query = SaveGroup(spec=spec, create=create, actor=actor)
        return await self._ask(subjects.QUERY_SCALER_SAVE_GROUP, query, GroupReply)

    async def validate(self, spec: dict[str, Any]) -> ValidationReply:
        """The problems of ``spec`` (nothing stored)."""
        return await self._ask(subjects.QUERY_SCALER_VALIDATE, ValidateGroup(spec=spec), ValidationReply)

    async def dry_run(self, name: str) -> DryRunReply:
        """Each trigger's decision now, with the values it sees (nothing stored or started)."""
        return await self._ask(subjects.QUERY_SCALER_DRY_RUN, DryRunGroup(name=name), DryRunReply)

    async def delete_group(self, name: str, *, actor: str) -> OperationReply:
        """Delete a group (its VMs stay)."""
        return await self._ask(subjects.QUERY_SCALER_DELETE_GROUP, DeleteGroup(name=name, actor=actor), OperationReply)

    async def set_enabled(self, name: str, enabled: bool, *, actor: str) -> GroupReply:
        """Enable or disable a group."""
        query = SetGroupEnabled(name=name, enabled=enabled, actor=actor)
        return await self._ask(subjects.QUERY_SCALER_SET_ENABLED, query, GroupReply)

    async def scale(
        self, group: str, *, desired: int | None, delta: int | None, honor_cooldown: bool, actor: str
    ) -> ScaleReply:
        """Manual scaling to ``desired`` or by ``delta`` (the scaler enforces min/max)."""
        query = ManualScale(group=group, desired=desired, delta=delta, honor_cooldown=honor_cooldown, actor=actor)
        return await self._ask(subjects.QUERY_SCALER_SCALE, query, ScaleReply)

    async def suspend(self, group: str, *, suspend: tuple[str, ...], resume: tuple[str, ...], actor: str) -> GroupReply:
        """Suspend and resume scaling processes."""
        query = SetSuspendedProcesses(group=group, suspend=suspend, resume=resume, actor=actor)
        return await self._ask(subjects.QUERY_SCALER_SUSPEND, query, GroupReply)

    # -- instances --------------------------------------------------------------------------

    async def instances(self, group: str, *, include_terminated: bool = False) -> InstancesReply:
        """A group's instances."""
        query = ListInstances(group=group, include_terminated=include_terminated)
        return await self._ask(subjects.QUERY_SCALER_INSTANCES, query, InstancesReply)

    async def protect(self, group: str, vm_name: str, protected: bool, *, actor: str) -> InstanceReply:
        """Protect an instance from scale-in, or lift the protection."""
        query = ProtectInstance(group=group, vm_name=vm_name, protected=protected, actor=actor)
        return await self._ask(subjects.QUERY_SCALER_PROTECT, query, InstanceReply)

    async def detach(self, group: str, vm_name: str, *, actor: str) -> InstanceReply:
        """Take a VM out of its group (it keeps running)."""
        query = DetachInstance(group=group, vm_name=vm_name, actor=actor)
        return await self._ask(subjects.QUERY_SCALER_DETACH, query, InstanceReply)

    async def adopt(self, group: str, vm_name: str, address: str, *, job: str) -> InstanceCallbackReply:
        """Adopt a VM a Jenkins pipeline created (idempotent)."""
        query = AdoptInstance(group=group, vm_name=vm_name, address=address, job=job)
        return await self._ask(subjects.QUERY_SCALER_ADOPT, query, InstanceCallbackReply)

    async def mark_gone(self, group: str, vm_name: str, address: str) -> InstanceCallbackReply:
        """Mark a VM a Jenkins pipeline deleted as gone (idempotent)."""
        query = MarkInstanceGone(group=group, vm_name=vm_name, address=address)
        return await self._ask(subjects.QUERY_SCALER_MARK_GONE, query, InstanceCallbackReply)

    # -- activities and decisions -----------------------------------------------------------

    async def activities(
        self,
        *,
        group: str | None,
        status: str | None,
        limit: int,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> ActivitiesReply:
        """Activities, newest first, filtered; ``since``/``until`` bound when they were created."""
        query = ListActivities(group=group, status=status, since=since, until=until, limit=limit)
        return await self._ask(subjects.QUERY_SCALER_ACTIVITIES, query, ActivitiesReply)

    async def activity(self, activity_id: str) -> ActivityReply:
        """One activity with its steps."""
        return await self._ask(subjects.QUERY_SCALER_ACTIVITY, GetActivity(activity_id=activity_id), ActivityReply)

    async def cancel(self, activity_id: str, *, actor: str) -> ActivityReply:
        """Cancel a running activity (its completed steps are compensated)."""
        query = CancelActivity(activity_id=activity_id, actor=actor)
        return await self._ask(subjects.QUERY_SCALER_CANCEL, query, ActivityReply)

    async def decisions(
        self,
        *,
        group: str | None,
        limit: int,
        allowed: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> DecisionsReply:
        """Decisions, allowed or blocked, filtered."""
        query = ListDecisions(group=group, allowed=allowed, since=since, until=until, limit=limit)
        return await self._ask(subjects.QUERY_SCALER_DECISIONS, query, DecisionsReply)

    # -- IP pools ---------------------------------------------------------------------------

    async def ip_pools(self) -> IpPoolsReply:
        """Every IP pool with its leases."""
        return await self._ask(subjects.QUERY_SCALER_IP_POOLS, ListIpPools(), IpPoolsReply)

    async def save_ip_pool(self, spec: dict[str, Any], *, actor: str) -> IpPoolReply:
        """Create or replace an IP pool."""
        return await self._ask(subjects.QUERY_SCALER_SAVE_IP_POOL, SaveIpPool(spec=spec, actor=actor), IpPoolReply)

    async def delete_ip_pool(self, name: str, *, actor: str) -> OperationReply:
        """Delete an IP pool nobody uses."""
        query = DeleteIpPool(name=name, actor=actor)
        return await self._ask(subjects.QUERY_SCALER_DELETE_IP_POOL, query, OperationReply)
