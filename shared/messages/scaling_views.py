"""The scaler's read models as they travel in replies (groups, instances, activities, decisions,
IP pools, drift, a dry run's outcome): frozen, and strict about unknown fields."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.messages.base import UtcDatetime

__all__ = [
    "ActivityView",
    "DecisionView",
    "DriftView",
    "DryRunOutcome",
    "GroupView",
    "InstanceView",
    "IpLeaseView",
    "IpPoolView",
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


class DryRunOutcome(_View):
    """What one trigger of a group would decide now (nothing is stored or claimed)."""

    trigger: str
    allowed: bool
    delta: int = 0
    reason: str
    message: str
    rule: str
    observed: dict[str, Any] = Field(default_factory=dict)
