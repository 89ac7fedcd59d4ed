"""The group's timers, pure and as values: cooldowns, failure back-offs, target tracking's
stabilization windows, quiet blocks, and when a group is next evaluated.

No strings: a cooldown is a time (``GroupState.last_scale_out_at``/``last_scale_in_at``) plus the
group's period; a back-off is a ``FailureBackoff``; a quiet block is a ``QuietMark``; past
recommendations are ``Recommendation`` values. ``decide`` asks this module how long a timer
still holds; the shell asks it when to evaluate next and what to keep.

What an ended activity does to its group's timers (``settle_timers``):

An allowed scale-out (or scale-in) claims its direction's cooldown in the decision transaction and
remembers, on the activity, what the cooldown was before (``CooldownClaim``). When the activity
ends:

* **succeeded** — the claim stands; a back-off of the same direction is cleared.
* **rolled back or failed without changing capacity** — the claim is given back (the cooldown
  returns to its previous value), so a failed clone does not hold the group for a whole cooldown
  (issue 8: "cooldown not consumed"). A shorter *failure back-off* of the same direction takes its
  place, so a step that keeps failing (no resources on the cluster, a broken template) does not
  loop; decisions block with ``failure_backoff`` until it ends.
* **rolled back or failed after changing capacity** (a scale-in that destroyed a VM before
  another step failed) — the claim stands, and the back-off is set too.
* **cancelled** — an operator stopped it on purpose: the claim stands and no back-off is set, so
  the group does not start the same thing again at once.

Everything here is pure: the shell calls ``settle_timers`` in the transaction that records the
activity's end.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from services.scaler.domain.model import (
    Converge,
    FailureBackoff,
    GroupState,
    Observed,
    Policy,
    QuietMark,
    Recommendation,
    ScalingGroup,
    ScheduledAction,
    TargetTrackingPolicy,
)
from services.scaler.domain.saga import Activity, ActivityStatus, CooldownClaim, Phase, Step, StepStatus
from shared.vocabulary import ActivityKind, ScaleDirection

__all__ = [
    "QUIET_S",
    "activity_direction",
    "after_run",
    "backoff_remaining",
    "capacity_changed",
    "claim_cooldown",
    "cooldown_remaining",
    "kept_recommendations",
    "last_direction",
    "next_evaluation",
    "repeats_quietly",
    "settle_timers",
    "stabilized",
    "tracking_due",
]

QUIET_S = 300.0
"""A background evaluation does not record the same block for the same rule twice within this."""

FAILED_ENDS = frozenset({ActivityStatus.ROLLED_BACK, ActivityStatus.FAILED})
"""Ends that count as a failure (a back-off follows)."""


def activity_direction(activity: Activity) -> ScaleDirection:
    """The direction an activity moves its group."""
    return ScaleDirection.OUT if activity.kind is ActivityKind.SCALE_OUT else ScaleDirection.IN


def capacity_changed(activity: Activity) -> bool:
    """Whether an ended activity changed the group's size.

    A succeeded activity did. A scale-out that did not succeed destroyed (or failed) what it
    created: its instances are terminated or failed, neither of which counts. A scale-in that did
    not succeed changed the size when a victim's ``destroy`` ran to completion (a track past the
    point of no return rolls forward).
    """
    if activity.status is ActivityStatus.SUCCEEDED:
        return True
    if activity.kind is ActivityKind.SCALE_OUT:
        return False
    for track in activity.tracks:
        for phase in (Phase.FORWARD, Phase.COMPENSATE):
            if any(run.step is Step.DESTROY and run.status is StepStatus.DONE for run in track.runs(phase)):
                return True
    return False


def _cooldown_field(direction: ScaleDirection) -> str:
    return "last_scale_out_at" if direction is ScaleDirection.OUT else "last_scale_in_at"


def settle_timers(state: GroupState, activity: Activity, now: datetime, backoff_s: float) -> GroupState:
    """The group's state once ``activity`` has ended at ``now`` (see the module docstring).

    The claim is given back only while the cooldown still holds this activity's claim (nothing
    claimed it since). ``backoff_s`` of 0 disables the failure back-off.
    """
    direction = activity_direction(activity)
    update: dict[str, object] = {"last_activity_end_at": now}
    if activity.status is ActivityStatus.SUCCEEDED:
        if state.failure_backoff is not None and state.failure_backoff.direction is direction:
            update["failure_backoff"] = None
    elif activity.status in FAILED_ENDS:
        claim = activity.cooldown_claim
        field = _cooldown_field(direction)
        if claim is not None and not capacity_changed(activity) and getattr(state, field) == claim.claimed_at:
            update[field] = claim.previous
        if backoff_s > 0:
            update["failure_backoff"] = FailureBackoff(
                direction=direction,
                until=now + timedelta(seconds=backoff_s),
                activity_id=activity.id,
                reason=activity.reason or activity.failed_step or str(activity.status),
            )
    return state.model_copy(update=update)


def backoff_remaining(backoff: FailureBackoff | None, direction: ScaleDirection, now: datetime) -> float:
    """Seconds the failure back-off still blocks ``direction`` (0 when it does not)."""
    if backoff is None or backoff.direction is not direction:
        return 0.0
    return max((backoff.until - now).total_seconds(), 0.0)


class Stamped(Protocol):
    """What carries the cooldown claims: a ``GroupState`` or an ``Observed``."""

    @property
    def last_scale_out_at(self) -> datetime | None: ...

    @property
    def last_scale_in_at(self) -> datetime | None: ...


def cooldown_remaining(group: ScalingGroup, stamps: Stamped, direction: ScaleDirection, now: datetime) -> float:
    """Seconds the ``direction``'s cooldown still holds (0 when it does not)."""
    out = direction is ScaleDirection.OUT
    last = stamps.last_scale_out_at if out else stamps.last_scale_in_at
    if last is None:
        return 0.0
    period = group.scale_out_cooldown_s if out else group.scale_in_cooldown_s
    return max((last + timedelta(seconds=period) - now).total_seconds(), 0.0)


