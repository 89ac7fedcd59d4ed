"""The pure scaling decision: ``decide(group, policy, observed, now) -> Allow | Block``.

No IO, no globals, no mutation. Order of the checks (every blocking condition is checked before
the cooldown, which the shell claims only for an ``Allow``; SPEC-ORIGINAL §7.3 MUST, lessons 1-3):

1. the group is disabled                         → ``disabled``
2. what the policy wants: the step policy's rules read from Prometheus (level-triggered, fresh
   evidence only: ``domain.condition``; an alert only brings the evaluation forward, and
   without Prometheus never scale in and scale out only on a fresh first notification), a
   target, a schedule, a manual request, or convergence (below min, lost VMs, above max)
                                                 → ``unknown_alert`` / ``stale_alert`` /
                                                   ``metrics_unavailable`` / ``no_change``
3. the process is suspended                      → ``suspended``
4. an activity runs                              → ``in_progress``
5. size limits, counted from the instance table  → ``at_max`` / ``at_min`` / ``no_victims``
6. free addresses for a scale-out                → ``ip_pool_exhausted``
7. a failed activity's back-off in the direction → ``failure_backoff`` (when it ends, and why)
8. the direction's cooldown                      → ``cooldown`` (with the time remaining)

Convergence skips 8 (capacity repair waits for no cooldown) but not 7.
A manual request with ``honor_cooldown=False`` (the default) skips both 7 and 8: the operator
acts deliberately, knowing the group's state; with ``honor_cooldown=True`` it waits like any
trigger. A rolled-back activity gives its cooldown claim back (``domain.backoff``), so after a
failure only the shorter back-off applies.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from services.scaler.domain.backoff import backoff_remaining
from services.scaler.domain.model import (
    Converge,
    Frozen,
    ManualChange,
    Observed,
    Policy,
    Process,
    ScalingGroup,
    ScheduledAction,
    StepPolicy,
    TargetTrackingPolicy,
    ceil_ratio,
)
from shared.messages import ScaleDirection

__all__ = [
    "Allow",
    "Block",
    "BlockReason",
    "Decision",
    "classify_alert",
    "decide",
    "rule_of",
    "scale_in_silence_wanted",
    "target_tracking_desired",
]


class BlockReason(StrEnum):
    """Why a decision did not scale."""

    COOLDOWN = "cooldown"
    AT_MAX = "at_max"
    AT_MIN = "at_min"
    IP_POOL_EXHAUSTED = "ip_pool_exhausted"
    SUSPENDED = "suspended"
    IN_PROGRESS = "in_progress"
    UNKNOWN_ALERT = "unknown_alert"
    STALE_ALERT = "stale_alert"
    METRICS_UNAVAILABLE = "metrics_unavailable"
    DISABLED = "disabled"
    NO_CHANGE = "no_change"
    NO_VICTIMS = "no_victims"
    FAILURE_BACKOFF = "failure_backoff"


class Allow(Frozen):
    """Scale by ``delta`` (positive: out, negative: in)."""

    kind: Literal["allow"] = "allow"
    delta: int
    reason: str
    rule: str

    @property
    def direction(self) -> ScaleDirection:
        """Which way the group moves."""
        return ScaleDirection.OUT if self.delta > 0 else ScaleDirection.IN

    @property
    def allowed(self) -> bool:
        """Always true."""
        return True


class Block(Frozen):
    """Do not scale, and say why."""

    kind: Literal["block"] = "block"
    reason: BlockReason
    message: str
    rule: str
    direction: ScaleDirection | None = None
    retry_after_s: float | None = None

    @property
    def allowed(self) -> bool:
        """Always false."""
        return False


Decision = Annotated[Allow | Block, Field(discriminator="kind")]
"""The outcome of ``decide``."""


class _Intent(Frozen):
    direction: ScaleDirection
    count: int
    why: str
    process: Process | None
    honor_cooldown: bool = True
    honor_backoff: bool = True


def rule_of(group: ScalingGroup, policy: Policy) -> str:
    """A short name for what produced a decision."""
    if isinstance(policy, Converge):
        return "converge"
    if isinstance(policy, TargetTrackingPolicy):
        return f"target_tracking:{policy.name}"
    if isinstance(policy, ScheduledAction):
        return f"scheduled:{policy.name}"
    if isinstance(policy, ManualChange):
        return f"manual:{policy.actor}"
    return "step"


def classify_alert(group: ScalingGroup, alertname: str, labels: dict[str, str]) -> ScaleDirection | None:
    """The direction an alert asks for, from the exact names only (never a default; lesson 9)."""
    service = labels.get("service")
    if service is not None and service != group.name:
        return None
    if alertname == group.scale_out_alert:
        return ScaleDirection.OUT
    if alertname == group.scale_in_alert:
        return ScaleDirection.IN
    return None


def target_tracking_desired(size: int, value: float, policy: TargetTrackingPolicy) -> int:
    """HPA's recommendation: ``ceil(size x value / target)``, or ``size`` within tolerance."""
    ratio = value / policy.target
    if abs(ratio - 1.0) <= policy.tolerance or size == 0:
        return size
    return ceil_ratio(size, value, policy.target)


