"""The scaler's queries and operator requests (gateway → scaler, core request/reply).

Reads are ``query.scaler.<noun>``. Operator changes (group create/update/delete/enable/disable,
manual scaling, suspend/resume, protect, cancel, IP pools) also travel as request/reply on
``query.scaler.<verb>`` subjects, because the caller needs the outcome at once (a validation
error is a 400 with nothing changed); the scaler records each change and publishes what follows
from it (alert provisioning, commands) through its outbox. Every reply carries ``error`` /
``error_kind`` (a ``shared.errors`` class name) instead of data when the request failed.

Group settings travel as a plain ``dict`` (``spec``) whose schema is the scaler's
``ScalingGroup``: the scaler validates it and answers ``InvalidInput`` with the reasons.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.messages.base import Event, Query, Reply, UtcDatetime
from shared.messages.scaling_views import (
    ActivityView,
    DecisionView,
    DriftView,
    DryRunOutcome,
    GroupView,
    InstanceView,
    IpLeaseView,
    IpPoolView,
    StepView,
)

__all__ = [
    "ActivitiesReply",
    "ActivityReply",
    "ActivityView",
    "CancelActivity",
    "DecisionView",
    "DecisionsReply",
    "DeleteGroup",
    "DeleteIpPool",
    "DriftView",
    "DryRunOutcome",
    "GetActivity",
    "GetGroup",
    "GroupDriftDetected",
    "GroupReply",
    "GroupView",
    "GroupsReply",
    "InstanceReply",
    "InstanceView",
    "InstancesReply",
    "IpLeaseView",
    "IpPoolReply",
    "IpPoolView",
    "IpPoolsReply",
    "ListActivities",
    "ListDecisions",
    "ListGroups",
    "ListInstances",
    "ListIpPools",
    "ManualScale",
    "OperationReply",
    "ProtectInstance",
    "SaveGroup",
    "SaveIpPool",
    "ScaleReply",
    "SetGroupEnabled",
    "SetSuspendedProcesses",
    "StepView",
]


class GroupDriftDetected(Event):
    """The group's instance table and its load balancer pool disagree (or the load balancer
    reported drift on the pool). Reported only; neither side is changed."""

    group: str
    pool: str
    source: str
    missing_from_pool: tuple[str, ...] = ()
    unexpected_in_pool: tuple[str, ...] = ()
    note: str = ""


class OrphanVmsDetected(Event):
    """VMs carrying our tag for ``group`` with no live instance record (reported, never deleted).

    Published when the set changes; an empty ``vm_names`` says the orphans are gone.
    """

    group: str
    vm_names: tuple[str, ...] = ()


# -- queries ----------------------------------------------------------------------------------


class ListGroups(Query):
    """Every scaling group."""


class GroupsReply(Reply):
    """Answer to ``ListGroups``."""

    groups: tuple[GroupView, ...] = ()


class GetGroup(Query):
    """One group with its instances, recent activities and drift."""

    name: str


class GroupReply(Reply):
    """A group (after a query or a change); ``problems`` lists partial failures of a change."""

    group: GroupView | None = None
    instances: tuple[InstanceView, ...] = ()
    activities: tuple[ActivityView, ...] = ()
    drift: DriftView | None = None
    problems: tuple[str, ...] = ()


class ListActivities(Query):
    """Activities, newest first; ``since``/``until`` bound when they were created."""

    group: str | None = None
    status: str | None = None
    since: UtcDatetime | None = None
    until: UtcDatetime | None = None
    limit: int = Field(default=50, ge=1, le=500)


class ActivitiesReply(Reply):
    """Answer to ``ListActivities``."""

    activities: tuple[ActivityView, ...] = ()


class GetActivity(Query):
    """One activity with its steps."""

    activity_id: str


class ActivityReply(Reply):
    """One activity."""

    activity: ActivityView | None = None


class ListDecisions(Query):
    """Decisions, newest first: "why did it (not) scale?"."""

    group: str | None = None
    allowed: bool | None = None
    since: UtcDatetime | None = None
    until: UtcDatetime | None = None
    limit: int = Field(default=100, ge=1, le=1000)


class DecisionsReply(Reply):
    """Answer to ``ListDecisions``."""

    decisions: tuple[DecisionView, ...] = ()


class ListInstances(Query):
    """Instances of one group (every group when ``group`` is None)."""

    group: str | None = None
    include_terminated: bool = False


class InstancesReply(Reply):
    """Answer to ``ListInstances``."""

    instances: tuple[InstanceView, ...] = ()


class ListIpPools(Query):
    """Every IP pool with its leases."""


class IpPoolsReply(Reply):
    """Answer to ``ListIpPools``."""

    pools: tuple[IpPoolView, ...] = ()


class ValidateGroup(Query):
    """Check a group's settings without saving them: validations, flapping lint, resources."""

    spec: dict[str, Any]


