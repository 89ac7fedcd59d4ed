"""A failed activity gives its cooldown back; a shorter failure back-off stops a hot loop (pure)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.scaler.domain import (
    Activity,
    ActivityStatus,
    Allow,
    Block,
    BlockReason,
    GroupState,
    ManualChange,
    Phase,
    Step,
    StepPolicy,
    StepStatus,
    decide,
    saga,
)
from services.scaler.domain.model import FailureBackoff
from services.scaler.domain.timers import capacity_changed, settle_timers
from shared.messages import ActivityKind, ScaleDirection
from tests.unit.scaler.scaler_factories import NOW, alert, conditioned, group, instances, low, observed

BEFORE = NOW - timedelta(hours=2)
CLAIMED = NOW - timedelta(minutes=3)
IN = "web_LowResourceUsage"


def ended(kind: ActivityKind, status: ActivityStatus, *, destroyed: bool = False, claim: bool = True) -> Activity:
    activity = saga.plan("act-1", "web", kind, [("web-9", "127.0.10.19")], cause="t", now=CLAIMED, with_hook=False)
    if destroyed:
        track = activity.tracks[0]
        runs = tuple(
            r.model_copy(update={"status": StepStatus.DONE}) if r.step is Step.DESTROY else r for r in track.forward
        )
        activity = activity.model_copy(update={"tracks": (track.model_copy(update={"forward": runs}),)})
    return activity.model_copy(
        update={
            "status": status,
            "reason": "clone failed on web-9: InsufficientResourcesFault",
            "failed_step": "clone",
            "cooldown_claim": saga.CooldownClaim(claimed_at=CLAIMED, previous=BEFORE) if claim else None,
        }
    )


def claimed_state() -> GroupState:
    return GroupState(last_scale_out_at=CLAIMED, last_scale_in_at=CLAIMED)


OUT, IN_KIND = ActivityKind.SCALE_OUT, ActivityKind.SCALE_IN
ENDINGS = [
    # (id, activity, cooldown field, cooldown afterwards, back-off direction or None)
    ("rolled-back scale-out gives its cooldown back", ended(OUT, ActivityStatus.ROLLED_BACK), "out", BEFORE, "out"),
    ("failed scale-out gives its cooldown back", ended(OUT, ActivityStatus.FAILED), "out", BEFORE, "out"),
    ("succeeded scale-out keeps its cooldown", ended(OUT, ActivityStatus.SUCCEEDED), "out", CLAIMED, None),
    ("cancelled scale-out keeps its cooldown, no back-off", ended(OUT, ActivityStatus.CANCELLED), "out", CLAIMED, None),
    ("rolled-back scale-in gives its cooldown back", ended(IN_KIND, ActivityStatus.ROLLED_BACK), "in", BEFORE, "in"),
    (
        "scale-in that destroyed a VM before failing keeps its cooldown",
        ended(IN_KIND, ActivityStatus.FAILED, destroyed=True),
        "in",
        CLAIMED,
        "in",
    ),
    (
        "an activity without a claim (older record) changes no cooldown",
        ended(OUT, ActivityStatus.ROLLED_BACK, claim=False),
        "out",
        CLAIMED,
        "out",
    ),
]


@pytest.mark.parametrize(
    ("activity", "side", "cooldown", "backoff"), [e[1:] for e in ENDINGS], ids=[e[0] for e in ENDINGS]
)
def test_an_ended_activity_settles_the_group_timers(activity, side, cooldown, backoff) -> None:
    state = settle_timers(claimed_state(), activity, NOW, 60)
    mine, other = (
        ("last_scale_out_at", "last_scale_in_at") if side == "out" else ("last_scale_in_at", "last_scale_out_at")
    )
    assert getattr(state, mine) == cooldown
    assert getattr(state, other) == CLAIMED
    assert state.last_activity_end_at == NOW
    if backoff is None:
        assert state.failure_backoff is None
    else:
        assert state.failure_backoff == FailureBackoff(
            direction=ScaleDirection(backoff),
            until=NOW + timedelta(seconds=60),
            activity_id="act-1",
            reason="clone failed on web-9: InsufficientResourcesFault",
        )


def test_a_claim_taken_over_since_is_not_given_back() -> None:
    later = GroupState(last_scale_out_at=NOW - timedelta(seconds=5))
    state = settle_timers(later, ended(OUT, ActivityStatus.ROLLED_BACK), NOW, 60)
    assert state.last_scale_out_at == NOW - timedelta(seconds=5)


def test_a_zero_back_off_sets_none() -> None:
    state = settle_timers(claimed_state(), ended(OUT, ActivityStatus.ROLLED_BACK), NOW, 0)
    assert state.failure_backoff is None and state.last_scale_out_at == BEFORE


def test_a_success_clears_the_back_off_of_its_direction_only() -> None:
    out = FailureBackoff(direction=ScaleDirection.OUT, until=NOW, activity_id="a0")
    assert (
        settle_timers(GroupState(failure_backoff=out), ended(OUT, ActivityStatus.SUCCEEDED), NOW, 60).failure_backoff
        is None
    )
    kept = settle_timers(GroupState(failure_backoff=out), ended(IN_KIND, ActivityStatus.SUCCEEDED), NOW, 60)
    assert kept.failure_backoff == out


def test_capacity_changed_only_when_a_vm_came_or_went() -> None:
    assert capacity_changed(ended(OUT, ActivityStatus.SUCCEEDED))
    assert not capacity_changed(ended(OUT, ActivityStatus.ROLLED_BACK))
    assert not capacity_changed(ended(IN_KIND, ActivityStatus.ROLLED_BACK))
    assert capacity_changed(ended(IN_KIND, ActivityStatus.ROLLED_BACK, destroyed=True))
    rolled_forward = ended(IN_KIND, ActivityStatus.FAILED)
    track = rolled_forward.tracks[0].model_copy(
        update={"compensation": (saga.StepRun(step=Step.DESTROY, phase=Phase.COMPENSATE, status=StepStatus.DONE),)}
    )
    assert capacity_changed(rolled_forward.model_copy(update={"tracks": (track,)}))


def backoff(direction: ScaleDirection = ScaleDirection.OUT, seconds: float = 40) -> FailureBackoff:
    return FailureBackoff(
        direction=direction,
        until=NOW + timedelta(seconds=seconds),
        activity_id="act-1",
        reason="clone failed on web-9: InsufficientResourcesFault",
    )


def test_the_back_off_blocks_its_direction_and_says_when_and_why() -> None:
    decision = decide(group(), StepPolicy(), observed(failure_backoff=backoff()), NOW)
    assert isinstance(decision, Block) and decision.reason is BlockReason.FAILURE_BACKOFF
    assert decision.retry_after_s == pytest.approx(40)
    assert "12:00:40 UTC" in decision.message and "40 s" in decision.message
    assert "act-1" in decision.message and "InsufficientResourcesFault" in decision.message


BACKOFF_CASES = [
    ("an ended back-off allows", {"failure_backoff": backoff(seconds=0)}, StepPolicy(), 1),
    (
        "a scale-out back-off does not block scale-in",
        {
            "failure_backoff": backoff(),
            "alert": alert(IN),
            "metrics": low(),
            "instances": instances(4, base=2),
        },
        StepPolicy(),
        -1,
    ),
    (
        "it is checked before the cooldown",
        {
            "failure_backoff": backoff(),
            "last_scale_out_at": NOW,
        },
        StepPolicy(),
        BlockReason.FAILURE_BACKOFF,
    ),
    (
        "limits are reported before it",
        {
            "failure_backoff": backoff(),
            "instances": instances(4),
        },
        StepPolicy(),
        BlockReason.AT_MAX,
    ),
    ("a manual request bypasses it by default", {"failure_backoff": backoff()}, ManualChange(delta=1), 1),
    (
        "a manual request honouring cooldowns waits for it",
        {"failure_backoff": backoff()},
        ManualChange(delta=1, honor_cooldown=True),
        BlockReason.FAILURE_BACKOFF,
    ),
]


@pytest.mark.parametrize(
    ("oover", "policy", "expected"), [c[1:] for c in BACKOFF_CASES], ids=[c[0] for c in BACKOFF_CASES]
)
def test_failure_backoff_table(oover: dict, policy, expected) -> None:
    g = group()
    decision = decide(g, policy, conditioned(g, observed(**oover)), NOW)
    if isinstance(expected, BlockReason):
        assert isinstance(decision, Block) and decision.reason is expected, decision
    else:
        assert isinstance(decision, Allow) and decision.delta == expected, decision
