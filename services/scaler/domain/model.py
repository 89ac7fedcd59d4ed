"""Frozen values of the scaler's domain: groups, policies, pools, instances, observations.

A ``ScalingGroup`` carries the original's configuration fields (SPEC-ORIGINAL §5.1) with its MUST
validations, plus separate scale-out / scale-in cooldowns, a member port separate from the VIP
port and a lint that refuses settings which would flap. Every model is immutable; "changing" one
is ``model_copy(update=...)``.
"""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.messages import Placement, ScaleDirection, UtcDatetime

__all__ = [
    "AlertSignal",
    "Condition",
    "Converge",
    "FailureBackoff",
    "Frozen",
    "GroupState",
    "HookSpec",
    "Instance",
    "InstanceState",
    "IpLease",
    "IpPool",
    "IpRange",
    "LeaseState",
    "LostVm",
    "ManualChange",
    "MetricHistory",
    "MetricPoint",
    "MetricReading",
    "Observed",
    "Policy",
    "Process",
    "Recommendation",
    "ScalingGroup",
    "ScheduledAction",
    "StepPolicy",
    "TargetTrackingPolicy",
    "Thresholds",
    "VictimOrder",
    "flapping_problems",
]

NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
"""Group names and VM prefixes: a path component and a substring of receiver names (§5.1)."""