class ValidationReply(Reply):
    """Answer to ``ValidateGroup``: empty ``problems`` means the settings can be saved and enabled."""

    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


class DryRunGroup(Query):
    """ "What would happen now and why": each trigger's decision, computed but not acted on."""

    name: str


class DryRunReply(Reply):
    """Answer to ``DryRunGroup``."""

    outcomes: tuple[DryRunOutcome, ...] = ()


# -- operator requests ------------------------------------------------------------------------


class SaveGroup(Query):
    """Create (``create``) or replace a group's settings; re-provisions alerts when needed."""

    spec: dict[str, Any]
    create: bool = True
    actor: str = "operator"


class DeleteGroup(Query):
    """Delete a group: alerts, routes and silences go, its VMs stay."""

    name: str
    actor: str = "operator"


class SetGroupEnabled(Query):
    """Enable (provision alerts after checking job, template and pool) or disable a group."""

    name: str
    enabled: bool
    actor: str = "operator"


class ManualScale(Query):
    """Set the desired capacity (or change it by ``delta``)."""

    group: str
    desired: int | None = Field(default=None, ge=0)
    delta: int | None = None
    honor_cooldown: bool = False
    """False (default): the operator acts deliberately, so neither the cooldown nor the back-off
    after a failed activity holds the request; True: it waits for both like any trigger."""
    actor: str = "operator"


class ScaleReply(Reply):
    """The decision taken for a manual request (and the activity it started)."""

    decision: DecisionView | None = None


class SetSuspendedProcesses(Query):
    """Suspend or resume scaling processes (scale_out, scale_in, alerts, target_tracking, scheduled)."""

    group: str
    suspend: tuple[str, ...] = ()
    resume: tuple[str, ...] = ()
    actor: str = "operator"


class DetachInstance(Query):
    """Take a VM out of its group without touching the VM (its address leaves the IP pool)."""

    group: str
    vm_name: str
    actor: str = "operator"


class ProtectInstance(Query):
    """Protect an instance from scale-in (or lift the protection)."""

    group: str
    vm_name: str
    protected: bool = True
    actor: str = "operator"


class InstanceReply(Reply):
    """One instance after a change."""

    instance: InstanceView | None = None


class CancelActivity(Query):
    """Cancel a running activity: its completed steps are compensated."""

    activity_id: str
    actor: str = "operator"


class SaveIpPool(Query):
    """Create or replace an IP pool (schema: the scaler's ``IpPool``)."""

    spec: dict[str, Any]
    actor: str = "operator"


class IpPoolReply(Reply):
    """One pool after a change."""

    pool: IpPoolView | None = None


class DeleteIpPool(Query):
    """Delete an IP pool no group uses and no VM holds an address of."""

    name: str
    actor: str = "operator"


class OperationReply(Reply):
    """The outcome of a request that returns nothing else."""

    ok: bool = False
    message: str = ""
    problems: tuple[str, ...] = ()