def _stabilized(desired: int, size: int, policy: TargetTrackingPolicy, observed: Observed, now: datetime) -> int:
    """Apply HPA's stabilization windows to a raw recommendation.

    Scaling up uses the lowest recommendation of the up window; scaling down the highest of the
    down window, so a brief dip or spike does not move the group.
    """
    if desired > size:
        window = timedelta(seconds=policy.up_stabilization_s)
        past = [r.desired for r in observed.recommendations if now - r.at <= window]
        return max(size, min([desired, *past]))
    if desired < size:
        window = timedelta(seconds=policy.down_stabilization_s)
        past = [r.desired for r in observed.recommendations if now - r.at <= window]
        return min(size, max([desired, *past]))
    return desired


def _intent(group: ScalingGroup, policy: Policy, observed: Observed, now: datetime, rule: str) -> _Intent | Block:
    size = observed.size
    if isinstance(policy, StepPolicy):
        return _step_intent(group, observed, now, rule)
    if isinstance(policy, Converge):
        return _converge_intent(group, policy, observed, rule)
    if isinstance(policy, TargetTrackingPolicy):
        metrics = observed.metrics
        if metrics is None or not metrics.available or metrics.value is None:
            detail = metrics.error if metrics is not None and metrics.error else "no value"
            return Block(reason=BlockReason.METRICS_UNAVAILABLE, message=f"target metric: {detail}", rule=rule)
        raw = target_tracking_desired(size, metrics.value, policy)
        desired = max(_stabilized(raw, size, policy, observed, now), group.min_size)
        why = f"{policy.metric} {metrics.value:g} vs target {policy.target:g} on {size} VMs → {desired}"
        return _desired_intent(desired, size, why, Process.TARGET_TRACKING, rule)
    if isinstance(policy, ScheduledAction):
        desired = min(max(policy.desired, group.min_size), group.max_size)
        why = f"schedule {policy.name} ({policy.cron} {policy.timezone}) sets {desired}"
        return _desired_intent(desired, size, why, Process.SCHEDULED, rule)
    desired = policy.desired if policy.desired is not None else size + (policy.delta or 0)
    if desired > group.max_size:
        return Block(
            reason=BlockReason.AT_MAX,
            message=f"requested {desired} exceeds max_size {group.max_size}",
            rule=rule,
            direction=ScaleDirection.OUT,
        )
    if desired < group.min_size:
        return Block(
            reason=BlockReason.AT_MIN,
            message=f"requested {desired} is below min_size {group.min_size}",
            rule=rule,
            direction=ScaleDirection.IN,
        )
    intent = _desired_intent(desired, size, f"manual request for {desired} by {policy.actor}", None, rule)
    if isinstance(intent, _Intent):
        return intent.model_copy(
            update={"honor_cooldown": policy.honor_cooldown, "honor_backoff": policy.honor_cooldown}
        )
    return intent


