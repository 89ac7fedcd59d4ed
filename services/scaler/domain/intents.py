"""What each policy wants now (``wanted``): the step policy's rules, target tracking,
a schedule, a manual request or convergence. Pure; ``decide`` then checks whether it may."""

from __future__ import annotations

from datetime import datetime

from services.scaler.domain.model import (
    Converge,
    ManualChange,
    Observed,
    Policy,
    Process,
    ScalingGroup,
    ScheduledAction,
    StepPolicy,
    TargetTrackingPolicy,
)
from services.scaler.domain.outcome import Block, BlockReason, Intent
from services.scaler.domain.timers import stabilized
from shared.vocabulary import ScaleDirection

__all__ = ["classify_alert", "rule_of", "target_tracking_desired", "wanted"]


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
    return policy.recommend(size, value)


def wanted(group: ScalingGroup, policy: Policy, observed: Observed, now: datetime, rule: str) -> Intent | Block:
    """What ``policy`` wants for ``group`` now, or why it wants nothing."""
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
        desired = max(stabilized(raw, size, policy, observed.recommendations, now), group.min_size)
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
    if isinstance(intent, Intent):
        return intent.model_copy(
            update={"honor_cooldown": policy.honor_cooldown, "honor_backoff": policy.honor_cooldown}
        )
    return intent


def _step_intent(group: ScalingGroup, observed: Observed, now: datetime, rule: str) -> Intent | Block:
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
        return Intent(
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
    return Intent(
        direction=ScaleDirection.OUT,
        count=group.scale_out_step,
        why=f"alert {alert.alertname}: {unavailable}; acting on a fresh alert",
        process=Process.ALERTS,
    )


def _converge_intent(group: ScalingGroup, policy: Converge, observed: Observed, rule: str) -> Intent | Block:
    """Limits and lost VMs: below min grows to min, lost VMs are replaced, above max shrinks.

    No cooldown applies (capacity repair, like an ASG replacing an unhealthy instance); a failed
    activity's back-off does, so a repair that keeps failing does not spin.
    """
    size = observed.size
    if policy.lost:
        lost = ", ".join(f"{vm.vm_name} ({vm.reason})" for vm in policy.lost)
        return Intent(direction=ScaleDirection.IN, count=len(policy.lost), why=f"lost: {lost}", process=None)
    if size < group.min_size:
        why = f"{size} VMs below min_size {group.min_size}"
        return Intent(
            direction=ScaleDirection.OUT, count=group.min_size - size, why=why, process=None, honor_cooldown=False
        )
    if observed.replacements > 0 and size < group.max_size:
        count = min(observed.replacements, group.max_size - size)
        why = f"replacing {count} lost VM{'s' if count > 1 else ''}"
        return Intent(direction=ScaleDirection.OUT, count=count, why=why, process=None, honor_cooldown=False)
    if size > group.max_size:
        why = f"{size} VMs above max_size {group.max_size}"
        return Intent(
            direction=ScaleDirection.IN, count=size - group.max_size, why=why, process=None, honor_cooldown=False
        )
    return Block(
        reason=BlockReason.NO_CHANGE, message=f"{size} VMs within [{group.min_size}, {group.max_size}]", rule=rule
    )


def _desired_intent(desired: int, size: int, why: str, process: Process | None, rule: str) -> Intent | Block:
    if desired == size:
        return Block(reason=BlockReason.NO_CHANGE, message=f"{why}: already {size}", rule=rule)
    direction = ScaleDirection.OUT if desired > size else ScaleDirection.IN
    return Intent(direction=direction, count=abs(desired - size), why=why, process=process)
