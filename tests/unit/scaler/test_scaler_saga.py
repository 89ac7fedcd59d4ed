"""The saga state machine: steps in order, retries, compensation in reverse, terminal states."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.scaler.domain import ActivityStatus, Phase, Retry, Step, StepStatus, saga
from shared.messages import ActivityKind
from tests.unit.scaler.scaler_factories import NOW

RETRY = Retry(max_attempts=2, backoff_s=1, compensation_attempts=3)


def scale_out(n: int = 1, hook: bool = False) -> saga.Activity:
    vms = [(f"web-{i}", f"127.0.10.{10 + i}") for i in range(n)]
    return saga.plan("a1", "web", ActivityKind.SCALE_OUT, vms, cause="test", now=NOW, with_hook=hook)


def scale_in(n: int = 1) -> saga.Activity:
    vms = [(f"web-{i}", f"127.0.10.{10 + i}") for i in range(n)]
    return saga.plan("a2", "web", ActivityKind.SCALE_IN, vms, cause="test", now=NOW, with_hook=False)


def run_step(activity: saga.Activity, now=NOW) -> tuple[saga.Activity, Step]:
    ((track, run),) = saga.runnable(activity, now)[:1] or [(None, None)]
    assert run is not None, "nothing runnable"
    started = saga.start(activity, track.vm_name, run.step, run.phase, now, 10, "cmd")
    return saga.complete(started, track.vm_name, run.step, run.phase, now), run.step


def test_scale_out_walks_the_design_order_and_succeeds() -> None:
    activity = scale_out()
    seen = []
    while not activity.status.terminal:
        activity, step = run_step(activity)
        seen.append(step)
    assert seen == [
        Step.CLONE,
        Step.POWER_ON,
        Step.WAIT_HEALTHY,
        Step.REGISTER_MONITORING,
        Step.ADD_POOL_MEMBER,
        Step.IN_SERVICE,
    ]
    assert activity.status is ActivityStatus.SUCCEEDED


def test_hook_step_runs_only_when_configured() -> None:
    activity = scale_out(hook=True)
    steps = [r.step for r in activity.tracks[0].forward if r.status is StepStatus.PENDING]
    assert Step.POST_PROVISION_HOOK in steps
    # the VM takes no traffic until its hook succeeded (as an ASG launch hook)
    assert steps.index(Step.POST_PROVISION_HOOK) < steps.index(Step.ADD_POOL_MEMBER)


def test_failure_compensates_completed_steps_in_reverse() -> None:
    activity = scale_out()
    for _ in range(4):  # clone, power on, wait healthy, register monitoring
        activity, _ = run_step(activity)
    started = saga.start(activity, "web-0", Step.ADD_POOL_MEMBER, Phase.FORWARD, NOW, 10, "c")
    failed = saga.fail(started, "web-0", Step.ADD_POOL_MEMBER, Phase.FORWARD, "400 bad member", False, NOW, RETRY)
    assert failed.status is ActivityStatus.COMPENSATING
    assert failed.failed_step == "add_pool_member"
    comp = [r.step for r in failed.tracks[0].compensation]
    assert comp == [
        Step.REMOVE_POOL_MEMBER,
        Step.DEREGISTER_MONITORING,
        Step.POWER_OFF,
        Step.DESTROY,
        Step.RELEASE_IP,
    ]
    while not failed.status.terminal:
        failed, _ = run_step(failed)
    assert failed.status is ActivityStatus.ROLLED_BACK
    assert "400 bad member" in (failed.reason or "")


def test_retryable_failure_waits_then_retries() -> None:
    activity = scale_out()
    started = saga.start(activity, "web-0", Step.CLONE, Phase.FORWARD, NOW, 10, "c")
    failed = saga.fail(started, "web-0", Step.CLONE, Phase.FORWARD, "vCenter busy", True, NOW, RETRY)
    assert failed.status is ActivityStatus.RUNNING
    assert saga.runnable(failed, NOW) == []
    ((_, run),) = saga.runnable(failed, NOW + timedelta(seconds=1))
    assert run.step is Step.CLONE and run.attempts == 1
    again = saga.start(failed, "web-0", Step.CLONE, Phase.FORWARD, NOW, 10, "c2")
    final = saga.fail(again, "web-0", Step.CLONE, Phase.FORWARD, "vCenter busy", True, NOW, RETRY)
    assert final.status is ActivityStatus.COMPENSATING
    assert [r.step for r in final.tracks[0].compensation] == [Step.DESTROY, Step.RELEASE_IP]


def test_timeout_is_a_retryable_failure() -> None:
    activity = saga.start(scale_out(), "web-0", Step.CLONE, Phase.FORWARD, NOW, 10, "c")
    assert saga.expire(activity, NOW + timedelta(seconds=5), RETRY) == activity
    expired = saga.expire(activity, NOW + timedelta(seconds=10), RETRY)
    assert expired.tracks[0].current(Phase.FORWARD).error == "timed out"


def test_one_failed_track_rolls_back_every_track() -> None:
    activity = scale_out(2)
    activity = saga.start(activity, "web-0", Step.CLONE, Phase.FORWARD, NOW, 10, "c")
    activity = saga.start(activity, "web-1", Step.CLONE, Phase.FORWARD, NOW, 10, "c")
    activity = saga.complete(activity, "web-0", Step.CLONE, Phase.FORWARD, NOW)
    activity = saga.fail(activity, "web-1", Step.CLONE, Phase.FORWARD, "quota", False, NOW, RETRY)
    assert [r.step for r in activity.track("web-0").compensation] == [Step.DESTROY, Step.RELEASE_IP]
    assert [r.step for r in activity.track("web-1").compensation] == [Step.DESTROY, Step.RELEASE_IP]


def test_scale_in_failure_before_destroy_restores_the_member() -> None:
    activity = scale_in()
    for _ in range(3):  # drain, remove member, deregister
        activity, _ = run_step(activity)
    activity = saga.start(activity, "web-0", Step.POWER_OFF, Phase.FORWARD, NOW, 10, "c")
    activity = saga.fail(activity, "web-0", Step.POWER_OFF, Phase.FORWARD, "not found", False, NOW, RETRY)
    assert [r.step for r in activity.tracks[0].compensation] == [
        Step.POWER_ON,
        Step.REGISTER_MONITORING,
        Step.ADD_POOL_MEMBER,
        Step.UNDRAIN,
    ]


def test_scale_in_past_destroy_rolls_forward() -> None:
    activity = scale_in(2)
    for step in (Step.DRAIN, Step.REMOVE_POOL_MEMBER, Step.DEREGISTER_MONITORING, Step.POWER_OFF, Step.DESTROY):
        activity = saga.start(activity, "web-0", step, Phase.FORWARD, NOW, 10, "c")
        activity = saga.complete(activity, "web-0", step, Phase.FORWARD, NOW)
    activity = saga.start(activity, "web-1", Step.DRAIN, Phase.FORWARD, NOW, 10, "c")
    activity = saga.fail(activity, "web-1", Step.DRAIN, Phase.FORWARD, "member unknown", False, NOW, RETRY)
    assert [r.step for r in activity.track("web-0").compensation] == [Step.RELEASE_IP]
    assert [r.step for r in activity.track("web-1").compensation] == [Step.UNDRAIN]


def test_compensation_that_keeps_failing_ends_failed_with_the_cause() -> None:
    activity = saga.start(scale_out(), "web-0", Step.CLONE, Phase.FORWARD, NOW, 10, "c")
    activity = saga.fail(activity, "web-0", Step.CLONE, Phase.FORWARD, "boom", False, NOW, RETRY)
    for attempt in range(RETRY.compensation_attempts):
        later = NOW + timedelta(hours=attempt + 1)
        activity = saga.start(activity, "web-0", Step.DESTROY, Phase.COMPENSATE, later, 10, "d")
        activity = saga.fail(activity, "web-0", Step.DESTROY, Phase.COMPENSATE, "vCenter down", True, later, RETRY)
    assert activity.status is ActivityStatus.FAILED
    assert "compensation destroy failed" in (activity.reason or "")


def test_cancel_ends_cancelled_and_late_replies_change_nothing() -> None:
    activity = saga.start(scale_out(), "web-0", Step.CLONE, Phase.FORWARD, NOW, 10, "c")
    cancelled = saga.cancel(activity, NOW)
    late = saga.complete(cancelled, "web-0", Step.CLONE, Phase.FORWARD, NOW)
    assert late == cancelled
    while not cancelled.status.terminal:
        cancelled, _ = run_step(cancelled)
    assert cancelled.status is ActivityStatus.CANCELLED


@settings(max_examples=60)
@given(
    st.integers(1, 3),
    st.sampled_from(list(ActivityKind)),
    st.lists(st.sampled_from(["ok", "retry", "fail"]), max_size=80),
)
def test_any_outcome_sequence_ends_terminal_with_every_compensation_run(
    n: int, kind: ActivityKind, outcomes: list[str]
) -> None:
    vms = [(f"web-{i}", f"127.0.10.{10 + i}") for i in range(n)]
    activity = saga.plan("a", "web", kind, vms, cause="p", now=NOW, with_hook=True)
    now = NOW
    script = iter(outcomes)
    for _ in range(500):
        if activity.status.terminal:
            break
        now += timedelta(minutes=10)
        for track, run in saga.runnable(activity, now):
            activity = saga.start(activity, track.vm_name, run.step, run.phase, now, 10, "c")
            outcome = next(script, "ok")
            if outcome == "ok":
                activity = saga.complete(activity, track.vm_name, run.step, run.phase, now)
            else:
                activity = saga.fail(
                    activity, track.vm_name, run.step, run.phase, outcome, outcome == "retry", now, RETRY
                )
    assert activity.status.terminal
    if activity.status is ActivityStatus.ROLLED_BACK and kind is ActivityKind.SCALE_OUT:
        for track in activity.tracks:
            done = {r.step for r in track.forward if r.status in (StepStatus.DONE, StepStatus.FAILED)}
            undone = {r.step for r in track.compensation if r.status is StepStatus.DONE}
            assert {saga.COMPENSATIONS[s] for s in done if s in saga.COMPENSATIONS} <= undone
    if activity.status is ActivityStatus.SUCCEEDED:
        assert all(t.current(Phase.FORWARD) is None for t in activity.tracks)