def _step_intent(group: ScalingGroup, observed: Observed, now: datetime, rule: str) -> _Intent | Block:
    """The original's step policy, level-triggered: the rules' condition read from Prometheus.

    An alert only brings the evaluation forward; it never decides by itself while Prometheus
    answers. Without Prometheus: never scale in; scale out only on the first notification of a
    fresh episode received after the latest activity ended (its evidence is not older than the
    group's current capacity).
    """
    alert = observed.alert
    alert_direction = classify_alert(group, alert.alertname, alert.labels) if alert is not None else None
    if alert is not None and alert_direction is None:
        return Block(
            reason=BlockReason.UNKNOWN_ALERT,
            message=f"alert {alert.alertname!r} is neither {group.scale_out_alert} nor {group.scale_in_alert}",
            rule=rule,
        )
    condition = observed.condition
    if condition is not None and condition.available:
        if condition.direction is None or (alert is not None and alert_direction is not condition.direction):
            # the alert's own outcome is recorded; a level that holds the other way is acted
            # on by the loop's next evaluation, which no alert triggers
            if alert is None:
                return Block(reason=BlockReason.NO_CHANGE, message=condition.why, rule=rule)
            return Block(
                reason=BlockReason.STALE_ALERT,
                message=f"alert {alert.alertname} not confirmed by Prometheus: {condition.why}",
                rule=rule,
                direction=alert_direction,
            )
        out = condition.direction is ScaleDirection.OUT
        heard = f" (alert {alert.alertname} heard)" if alert is not None else ""
        return _Intent(
            direction=condition.direction,
            count=group.scale_out_step if out else group.scale_in_step,
            why=f"{'high' if out else 'low'} usage: {condition.why}{heard}",
            process=Process.ALERTS,
        )
    unavailable = condition.why if condition is not None else "Prometheus not read"
    if alert is None or alert_direction is not ScaleDirection.OUT:
        return Block(
            reason=BlockReason.METRICS_UNAVAILABLE,
            message=f"{unavailable}; never scale in blind" if alert is not None else unavailable,
            rule=rule,
            direction=alert_direction,
        )
    fresh = (now - alert.received_at).total_seconds() <= group.alert_fresh_s
    ended = observed.last_activity_end_at
    if not fresh or not alert.first:
        return Block(
            reason=BlockReason.STALE_ALERT,
            message=f"{unavailable}, and the alert is {'not fresh' if not fresh else 'a repeat already decided'}",
            rule=rule,
            direction=alert_direction,
        )
    if ended is not None and alert.received_at <= ended:
        return Block(
            reason=BlockReason.STALE_ALERT,
            message=f"{unavailable}, and the alert predates the activity that ended {ended:%H:%M:%S} UTC",
            rule=rule,
            direction=alert_direction,
        )
    return _Intent(
        direction=ScaleDirection.OUT,
        count=group.scale_out_step,
        why=f"alert {alert.alertname}: {unavailable}; acting on a fresh alert",
        process=Process.ALERTS,
    )


def _converge_intent(group: ScalingGroup, policy: Converge, observed: Observed, rule: str) -> _Intent | Block:
    """Limits and lost VMs: below min grows to min, lost VMs are replaced, above max shrinks.

    No cooldown applies (capacity repair, like an ASG replacing an unhealthy instance); a failed
    activity's back-off does, so a repair that keeps failing does not spin.
    """
    size = observed.size
    if policy.lost:
        lost = ", ".join(f"{vm.vm_name} ({vm.reason})" for vm in policy.lost)
        return _Intent(direction=ScaleDirection.IN, count=len(policy.lost), why=f"lost: {lost}", process=None)
    if size < group.min_size:
        why = f"{size} VMs below min_size {group.min_size}"
        return _Intent(
            direction=ScaleDirection.OUT, count=group.min_size - size, why=why, process=None, honor_cooldown=False
        )
    if observed.replacements > 0 and size < group.max_size:
        count = min(observed.replacements, group.max_size - size)
        why = f"replacing {count} lost VM{'s' if count > 1 else ''}"
        return _Intent(direction=ScaleDirection.OUT, count=count, why=why, process=None, honor_cooldown=False)
    if size > group.max_size:
        why = f"{size} VMs above max_size {group.max_size}"
        return _Intent(
            direction=ScaleDirection.IN, count=size - group.max_size, why=why, process=None, honor_cooldown=False
        )
    return Block(
        reason=BlockReason.NO_CHANGE, message=f"{size} VMs within [{group.min_size}, {group.max_size}]", rule=rule
    )


def _desired_intent(desired: int, size: int, why: str, process: Process | None, rule: str) -> _Intent | Block:
    if desired == size:
        return Block(reason=BlockReason.NO_CHANGE, message=f"{why}: already {size}", rule=rule)
    direction = ScaleDirection.OUT if desired > size else ScaleDirection.IN
    return _Intent(direction=direction, count=abs(desired - size), why=why, process=process)