def last_direction(state: GroupState) -> ScaleDirection | None:
    """The direction of the group's latest scaling activity (by its claimed start)."""
    out, in_ = state.last_scale_out_at, state.last_scale_in_at
    if out is None and in_ is None:
        return None
    if in_ is None or (out is not None and out >= in_):
        return ScaleDirection.OUT
    return ScaleDirection.IN


def next_evaluation(group: ScalingGroup, state: GroupState, now: datetime, interval_s: float) -> datetime:
    """One interval from now, or sooner when a cooldown or back-off ends before that (the next
    step under sustained load comes at the cooldown's end, not up to an interval later)."""
    due = now + timedelta(seconds=interval_s)
    marks = [state.failure_backoff.until if state.failure_backoff is not None else None]
    if state.last_scale_out_at is not None:
        marks.append(state.last_scale_out_at + timedelta(seconds=group.scale_out_cooldown_s))
    if state.last_scale_in_at is not None:
        marks.append(state.last_scale_in_at + timedelta(seconds=group.scale_in_cooldown_s))
    return min([due, *(m for m in marks if m is not None and m > now)])


def tracking_due(policy: TargetTrackingPolicy, state: GroupState, now: datetime) -> bool:
    """Whether target tracking's own interval has passed since it last ran."""
    last = state.last_tracking_at
    return last is None or (now - last).total_seconds() >= policy.interval_s


def stabilized(
    desired: int, size: int, policy: TargetTrackingPolicy, past: tuple[Recommendation, ...], now: datetime
) -> int:
    """Apply HPA's stabilization windows to a raw recommendation.

    Scaling up uses the lowest recommendation of the up window; scaling down the highest of the
    down window, so a brief dip or spike does not move the group.
    """
    if desired > size:
        window = timedelta(seconds=policy.up_stabilization_s)
        return max(size, min([desired, *(r.desired for r in past if now - r.at <= window)]))
    if desired < size:
        window = timedelta(seconds=policy.down_stabilization_s)
        return min(size, max([desired, *(r.desired for r in past if now - r.at <= window)]))
    return desired


def kept_recommendations(
    past: tuple[Recommendation, ...], policy: TargetTrackingPolicy, now: datetime, desired: int
) -> tuple[Recommendation, ...]:
    """The recommendations to keep after one at ``now``: those either window can still use."""
    horizon = max(policy.up_stabilization_s, policy.down_stabilization_s)
    kept = tuple(r for r in past if (now - r.at).total_seconds() <= horizon)
    return (*kept, Recommendation(at=now, desired=desired))


def repeats_quietly(mark: QuietMark | None, reason: str, now: datetime) -> bool:
    """Whether a background evaluation's block repeats the rule's last one within ``QUIET_S``
    (then it is not recorded again)."""
    return mark is not None and mark.reason == reason and (now - mark.at).total_seconds() < QUIET_S


def claim_cooldown(
    state: GroupState, policy: Policy, delta: int, now: datetime
) -> tuple[GroupState, CooldownClaim | None]:
    """The group's state once an allowed decision of ``delta`` starts its activity at ``now``,
    and the claim the activity carries (to give back if it changes nothing; ``settle_timers``).

    Removing lost VMs claims no cooldown and owes their replacements; a scale-out claims the
    scale-out cooldown (a convergence scale-out pays off owed replacements); a scale-in the
    scale-in cooldown.
    """
    owed = state.replacements_owed
    if isinstance(policy, Converge) and policy.lost:
        return state.model_copy(update={"replacements_owed": owed + len(policy.lost)}), None
    if delta > 0:
        update: dict[str, object] = {"last_scale_out_at": now}
        if isinstance(policy, Converge):
            update["replacements_owed"] = max(0, owed - delta)
        claim = CooldownClaim(claimed_at=now, previous=state.last_scale_out_at)
    else:
        update = {"last_scale_in_at": now}
        claim = CooldownClaim(claimed_at=now, previous=state.last_scale_in_at)
    return state.model_copy(update=update), claim


def after_run(state: GroupState, policy: Policy, observed: Observed, now: datetime) -> GroupState:
    """The group's state once ``policy`` was evaluated at ``now``: target tracking remembers when
    it ran and its raw recommendation (for the stabilization windows); a schedule its run."""
    if isinstance(policy, TargetTrackingPolicy):
        update: dict[str, object] = {"last_tracking_at": now}
        metrics = observed.metrics
        if metrics is not None and metrics.available and metrics.value is not None:
            raw = policy.recommend(observed.size, metrics.value)
            update["recommendations"] = kept_recommendations(state.recommendations, policy, now, raw)
        return state.model_copy(update=update)
    if isinstance(policy, ScheduledAction):
        return state.model_copy(update={"schedule_runs": {**state.schedule_runs, policy.name: now}})
    return state
