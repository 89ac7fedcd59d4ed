"""One row per saga step (``steps.STEPS``): where it runs, its command, replies, timeout and
compensation, all in one place."""

from __future__ import annotations

import pytest

from services.scaler.domain.saga import COMPENSATIONS, SCALE_IN_PLAN, SCALE_OUT_PLAN, Step
from services.scaler.steps import REPLY_SUBJECTS, STEPS, Runs, StepTimeouts
from tests.unit.scaler.scaler_factories import group


def test_every_step_has_exactly_one_row() -> None:
    assert set(STEPS) == set(Step)
    assert all(spec.step is step for step, spec in STEPS.items())


@pytest.mark.parametrize("step", list(Step), ids=str)
def test_a_command_step_has_a_command_replies_and_a_failure_and_no_other_step_has_them(step: Step) -> None:
    spec = STEPS[step]
    if spec.runs is Runs.COMMAND:
        assert spec.command is not None and spec.replies and spec.failed is not None and spec.operation
    else:
        assert spec.command is None and not spec.replies and spec.failed is None


def test_the_row_names_the_sagas_compensation_and_every_compensation_is_a_step_that_can_run() -> None:
    assert {s: STEPS[s].compensation for s in Step if STEPS[s].compensation} == COMPENSATIONS
    assert all(STEPS[undo].runs is not Runs.LOCAL for undo in COMPENSATIONS.values())
    assert set(SCALE_OUT_PLAN) | set(SCALE_IN_PLAN) | set(COMPENSATIONS.values()) <= set(STEPS)


def test_the_reply_subjects_are_those_of_the_rows() -> None:
    from_rows = {s.name for spec in STEPS.values() for s in (*spec.replies, spec.failed) if s is not None}
    assert {s.name for s in REPLY_SUBJECTS} == from_rows


@pytest.mark.parametrize(
    ("step", "seconds"),
    [
        (Step.CLONE, 600.0),
        (Step.POWER_ON, 601.0),
        (Step.REGISTER_MONITORING, 180.0),
        (Step.DRAIN, 300.0 + 182.0),
        (Step.WAIT_HEALTHY, 330.0),
        (Step.POST_PROVISION_HOOK, 930.0),
    ],
    ids=str,
)
def test_a_steps_timeout_comes_from_its_row(step: Step, seconds: float) -> None:
    timeouts = StepTimeouts(vm_s=600, power_on_s=601, monitoring_s=180, pool_s=182, health_s=300, hook_s=900)
    assert timeouts.of(step, group(drain_timeout_s=300)) == seconds