def decide(group: ScalingGroup, policy: Policy, observed: Observed, now: datetime) -> Allow | Block:
    """Decide whether ``policy`` may change ``group``'s size now (see the module docstring)."""
    rule = rule_of(group, policy)
    if not group.enabled:
        return Block(reason=BlockReason.DISABLED, message=f"group {group.name} is disabled", rule=rule)
    intent = _intent(group, policy, observed, now, rule)
    if isinstance(intent, Block):
        return intent
    direction = intent.direction
    direction_process = Process.SCALE_OUT if direction is ScaleDirection.OUT else Process.SCALE_IN
    for process in (intent.process, direction_process):
        if process is not None and process in group.suspended:
            return Block(
                reason=BlockReason.SUSPENDED, message=f"process {process} is suspended", rule=rule, direction=direction
            )
    if observed.in_progress:
        return Block(
            reason=BlockReason.IN_PROGRESS,
            message=f"activity {observed.in_progress} is in progress",
            rule=rule,
            direction=direction,
        )
    if isinstance(policy, Converge) and policy.lost:
        # removing a lost VM changes no capacity that still serves: no limit, victim order or
        # back-off applies; its replacement is owed and launched by the next evaluation
        return Allow(delta=-len(policy.lost), reason=intent.why, rule=rule)
    size = observed.size
    if direction is ScaleDirection.OUT:
        if size >= group.max_size:
            return Block(
                reason=BlockReason.AT_MAX,
                message=f"{size} VMs (in-flight included) ≥ max_size {group.max_size}",
                rule=rule,
                direction=direction,
            )
        count = min(intent.count, group.max_size - size)
        if observed.free_ips <= 0:
            return Block(
                reason=BlockReason.IP_POOL_EXHAUSTED,
                message=f"IP pool {group.ip_pool} has no free address",
                rule=rule,
                direction=direction,
            )
        count = min(count, observed.free_ips)
    else:
        if size <= group.min_size:
            return Block(
                reason=BlockReason.AT_MIN,
                message=f"{size} VMs ≤ min_size {group.min_size}",
                rule=rule,
                direction=direction,
            )
        count = min(intent.count, size - group.min_size, observed.removable)
        if count <= 0:
            return Block(
                reason=BlockReason.NO_VICTIMS,
                message="no autoscaled, unprotected instance in service to remove",
                rule=rule,
                direction=direction,
            )
    why = intent.why
    if intent.honor_backoff:
        backoff = observed.failure_backoff
        waiting = backoff_remaining(backoff, direction, now)
        if backoff is not None and waiting > 0:
            return Block(
                reason=BlockReason.FAILURE_BACKOFF,
                message=(
                    f"scale-{direction} paused until {backoff.until:%Y-%m-%d %H:%M:%S} UTC ({waiting:.0f} s) "
                    f"after activity {backoff.activity_id} failed: {backoff.reason}"
                ),
                rule=rule,
                direction=direction,
                retry_after_s=waiting,
            )
    if intent.honor_cooldown:
        last, period = (
            (observed.last_scale_out_at, group.scale_out_cooldown_s)
            if direction is ScaleDirection.OUT
            else (observed.last_scale_in_at, group.scale_in_cooldown_s)
        )
        if last is not None:
            remaining = (last + timedelta(seconds=period) - now).total_seconds()
            if remaining > 0:
                return Block(
                    reason=BlockReason.COOLDOWN,
                    message=f"scale-{direction} cooldown: {remaining:.0f} s remaining",
                    rule=rule,
                    direction=direction,
                    retry_after_s=remaining,
                )
    delta = count if direction is ScaleDirection.OUT else -count
    return Allow(delta=delta, reason=why, rule=rule)


def scale_in_silence_wanted(group: ScalingGroup, size: int) -> bool:
    """Whether the group's scale-in alert should be silenced: derived from the count alone.

    At (or below) min a scale-in alert can only be blocked, so it is silenced; above min it must
    be heard again (SPEC-ORIGINAL §7.4 MUST, lesson 4). Disabled groups have no alerts at all.
    """
    return group.enabled and size <= group.min_size
