"""What an ended activity does to its group's timers: cooldown claims and failure back-offs.

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

from services.scaler.domain.model import FailureBackoff, GroupState
from services.scaler.domain.saga import Activity, ActivityStatus, Phase, Step, StepStatus
from shared.messages import ActivityKind, ScaleDirection

__all__ = ["activity_direction", "backoff_remaining", "capacity_changed", "settle_timers"]

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