class Frozen(BaseModel):
    """Base of every domain value: immutable and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class VictimOrder(StrEnum):
    """Which autoscaled instances a scale-in removes first."""

    NEWEST = "newest"
    OLDEST = "oldest"
    LEAST_BUSY = "least_busy"


class Process(StrEnum):
    """Scaling processes an operator can suspend (like AWS Auto Scaling's)."""

    SCALE_OUT = "scale_out"
    SCALE_IN = "scale_in"
    ALERTS = "alerts"
    TARGET_TRACKING = "target_tracking"
    SCHEDULED = "scheduled"


class Thresholds(Frozen):
    """The two alert rules of the original: scale out above, scale in below (percent)."""

    cpu_high: float = Field(default=80, gt=0, le=100)
    memory_high: float = Field(default=80, gt=0, le=100)
    out_for_s: int = Field(default=300, ge=1)
    cpu_low: float = Field(default=30, ge=0, lt=100)
    memory_low: float = Field(default=30, ge=0, lt=100)
    in_for_s: int = Field(default=600, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.cpu_low >= self.cpu_high:
            raise ValueError("scale-in CPU threshold must be below the scale-out one")
        if self.memory_low >= self.memory_high:
            raise ValueError("scale-in memory threshold must be below the scale-out one")
        if self.in_for_s <= self.out_for_s:
            raise ValueError("scale-in duration must be strictly longer than the scale-out duration")
        return self


class HookSpec(Frozen):
    """A lifecycle hook: a Jenkins job (``target`` = job name) or an HTTP URL (POST JSON)."""

    kind: Literal["jenkins", "http"]
    target: str = Field(min_length=1)
    parameters: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(default=600, gt=0)


class StepPolicy(Frozen):
    """The original's alert-driven policy: ``<group>_HighResourceUsage`` / ``_LowResourceUsage``."""

    kind: Literal["step"] = "step"


class TargetTrackingPolicy(Frozen):
    """Keep a metric near ``target`` like Kubernetes' HPA: desired = ceil(n x value / target)."""

    kind: Literal["target_tracking"] = "target_tracking"
    name: str = "target"
    metric: Literal["cpu", "memory", "custom"] = "cpu"
    query: str | None = None
    target: float = Field(gt=0)
    tolerance: float = Field(default=0.1, ge=0, lt=1)
    up_stabilization_s: int = Field(default=0, ge=0)
    down_stabilization_s: int = Field(default=300, ge=0)
    interval_s: int = Field(default=15, ge=1)

    @model_validator(mode="after")
    def _query_for_custom(self) -> TargetTrackingPolicy:
        if self.metric == "custom" and not self.query:
            raise ValueError("a custom target-tracking metric needs a PromQL query")
        return self


class ScheduledAction(Frozen):
    """Set the desired capacity on a cron schedule in a time zone."""

    kind: Literal["scheduled"] = "scheduled"
    name: str = Field(min_length=1, max_length=64)
    cron: str = Field(min_length=9)
    timezone: str = "UTC"
    desired: int = Field(ge=0)

    @model_validator(mode="after")
    def _valid_schedule(self) -> ScheduledAction:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        from croniter import croniter

        if not croniter.is_valid(self.cron):
            raise ValueError(f"invalid cron expression {self.cron!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        return self


class ManualChange(Frozen):
    """An operator's request: a new desired capacity, or a relative change."""

    kind: Literal["manual"] = "manual"
    desired: int | None = Field(default=None, ge=0)
    delta: int | None = None
    honor_cooldown: bool = False
    actor: str = "operator"

    @model_validator(mode="after")
    def _one_of(self) -> ManualChange:
        if (self.desired is None) == (self.delta is None):
            raise ValueError("give exactly one of desired or delta")
        if self.delta == 0:
            raise ValueError("delta must not be zero")
        return self


class LostVm(Frozen):
    """An instance whose VM vCenter no longer runs, and why it counts as lost."""

    vm_name: str
    reason: str


class Converge(Frozen):
    """Bring the group back inside its limits (like an ASG's health check and capacity repair):
    ``lost`` VMs are removed from the group (their member, target and address freed) and owed a
    replacement; below min grows to min; owed replacements are launched; above max shrinks."""

    kind: Literal["converge"] = "converge"
    lost: tuple[LostVm, ...] = ()


Policy = Annotated[
    StepPolicy | TargetTrackingPolicy | ScheduledAction | ManualChange | Converge, Field(discriminator="kind")
]
"""Everything that can ask a group to change size."""


class ScalingGroup(Frozen):
    """A group of VMs scaled as one service (SPEC-ORIGINAL §5.1, with its MUST validations)."""

    name: str = Field(pattern=NAME_PATTERN)
    vm_prefix: str = Field(pattern=NAME_PATTERN, max_length=40)
    template: str = Field(min_length=1, max_length=80, pattern=r"^\S(.*\S)?$")
    prometheus_job: str = Field(min_length=1, pattern=r"^[a-zA-Z_][a-zA-Z0-9_:-]*$")
    thresholds: Thresholds = Thresholds()
    min_size: int = Field(ge=1)
    max_size: int = Field(ge=1)
    scale_out_step: int = Field(default=1, ge=1)
    scale_in_step: int = Field(default=1, ge=1)
    scale_out_cooldown_s: int = Field(default=300, ge=0)
    scale_in_cooldown_s: int = Field(default=300, ge=0)
    pool: str = Field(min_length=1, pattern=r"^\S+$")
    vip: str = Field(min_length=1)
    vip_port: int = Field(default=80, ge=1, le=65535)
    member_port: int = Field(default=80, ge=1, le=65535)
    health_path: str = Field(default="/", pattern=r"^/\S*$")
    monitoring_port: int = Field(default=9100, ge=1, le=65535)
    placement: Placement = Placement()
    network: str | None = None
    ip_pool: str = Field(min_length=1)
    ssh_credentials_ref: str = ""
    victim_order: VictimOrder = VictimOrder.NEWEST
    drain_timeout_s: float = Field(default=300, ge=0)
    post_provision_hook: HookSpec | None = None
    pre_termination_hook: HookSpec | None = None
    policies: tuple[TargetTrackingPolicy | ScheduledAction, ...] = ()
    alert_fresh_s: float = Field(default=120, gt=0)
    enabled: bool = False
    suspended: frozenset[Process] = frozenset()

    @model_validator(mode="after")
    def _rules(self) -> ScalingGroup:
        if self.min_size > self.max_size:
            raise ValueError("min_size must not exceed max_size")
        if "template" in self.vm_prefix:
            raise ValueError("vm_prefix must not contain the word 'template'")
        names = [p.name for p in self.policies]
        if len(names) != len(set(names)):
            raise ValueError("policy names must be unique within a group")
        problems = flapping_problems(self)
        if problems:
            raise ValueError("settings would flap: " + "; ".join(problems))
        return self

    @property
    def scale_out_alert(self) -> str:
        """The original's scale-out alert name."""
        return f"{self.name}_HighResourceUsage"

    @property
    def scale_in_alert(self) -> str:
        """The original's scale-in alert name."""
        return f"{self.name}_LowResourceUsage"

    def target_tracking(self) -> TargetTrackingPolicy | None:
        """The group's target-tracking policy, if it has one."""
        for policy in self.policies:
            if isinstance(policy, TargetTrackingPolicy):
                return policy
        return None


def flapping_problems(group: ScalingGroup) -> list[str]:
    """Settings under which removing one VM would at once trigger a scale-out.

    Scale-in needs every VM below the low thresholds; the first size at which it may happen is
    ``min_size + 1``. Removing one VM there spreads the load over ``min_size`` VMs, multiplying
    each VM's utilisation by ``(min + 1) / min``. If the low threshold times that factor reaches
    the high threshold, the next evaluation scales out again.
    """
    factor = (group.min_size + 1) / group.min_size
    t = group.thresholds
    problems = []
    for label, low, high in (("CPU", t.cpu_low, t.cpu_high), ("memory", t.memory_low, t.memory_high)):
        if low * factor >= high:
            problems.append(
                f"{label} {low:g}% on {group.min_size + 1} VMs becomes {low * factor:.4g}% on "
                f"{group.min_size}, at or above the scale-out threshold {high:g}%"
            )
    return problems


class IpRange(Frozen):
    """An inclusive IPv4 range."""

    start: IPv4Address
    end: IPv4Address

    @model_validator(mode="after")
    def _ordered(self) -> IpRange:
        if int(self.start) > int(self.end):
            raise ValueError(f"range start {self.start} is after its end {self.end}")
        return self


class IpPool(Frozen):
    """Addresses handed to new VMs. Network, broadcast and gateway are never handed out."""

    name: str = Field(pattern=NAME_PATTERN)
    network: IPv4Network
    ranges: tuple[IpRange, ...] = Field(min_length=1)
    gateway: IPv4Address | None = None
    dns: tuple[IPv4Address, ...] = ()
    exclusions: frozenset[IPv4Address] = frozenset()
    ping_check: bool = False

    @model_validator(mode="before")
    @classmethod
    def _netmask(cls, data: Any) -> Any:
        # Accept the original's "subnet" netmask beside a gateway: 255.255.255.0 + 127.0.0.1.
        if isinstance(data, dict) and "network" not in data and "netmask" in data:
            data = dict(data)
            netmask = data.pop("netmask")
            anchor = data.get("gateway") or data["ranges"][0]["start"]
            data["network"] = IPv4Network(f"{anchor}/{netmask}", strict=False)
        return data

    @model_validator(mode="after")
    def _inside(self) -> IpPool:
        for rng in self.ranges:
            if rng.start not in self.network or rng.end not in self.network:
                raise ValueError(f"range {rng.start}-{rng.end} is outside {self.network}")
        if self.gateway is not None and self.gateway not in self.network:
            raise ValueError(f"gateway {self.gateway} is outside {self.network}")
        return self

    def network_addresses(self) -> tuple[IPv4Address, ...]:
        """The network's own address and broadcast (empty for /31 and /32)."""
        if self.network.prefixlen >= 31:
            return ()
        return (self.network.network_address, self.network.broadcast_address)


class LeaseState(StrEnum):
    """Life of an address lease."""

    RESERVED = "reserved"
    CONFIRMED = "confirmed"
    RELEASED = "released"


class IpLease(Frozen):
    """One address of a pool, held by a VM (reserved while provisioning, confirmed in service)."""

    pool: str
    address: IPv4Address
    group: str
    vm_name: str
    activity_id: str | None = None
    state: LeaseState = LeaseState.RESERVED
    updated_at: UtcDatetime


class InstanceState(StrEnum):
    """Life of a group member."""

    PENDING = "pending"
    PROVISIONING = "provisioning"
    IN_SERVICE = "in_service"
    DRAINING = "draining"
    TERMINATING = "terminating"
    TERMINATED = "terminated"
    FAILED = "failed"


CAPACITY_STATES = frozenset({InstanceState.PENDING, InstanceState.PROVISIONING, InstanceState.IN_SERVICE})
"""States counted as the group's size: in-flight scale-outs count toward max."""


class Instance(Frozen):
    """A VM of a group. ``base`` VMs (imported, pre-existing) are never scaled in."""

    group: str
    vm_name: str
    address: IPv4Address | None = None
    state: InstanceState = InstanceState.PENDING
    protected: bool = False
    base: bool = False
    activity_id: str | None = None
    created_at: UtcDatetime
    moref: str | None = None
    instance_uuid: str | None = None
    load: float | None = None

    @property
    def counts(self) -> bool:
        """True when the instance is part of the group's size."""
        return self.state in CAPACITY_STATES

    @property
    def removable(self) -> bool:
        """True when a scale-in may choose it: autoscaled, unprotected and in service."""
        return not self.base and not self.protected and self.state is InstanceState.IN_SERVICE


class AlertSignal(Frozen):
    """A firing alert as the decision sees it."""

    alertname: str
    fingerprint: str
    starts_at: UtcDatetime
    received_at: UtcDatetime
    labels: dict[str, str] = Field(default_factory=dict)
    first: bool = True
    """The first notification of the episode the scaler decides on (not a repeat)."""


class MetricReading(Frozen):
    """What Prometheus said just now (``available`` false when it could not be asked)."""

    available: bool
    cpu: float | None = None
    memory: float | None = None
    value: float | None = None
    queries: dict[str, str] = Field(default_factory=dict)
    error: str | None = None


class MetricPoint(Frozen):
    """The group's busiest-instance CPU and memory at one evaluation time (None: no data then).

    ``at`` is the evaluation time; a value computed with ``rate()`` uses the raw samples of
    ``[at - rate_window, at]``, so the point is evidence only of what happened after
    ``at - rate_window`` (``MetricHistory.rate_window_s``)."""

    at: UtcDatetime
    cpu: float | None = None
    memory: float | None = None


class MetricHistory(Frozen):
    """The alert rules' two expressions evaluated every ``step_s`` over a window, oldest first:
    what the scaler's level-triggered evaluation reads (``available`` false when Prometheus could
    not be asked; then ``error`` says why)."""

    available: bool
    points: tuple[MetricPoint, ...] = ()
    step_s: float = 15.0
    rate_window_s: float = 0.0
    queries: dict[str, str] = Field(default_factory=dict)
    error: str | None = None

    @property
    def latest(self) -> MetricPoint | None:
        """The newest point, or None when the window holds none."""
        return self.points[-1] if self.points else None


class Condition(Frozen):
    """What the step policy's rules say now (``domain.condition.assess``).

    ``direction`` is OUT while the high rule holds, IN while the low rule holds, None otherwise;
    ``available`` is false when Prometheus could not be asked or had no data (``why`` says which).
    ``evidence_from`` is the oldest raw sample the verdict rests on.
    """

    available: bool
    direction: ScaleDirection | None = None
    why: str
    cpu: float | None = None
    memory: float | None = None
    evidence_from: UtcDatetime | None = None
    points: int = 0


class Recommendation(Frozen):
    """A past target-tracking recommendation, kept for the stabilization windows."""

    at: UtcDatetime
    desired: int


class FailureBackoff(Frozen):
    """A pause in one direction after an activity failed (shorter than a cooldown)."""

    direction: ScaleDirection
    until: UtcDatetime
    activity_id: str
    reason: str = ""


class GroupState(Frozen):
    """Runtime state of a group kept beside its settings (never only in memory)."""

    last_scale_out_at: UtcDatetime | None = None
    last_scale_in_at: UtcDatetime | None = None
    lease_fence: int = 0
    scale_in_silenced: bool = False
    alerts_status: str = "none"
    alerts_detail: str = ""
    recommendations: tuple[Recommendation, ...] = ()
    schedule_runs: dict[str, UtcDatetime] = Field(default_factory=dict)
    last_tracking_at: UtcDatetime | None = None
    last_activity_end_at: UtcDatetime | None = None
    quiet_blocks: dict[str, str] = Field(default_factory=dict)
    pool_missing: tuple[str, ...] = ()
    """In-service instances the load balancer pool lacked when last compared."""
    pool_unexpected: tuple[str, ...] = ()
    """Pool members no instance of the group accounts for, when last compared."""
    pool_members: int | None = None
    pool_checked_at: UtcDatetime | None = None
    pool_note: str = ""
    """The load balancer's own drift report about the group's pool, if any."""
    failure_backoff: FailureBackoff | None = None
    """Set when an activity rolled back or failed; blocks the same direction until it ends."""
    replacements_owed: int = 0
    """Lost VMs removed from the group whose replacements have not been started yet."""
    scale_in_silence_at: UtcDatetime | None = None
    """When the scale-in silence was last set or renewed (it is renewed before it expires)."""


class Observed(Frozen):
    """Everything a decision looks at besides the group, the policy and the time."""

    instances: tuple[Instance, ...] = ()
    in_progress: str | None = None
    last_scale_out_at: UtcDatetime | None = None
    last_scale_in_at: UtcDatetime | None = None
    free_ips: int = 0
    alert: AlertSignal | None = None
    metrics: MetricReading | None = None
    recommendations: tuple[Recommendation, ...] = ()
    failure_backoff: FailureBackoff | None = None
    last_activity_end_at: UtcDatetime | None = None
    """When the group's latest activity ended: an alert received before it predates that change."""
    condition: Condition | None = None
    """The step policy's rules, read from Prometheus for this decision."""
    replacements: int = 0
    """Lost VMs (deleted, powered off) removed from the group and not replaced yet."""

    @property
    def size(self) -> int:
        """The group's size: instances pending, provisioning or in service."""
        return sum(1 for i in self.instances if i.counts)

    @property
    def removable(self) -> int:
        """How many instances a scale-in may choose."""
        return sum(1 for i in self.instances if i.removable)

    def summary(self) -> dict[str, Any]:
        """The inputs worth storing with a decision."""
        out: dict[str, Any] = {"size": self.size, "removable": self.removable, "free_ips": self.free_ips}
        if self.in_progress:
            out["in_progress"] = self.in_progress
        if self.alert is not None:
            out["alert"] = {
                "alertname": self.alert.alertname,
                "fingerprint": self.alert.fingerprint,
                "starts_at": self.alert.starts_at.isoformat(),
            }
        if self.metrics is not None:
            out["metrics"] = self.metrics.model_dump(mode="json", exclude_none=True)
        if self.condition is not None:
            out["condition"] = self.condition.model_dump(mode="json", exclude_none=True)
        if self.replacements:
            out["replacements"] = self.replacements
        return out


def ceil_ratio(current: int, value: float, target: float) -> int:
    """``ceil(current x value / target)`` with a guard against float noise."""
    return math.ceil(round(current * value / target, 9))


def as_utc(value: datetime) -> datetime:
    """Reject naive datetimes (domain code only ever compares aware UTC times)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value
