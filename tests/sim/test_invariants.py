"""The invariants catch what they exist for: each is shown a run that breaks it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from services.scaler.ports import DecisionRecord
from shared.messages import ActivityKind, MemberState
from testkit.scaler.fake_world import FakeVm

from .invariants import alerts_decided, no_flap, no_stall, nothing_leaked, within_limits
from .models import LoadCurve
from .test_scenarios import HOUR, PER_VM, simulate


async def test_a_loop_that_never_evaluates_stalls() -> None:
    """The edge-triggered scaler of old: its alert messages lost, no evaluation of its own."""
    sim = await simulate(LoadCurve.constant(9.5 * PER_VM))

    async def no_loop() -> None:
        return None

    sim.scaler.triggers.tick = no_loop  # type: ignore[method-assign]
    sim.dead_letter_alerts(1_000)
    await sim.run_for(HOUR)
    found = await no_stall(sim, "web")
    assert found and "stalled: scale-out condition held" in found[0]


async def test_a_scale_in_right_after_a_scale_out_is_a_flap() -> None:
    sim = await simulate(LoadCurve.constant(3.5 * PER_VM))
    await sim.run_for(HOUR)
    assert await no_flap(sim, "web") == []
    last = (await sim.activities("web"))[-1]
    assert last.kind is ActivityKind.SCALE_OUT and last.finished_at is not None
    at = last.finished_at + timedelta(seconds=60)
    changes = {"id": "act-flap", "kind": ActivityKind.SCALE_IN, "created_at": at, "finished_at": at}
    flap = last.model_copy(update=changes)
    decision = DecisionRecord(
        id="dec-flap",
        group="web",
        at=at,
        allowed=True,
        delta=-1,
        reason="allowed",
        message="",
        trigger="evaluation",
        rule="",
        activity_id="act-flap",
    )
    await sim.store.transaction(lambda uow: (uow.activities.save(flap), uow.decisions.add(decision)))
    found = await no_flap(sim, "web")
    assert any("flap: scale-in 60s after the scale-out ended" in f for f in found), found
    assert any("against the load" in f for f in found), found


async def test_a_vm_left_behind_is_a_leak_and_a_size_past_max_is_out_of_limits() -> None:
    sim = await simulate(LoadCurve.constant(100))
    await sim.run_for(600)
    assert await nothing_leaked(sim, "web") == []
    sim.services.vms["web-stray"] = FakeVm(name="web-stray", group="web", template="t", ip="127.0.60.99")
    sim.worlds["web"].add_vm("web-stray", "127.0.60.99", in_service=False)
    sim.services.members[("web-pool", "web-stray")] = ("127.0.60.99", 8080, MemberState.UP)
    found = await nothing_leaked(sim, "web")
    assert any("VMs differ" in f and "web-stray" in f for f in found), found
    assert any("pool members differ" in f for f in found), found
    sim.samples.append(replace(sim.samples[-1], t=sim.samples[-1].t + 1, size=11))
    assert any("size 11 outside [2, 10]" in f for f in await within_limits(sim, "web"))


async def test_an_alert_delivered_and_never_decided_is_reported() -> None:
    sim = await simulate(LoadCurve.constant(9.5 * PER_VM))
    await sim.run_for(900)
    assert sim.delivered_alerts and await alerts_decided(sim, "web") == []
    _at, alert = sim.delivered_alerts[-1]
    sim.delivered_alerts.append((sim.time.now() + 1, alert))
    found = await alerts_decided(sim, "web")
    assert found and "delivered and never decided" in found[0]
