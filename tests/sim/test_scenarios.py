"""The control loop over hours and days of simulated load, with the faults of a real deployment
(issue: the control loop holds for days). Each scenario drives the real scaler through the
driver, prints its timeline (time, load, size, decisions, faults) and checks every invariant of
``invariants.py``; what a scenario is about is asserted besides."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from services.scaler.domain.model import ScalingGroup
from shared.messages import ActivityKind

from .driver import Sim, SimConfig
from .invariants import check_all
from .models import LoadCurve

HOUR = 3600.0
PER_VM = 100.0
"""Load is in percent of one VM: 950 keeps ten VMs at 95 %."""


def web(**overrides: Any) -> ScalingGroup:
    values: dict[str, Any] = {
        "name": "web",
        "vm_prefix": "web",
        "template": "web-template",
        "prometheus_job": "web",
        "min_size": 2,
        "max_size": 10,
        "pool": "web-pool",
        "vip": "127.0.0.1",
        "member_port": 8080,
        "ip_pool": "lab-web",
        "scale_out_cooldown_s": 300,
        "scale_in_cooldown_s": 600,
        "enabled": True,
    }
    values.update(overrides)
    return ScalingGroup.model_validate(values)


async def simulate(load: LoadCurve, config: SimConfig | None = None, **group: Any) -> Sim:
    sim = Sim([web(**group)], load, config or SimConfig())
    await sim.start()
    return sim


async def verdict(sim: Sim, *, at_rest: bool = True) -> None:
    """Print the timeline; fail with every violation found (at rest: once no activity runs)."""
    if at_rest:
        await sim.quiesce()
    print(await sim.timeline())
    violations = await check_all(sim, at_rest=at_rest)
    assert not violations, "\n".join(violations)


def sizes(sim: Sim) -> list[tuple[float, int]]:
    return [(s.t, s.size) for s in sim.samples]


def size_at(sim: Sim, t: float) -> int:
    return [size for at, size in sizes(sim) if at <= t][-1]


async def steps(sim: Sim, kind: ActivityKind) -> list[float]:
    """When each activity of ``kind`` started (seconds)."""
    return [sim.seconds(a.created_at) for a in await sim.activities("web") if a.kind is kind]


# -- load shapes ---------------------------------------------------------------------------------


async def test_a_ramp_to_max_and_back_to_min() -> None:
    load = LoadCurve.piecewise(
        [
            (HOUR, LoadCurve.ramp(100, 1100, over_s=HOUR)),
            (HOUR, 1100.0),
            (HOUR, LoadCurve.ramp(1100, 40, over_s=HOUR)),
            (None, 40.0),
        ]
    )
    sim = await simulate(load)
    await sim.run_for(6 * HOUR)
    await verdict(sim)
    assert max(size for _, size in sizes(sim)) == 10
    assert size_at(sim, 6 * HOUR) == 2


async def test_a_two_hour_plateau_at_95_percent_grows_to_max_and_never_stalls() -> None:
    """The old alert memory stopped this at 5 VMs after 15 minutes."""
    load = LoadCurve.plateau(100, 9.5 * PER_VM, start_s=600, duration_s=2 * HOUR)
    sim = await simulate(load)
    await sim.run_for(2 * HOUR + 600)
    await verdict(sim)
    assert size_at(sim, 2 * HOUR + 600) == 10
    outs = await steps(sim, ActivityKind.SCALE_OUT)
    assert len(outs) == 8
    # each step: the activity (clone, boot, register, pool: ~95 s), then a whole 5-minute rate
    # window of fresh evidence, then the next evaluation
    print("seconds between scale-outs:", [b - a for a, b in itertools.pairwise(outs)])


async def test_with_a_rate_window_shorter_than_the_cooldown_steps_come_every_cooldown_and_evaluation() -> None:
    config = SimConfig(rate_window_s=120)
    sim = await simulate(LoadCurve.plateau(100, 9.5 * PER_VM, start_s=600, duration_s=2 * HOUR), config)
    await sim.run_for(2 * HOUR)
    await verdict(sim, at_rest=False)
    outs = await steps(sim, ActivityKind.SCALE_OUT)
    gaps = [b - a for a, b in itertools.pairwise(outs)]
    print("seconds between scale-outs:", gaps)
    assert len(outs) == 8
    assert all(gap <= 300 + config.evaluation_interval_s + config.tick_s for gap in gaps), gaps


async def test_a_three_minute_spike_shorter_than_the_rule_window_changes_nothing() -> None:
    load = LoadCurve.spike(100, 10 * PER_VM, start_s=HOUR, duration_s=180)
    sim = await simulate(load)
    await sim.run_for(3 * HOUR)
    await verdict(sim)
    assert await sim.activities("web") == []


async def test_a_day_of_diurnal_load_follows_the_curve() -> None:
    load = LoadCurve.diurnal(low=40, high=700)
    sim = await simulate(load)
    await sim.run_for(24 * HOUR)
    await verdict(sim)
    assert size_at(sim, 14.5 * HOUR) >= 8  # the afternoon peak needs 9
    assert size_at(sim, 24 * HOUR) <= 3  # the night needs 2
    assert await steps(sim, ActivityKind.SCALE_IN)


async def test_noisy_load_around_the_threshold_does_not_flap() -> None:
    load = LoadCurve.noisy(LoadCurve.constant(3 * 78.0), amplitude=40, seed=7)
    sim = await simulate(load, min_size=3)
    await sim.run_for(8 * HOUR)
    await verdict(sim)


# -- faults ----------------------------------------------------------------------------------------


async def test_redis_flushed_mid_growth_changes_nothing() -> None:
    sim = await simulate(LoadCurve.constant(9.5 * PER_VM))
    await sim.run_for(30 * 60)
    before = await sim.size("web")
    sim.flush_redis()
    await sim.run_for(2 * HOUR)
    await verdict(sim)
    assert 2 < before < 10
    assert await sim.size("web") == 10


@pytest.mark.parametrize("flush", [False, True], ids=["restart", "restart-and-redis-flushed"])
async def test_a_scaler_restarted_mid_activity_finishes_it_and_goes_on(flush: bool) -> None:
    sim = await simulate(LoadCurve.constant(9.5 * PER_VM))
    while not any(s.busy for s in sim.samples[-1:]) or await sim.size("web") < 4:
        await sim.run_for(5)
    await sim.restart(flush_redis=flush)
    await sim.run_for(2 * HOUR)
    await verdict(sim)
    assert await sim.size("web") == 10
    outs = [a for a in await sim.activities("web") if a.kind is ActivityKind.SCALE_OUT]
    assert all(a.status.value == "succeeded" for a in outs)


async def test_nats_down_for_two_minutes_mid_activity_loses_nothing() -> None:
    sim = await simulate(LoadCurve.constant(9.5 * PER_VM))
    while not any(s.busy for s in sim.samples[-1:]) or await sim.size("web") < 4:
        await sim.run_for(5)
    await sim.bus_down(120)
    await sim.run_for(2 * HOUR)
    await verdict(sim)
    assert await sim.size("web") == 10


async def test_alert_messages_dead_lettered_are_decided_by_the_loop() -> None:
    sim = await simulate(LoadCurve.plateau(100, 9.5 * PER_VM, start_s=600, duration_s=3 * HOUR))
    sim.dead_letter_alerts(1_000)
    await sim.run_for(2 * HOUR)
    await verdict(sim, at_rest=False)
    assert sim.dropped_alerts and not sim.delivered_alerts
    assert await sim.size("web") == 10


async def test_prometheus_down_for_ten_minutes_never_scales_in_on_no_data() -> None:
    load = LoadCurve.piecewise([(2 * HOUR, 6 * PER_VM), (None, 40.0)])
    sim = await simulate(load)
    await sim.run_for(2 * HOUR)
    grown = await sim.size("web")
    await sim.prometheus_down(600)
    assert await sim.size("web") == grown
    assert not await steps(sim, ActivityKind.SCALE_IN)
    await sim.run_for(4 * HOUR)
    await verdict(sim)
    assert grown >= 7
    assert await sim.size("web") == 2


@pytest.mark.parametrize("which", ["autoscaled", "base"])
async def test_a_vm_deleted_in_vcenter_is_replaced(which: str) -> None:
    sim = await simulate(LoadCurve.constant(2.6 * PER_VM))
    await sim.run_for(HOUR)
    assert await sim.size("web") == 4
    names = await sim.in_service("web")
    victim = next(n for n in names if ("base" in n) == (which == "base"))
    sim.delete_vm(victim)
    await sim.run_for(HOUR)
    await verdict(sim)
    decisions = [d for d in await sim.decisions("web") if d.trigger == "converge" and d.allowed]
    assert any(victim in str(d.observed) or victim in d.message for d in decisions), decisions
    now = await sim.in_service("web")
    assert victim not in now and len(now) == 4


async def test_a_vm_whose_exporter_died_is_replaced_after_its_grace() -> None:
    sim = await simulate(LoadCurve.constant(2.6 * PER_VM))
    await sim.run_for(HOUR)
    victim = next(n for n in await sim.in_service("web") if "base" not in n)
    sim.kill_exporter(victim)
    await sim.run_for(200)
    assert victim in await sim.in_service("web")  # within its grace
    await sim.run_for(HOUR)
    await verdict(sim)
    assert victim not in await sim.in_service("web") and await sim.size("web") == 4
    decisions = [d for d in await sim.decisions("web") if d.trigger == "converge" and d.allowed]
    assert any("unhealthy" in d.message and victim in d.message for d in decisions), decisions


async def test_a_group_whose_exporters_never_answer_never_acts_and_says_why() -> None:
    """No data (no targets answering, NaN) is never a reason to scale, nor to call VMs lost."""
    sim = await simulate(LoadCurve.constant(9.5 * PER_VM))
    for name in await sim.in_service("web"):
        sim.kill_exporter(name, lasting=True)
    await sim.run_for(HOUR)
    await verdict(sim)
    assert await sim.activities("web") == []
    blocked = [d for d in await sim.decisions("web") if not d.allowed]
    assert blocked and all(d.reason == "metrics_unavailable" for d in blocked), blocked
    assert any("no data for job web" in d.message for d in blocked), blocked


async def test_capacity_exhausted_then_back() -> None:
    sim = await simulate(LoadCurve.constant(9.5 * PER_VM))
    await sim.run_for(30 * 60)
    sim.capacity(exhausted=True)
    stuck = await sim.size("web")
    await sim.run_for(HOUR)
    assert await sim.size("web") == stuck
    sim.capacity(exhausted=False)
    await sim.run_for(2 * HOUR)
    await verdict(sim)
    assert await sim.size("web") == 10
    failed = [a for a in await sim.activities("web") if a.status.value != "succeeded"]
    assert failed, "clones failed while vCenter had no capacity"
