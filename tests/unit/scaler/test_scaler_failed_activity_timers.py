"""A failed activity does not consume the cooldown; the failure back-off paces the retries."""

from __future__ import annotations

from services.scaler.domain import ActivityStatus, ManualChange
from shared import subjects
from tests.unit.scaler.scaler_harness import Harness

FAULT = "InsufficientResourcesFault: Insufficient resources to satisfy configured failover level"


async def test_a_clone_without_resources_rolls_back_and_leaves_the_cooldown_unconsumed() -> None:
    h = Harness()
    await h.setup(max_size=6)
    h.world.fail("clone", reason=FAULT)
    await h.fire()
    (activity,) = await h.activities()
    assert activity.status is ActivityStatus.ROLLED_BACK and "InsufficientResourcesFault" in (activity.reason or "")
    (event,) = h.publisher.of(subjects.ACTIVITY_ROLLED_BACK)
    assert "InsufficientResourcesFault" in event.reason
    state = (await h.group()).state
    assert state.last_scale_out_at is None, "the cooldown claim was given back"
    assert state.failure_backoff is not None and state.failure_backoff.activity_id == activity.id

    blocked = await h.scaler.triggers.on_alert_fired(h.alert(fingerprint="again"))
    assert blocked is not None and blocked.reason == "failure_backoff"
    assert activity.id in blocked.message and "InsufficientResourcesFault" in blocked.message

    # The still-firing alert is re-checked when the back-off ends, not after the 300 s cooldown.
    h.clock.advance(59)
    await h.scaler.tick()
    await h.settle()
    assert len(await h.activities()) == 1
    h.clock.advance(2)
    await h.scaler.tick()
    await h.settle()
    latest, first = await h.activities()
    assert latest.status is ActivityStatus.SUCCEEDED and first.id == activity.id
    state = (await h.group()).state
    assert state.failure_backoff is None and state.last_scale_out_at == latest.created_at


async def test_a_failing_clone_is_retried_once_per_back_off_not_in_a_hot_loop() -> None:
    h = Harness()
    await h.setup(max_size=6)
    h.world.fail("clone", reason=FAULT, times=100)
    await h.fire()
    for _ in range(30):  # 30 ticks, 5 s apart: 150 s of a firing alert
        h.clock.advance(5)
        await h.scaler.tick()
        await h.settle()
    assert h.world.clones == 0
    attempts = [op for op, _ in h.world.handled if op == "clone"]
    assert len(attempts) == 3, "at 0 s, after the 60 s back-off, and after the next one"
    assert all(a.status is ActivityStatus.ROLLED_BACK for a in await h.activities())


async def test_an_operator_request_is_not_held_by_the_back_off() -> None:
    h = Harness()
    await h.setup(max_size=6)
    h.world.fail("clone", reason=FAULT)
    await h.fire()
    held = await h.scaler.triggers.manual("web", ManualChange(delta=1, honor_cooldown=True))
    assert held is not None and held.reason == "failure_backoff"
    decision = await h.scaler.triggers.manual("web", ManualChange(delta=1))
    await h.settle()
    assert decision is not None and decision.allowed
    (started,) = [a for a in await h.activities() if a.id == decision.activity_id]
    assert started.status is ActivityStatus.SUCCEEDED


async def test_a_rolled_back_scale_in_gives_its_cooldown_back() -> None:
    h = Harness()
    await h.setup()
    await h.fire()
    h.metrics.set("web", cpu=5, memory=5)
    h.clock.advance(601)  # a reversal needs the whole scale-in window after the scale-out
    h.world.fail("destroy", times=5)
    await h.fire(direction="in", fingerprint="i1")
    latest = (await h.activities())[0]
    assert latest.status is ActivityStatus.ROLLED_BACK
    state = (await h.group()).state
    assert state.last_scale_in_at is None
    assert state.failure_backoff is not None and state.failure_backoff.direction == "in"
    assert state.last_scale_out_at is not None, "the earlier successful scale-out keeps its cooldown"
    view, *_ = await h.scaler.views.group("web")
    assert view.failure_backoff_until == state.failure_backoff.until and "scale-in" in view.failure_backoff
