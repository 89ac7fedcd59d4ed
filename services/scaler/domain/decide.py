"""The pure scaling decision: ``decide(group, policy, observed, now) -> Allow | Block``.

No IO, no globals, no mutation. What each policy wants is ``domain.intents``; the values it
returns are ``domain.outcome``; how long a back-off or cooldown still holds is ``domain.timers``.
Order of the checks (every blocking condition is checked before
the cooldown, which the shell claims only for an ``Allow``; docs/original-system.md §7.3 MUST, lessons 1-3):

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
trigger. A rolled-back activity gives its cooldown claim back (``domain.timers``), so after a
failure only the shorter back-off applies.
"""

from __future__ import annotations

from datetime import datetime

from services.scaler.domain.intents import classify_alert, rule_of, target_tracking_desired, wanted
from services.scaler.domain.model import Converge, Observed, Policy, Process, ScalingGroup
from services.scaler.domain.outcome import Allow, Block, BlockReason, Decision
from services.scaler.domain.timers import backoff_remaining, cooldown_remaining
from shared.vocabulary import ScaleDirection

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


def decide(group: ScalingGroup, policy: Policy, observed: Observed, now: datetime) -> Allow | Block:
    """Decide whether ``policy`` may change ``group``'s size now (see the module docstring)."""
    rule = rule_of(group, policy)
    if not group.enabled:
        return Block(reason=BlockReason.DISABLED, message=f"group {group.name} is disabled", rule=rule)
    intent = wanted(group, policy, observed, now, rule)
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
        remaining = cooldown_remaining(group, observed, direction, now)
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
    be heard again (docs/original-system.md §7.4 MUST, lesson 4). Disabled groups have no alerts at all.
    """
    return group.enabled and size <= group.min_size
