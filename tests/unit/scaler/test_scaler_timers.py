"""The group's timers are values (``domain.timers``): cooldowns, quiet marks, the next
evaluation, stabilization; and a group state stored with the old ``"reason@iso"`` quiet marks
still reads."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from services.scaler.domain.model import (
    Converge,
    FailureBackoff,
    GroupState,
    LostVm,
    QuietMark,
    Recommendation,
    TargetTrackingPolicy,
)
from services.scaler.domain.timers import (
    QUIET_S,
    claim_cooldown,
    cooldown_remaining,
    next_evaluation,
    repeats_quietly,
    stabilized,
)
from shared.vocabulary import ScaleDirection
from tests.unit.scaler.scaler_factories import NOW, group


def test_a_group_state_stored_with_reason_at_iso_strings_still_reads() -> None:
    stored = json.dumps({"quiet_blocks": {"step": f"at_max@{(NOW - timedelta(seconds=10)).isoformat()}"}})
    state = GroupState.model_validate_json(stored)
    assert state.quiet_blocks["step"] == QuietMark(reason="at_max", at=NOW - timedelta(seconds=10))
    assert repeats_quietly(state.quiet_blocks["step"], "at_max", NOW)


def test_a_quiet_mark_is_stored_as_a_value_and_reads_back() -> None:
    state = GroupState(quiet_blocks={"step": QuietMark(reason="cooldown", at=NOW)})
    dumped = json.loads(state.model_dump_json())
    assert dumped["quiet_blocks"]["step"]["reason"] == "cooldown"
    assert GroupState.model_validate_json(state.model_dump_json()) == state


@pytest.mark.parametrize(
    ("mark", "reason", "age_s", "repeats"),
    [
        (True, "at_max", 10, True),
        (True, "at_max", QUIET_S, False),
        (True, "cooldown", 10, False),
        (False, "at_max", 10, False),
    ],
    ids=["same-block-soon", "same-block-after-quiet-period", "other-reason", "no-mark"],
)
def test_a_background_block_repeats_quietly_only_for_the_same_reason_within_the_quiet_period(
    mark: bool, reason: str, age_s: float, repeats: bool
) -> None:
    last = QuietMark(reason="at_max", at=NOW - timedelta(seconds=age_s)) if mark else None
    assert repeats_quietly(last, reason, NOW) is repeats


def test_a_cooldown_holds_for_its_direction_only() -> None:
    g = group(scale_out_cooldown_s=300, scale_in_cooldown_s=600)
    state = GroupState(last_scale_out_at=NOW - timedelta(seconds=100))
    assert cooldown_remaining(g, state, ScaleDirection.OUT, NOW) == 200
    assert cooldown_remaining(g, state, ScaleDirection.IN, NOW) == 0


def test_the_next_evaluation_comes_when_a_cooldown_or_back_off_ends_before_the_interval() -> None:
    g = group(scale_out_cooldown_s=300)
    assert next_evaluation(g, GroupState(), NOW, 15) == NOW + timedelta(seconds=15)
    cooling = GroupState(last_scale_out_at=NOW - timedelta(seconds=295))
    assert next_evaluation(g, cooling, NOW, 15) == NOW + timedelta(seconds=5)
    backoff = FailureBackoff(direction=ScaleDirection.IN, until=NOW + timedelta(seconds=3), activity_id="a")
    assert next_evaluation(g, GroupState(failure_backoff=backoff), NOW, 15) == NOW + timedelta(seconds=3)


def test_scaling_down_uses_the_highest_recommendation_of_the_window() -> None:
    policy = TargetTrackingPolicy(target=50, down_stabilization_s=300)
    past = (Recommendation(at=NOW - timedelta(seconds=60), desired=6), Recommendation(at=NOW, desired=3))
    assert stabilized(3, 5, policy, past, NOW) == 5
    old = (Recommendation(at=NOW - timedelta(seconds=600), desired=6),)
    assert stabilized(3, 5, policy, old, NOW) == 3


def test_removing_lost_vms_claims_no_cooldown_and_owes_their_replacements() -> None:
    lost = Converge(lost=(LostVm(vm_name="web-9", reason="deleted"),))
    state, claim = claim_cooldown(GroupState(), lost, -1, NOW)
    assert claim is None and state.replacements_owed == 1 and state.last_scale_in_at is None
    before = NOW - timedelta(hours=1)
    state, claim = claim_cooldown(GroupState(last_scale_out_at=before, replacements_owed=1), Converge(), 1, NOW)
    assert state.last_scale_out_at == NOW and state.replacements_owed == 0
    assert claim is not None and claim.previous == before
