"""Frozen values of the scaler's domain: a group's settings and the policies that scale it.

A ``ScalingGroup`` carries the original's configuration fields (docs/original-system.md §5.1) with its MUST
validations, plus separate scale-out / scale-in cooldowns, a member port separate from the VIP
port and a lint that refuses settings which would flap. Every model is immutable; "changing" one
is ``model_copy(update=...)``. Pools (``ippool``), instances (``instances``), timers
(``timer_values``) and run-time state and readings (``state``) live beside this module and are
re-exported here, so ``domain.model`` still names every value.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from services.scaler.domain.instances import CAPACITY_STATES, Instance, InstanceState
from services.scaler.domain.ippool import IpLease, IpPool, IpRange, LeaseState
from services.scaler.domain.state import (
    AlertSignal,
    Condition,
    GroupState,
    MetricHistory,
    MetricPoint,
    MetricReading,
    Observed,
)
from services.scaler.domain.timer_values import FailureBackoff, QuietMark, Recommendation
from services.scaler.domain.values import GROUP_NAME_PATTERN, NAME_PATTERN, Frozen
from shared.vocabulary import Placement

__all__ = [
    "CAPACITY_STATES",
    "GROUP_NAME_PATTERN",
    "NAME_PATTERN",
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
    "QuietMark",
    "Recommendation",
    "ScalingGroup",
    "ScheduledAction",
    "StepPolicy",
    "TargetTrackingPolicy",
    "Thresholds",
    "VictimOrder",
    "flapping_problems",
]


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


HOOK_REF_PATTERN = r"^(env:[A-Za-z_][A-Za-z0-9_]{0,127}|file:[A-Za-z0-9][A-Za-z0-9_.-]{0,127})$"
"""A hook's secret reference: ``env:NAME`` or ``file:NAME`` (one path segment)."""


class HookSpec(Frozen):
    """A lifecycle hook: a Jenkins job (``target`` = job name) or an HTTP URL (POST JSON).

    ``secret_ref`` (HTTP only) names the secret the call authenticates with, ``env:NAME`` or
    ``file:NAME``, resolved by the scaler at call time and sent as a bearer token: the group
    holds the name, never the secret (see ``services/scaler/adapters/hook_secrets.py``).
    """

    kind: Literal["jenkins", "http"]
    target: str = Field(min_length=1)
    parameters: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(default=600, gt=0)
    secret_ref: str | None = None

    @field_validator("secret_ref")
    @classmethod
    def _secret_ref_is_a_name(cls, value: str | None) -> str | None:
        # the message never repeats the value: a token typed here by mistake stays out of replies
        if value is not None and re.fullmatch(HOOK_REF_PATTERN, value) is None:
            raise ValueError(
                "secret_ref names where the secret is, not the secret: env:NAME (an environment "
                "variable of the scaler) or file:NAME (a file in HOOK_SECRETS_DIR)"
            )
        return value

    @model_validator(mode="after")
    def _secret_ref_for_http(self) -> HookSpec:
        if self.secret_ref and self.kind != "http":
            raise ValueError("secret_ref is for HTTP hooks; Jenkins hooks use the scaler's Jenkins credentials")
        return self


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

    def recommend(self, size: int, value: float) -> int:
        """HPA's recommendation: ``ceil(size x value / target)``, or ``size`` within tolerance."""
        ratio = value / self.target
        if abs(ratio - 1.0) <= self.tolerance or size == 0:
            return size
        return ceil_ratio(size, value, self.target)


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
    """A group of VMs scaled as one service (docs/original-system.md §5.1, with its MUST validations)."""

    name: str = Field(pattern=GROUP_NAME_PATTERN)
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
    repair_drift: bool = True
    """Re-add in-service VMs missing from the load balancer pool and remove the members of VMs
    vmscale terminated; members vmscale never added are only reported."""

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
    """Settings under which a scale-in would at once trigger a scale-out.

    Scale-in needs every VM below the low thresholds. A step of ``k`` VMs is felt most at the
    smallest size it can be taken whole from, ``min_size + k``: the load of ``min + k`` VMs spread
    over ``min`` multiplies each VM's utilisation by ``(min + k) / min`` (larger sizes lose a
    smaller share). If the low threshold times that factor reaches the high threshold, the next
    evaluation scales out again.
    """
    step = group.scale_in_step
    factor = (group.min_size + step) / group.min_size
    t = group.thresholds
    problems = []
    for label, low, high in (("CPU", t.cpu_low, t.cpu_high), ("memory", t.memory_low, t.memory_high)):
        if low * factor >= high:
            problems.append(
                f"{label} {low:g}% on {group.min_size + step} VMs becomes {low * factor:.4g}% on "
                f"{group.min_size}{f' after a scale-in of {step}' if step > 1 else ''}, "
                f"at or above the scale-out threshold {high:g}%"
            )
    return problems


def ceil_ratio(current: int, value: float, target: float) -> int:
    """``ceil(current x value / target)`` with a guard against float noise."""
    return math.ceil(round(current * value / target, 9))
