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

from pydantic import BaseModel, ConfigDict, Field

from shared.messages.base import Event, Query, Reply, UtcDatetime

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


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GroupView(_View):
    """A scaling group: its settings (``spec``) and what it is doing."""

    name: str
    enabled: bool
    min_size: int
    max_size: int
    size: int = Field(description="pending + provisioning + in service: the count decisions use")
    in_service: int = 0
    suspended: tuple[str, ...] = ()
    alerts_status: str = "none"
    alerts_detail: str = ""
    scale_in_silenced: bool = False
    last_scale_out_at: UtcDatetime | None = None
    last_scale_in_at: UtcDatetime | None = None
    failure_backoff_until: UtcDatetime | None = None
    failure_backoff: str = Field(default="", description="direction and cause of the back-off after a failed activity")
    active_activity: str | None = None
    spec: dict[str, Any] = Field(default_factory=dict)
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class InstanceView(_View):
    """A member of a group."""

    group: str
    vm_name: str
    address: str | None = None
    state: str
    protected: bool = False
    base: bool = False
    activity_id: str | None = None
    created_at: UtcDatetime


class StepView(_View):
    """One step (or compensation) of one VM of an activity."""

    vm_name: str
    step: str
    phase: str
    status: str
    attempts: int = 0
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None
    error: str | None = None


class ActivityView(_View):
    """A scaling activity (saga) with its steps."""

    id: str
    group: str
    kind: str
    status: str
    cause: str
    decision_id: str | None = None
    created_at: UtcDatetime
    finished_at: UtcDatetime | None = None
    failed_step: str | None = None
    reason: str | None = None
    vm_names: tuple[str, ...] = ()
    steps: tuple[StepView, ...] = ()


class DecisionView(_View):
    """Why the scaler did (or did not) scale, with the values it saw."""

    id: str
    group: str
    at: UtcDatetime
    allowed: bool
    delta: int = 0
    reason: str
    message: str
    trigger: str
    rule: str
    observed: dict[str, Any] = Field(default_factory=dict)
    activity_id: str | None = None


class IpLeaseView(_View):
    """An address held by a VM."""

    address: str
    group: str
    vm_name: str
    state: str
    activity_id: str | None = None
    updated_at: UtcDatetime


class IpPoolView(_View):
    """An IP pool with its usage."""

    name: str
    network: str
    gateway: str | None = None
    dns: tuple[str, ...] = ()
    ranges: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()
    ping_check: bool = False
    capacity: int = 0
    free: int = 0
    leases: tuple[IpLeaseView, ...] = ()


class DriftView(_View):
    """The instance table compared with the load balancer and Prometheus."""

    instances: int
    prometheus_targets: int | None = None
    notes: tuple[str, ...] = ()
    pool_members: int | None = None
    missing_from_pool: tuple[str, ...] = ()
    unexpected_in_pool: tuple[str, ...] = ()
    pool_checked_at: UtcDatetime | None = None


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


class DryRunOutcome(_View):
    """What one trigger of a group would decide now (nothing is stored or claimed)."""

    trigger: str
    allowed: bool
    delta: int = 0
    reason: str
    message: str
    rule: str
    observed: dict[str, Any] = Field(default_factory=dict)


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
    """Activities, newest first."""

    group: str | None = None
    status: str | None = None
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
