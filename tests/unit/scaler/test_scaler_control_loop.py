"""The level-triggered loop (docs/architecture.md §3a): conditions from Prometheus with fresh evidence only,
convergence, lost VMs, fences that survive a lost lease store, silences renewed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.scaler.domain import (
    InstanceState,
    MetricHistory,
    MetricPoint,
    assess,
)
from shared import subjects
from shared.messages import PowerState, ScaleDirection, SetScaleInSilence
from testkit.scaler.fake_world import FakeVm
from tests.unit.scaler.scaler_factories import NOW, group
from tests.unit.scaler.scaler_harness import Harness


def history(values: list[tuple[int, float, float]], *, rate_s: float = 0.0, step_s: float = 15) -> MetricHistory:
    """Points at ``NOW - seconds_ago`` with the given cpu and memory."""
    points = tuple(MetricPoint(at=NOW - timedelta(seconds=ago), cpu=c, memory=m) for ago, c, m in values)
    return MetricHistory(available=True, points=points, rate_window_s=rate_s, step_s=step_s)


def steady(cpu: float, memory: float, span: int = 700) -> list[tuple[int, float, float]]:
    return [(ago, cpu, memory) for ago in range(span, -1, -15)]


def test_high_must_hold_at_every_point_of_its_window() -> None:
    g = group()  # out_for 300 s, cpu_high 80
    assert assess(g, history(steady(95, 40)), NOW).direction is ScaleDirection.OUT
    dip = [(ago, 50 if ago == 115 else 95, 40) for ago in range(700, -1, -15)]
    verdict = assess(g, history(dip), NOW)
    assert verdict.direction is None and "not throughout the window" in verdict.why


def test_low_needs_cpu_and_memory_low_and_no_data_is_never_low() -> None:
    g = group()
    assert assess(g, history(steady(5, 10)), NOW).direction is ScaleDirection.IN
    assert assess(g, history(steady(5, 50)), NOW).direction is None
    nothing = assess(g, MetricHistory(available=True, points=()), NOW)
    assert not nothing.available and "no data" in nothing.why


def test_a_gap_in_the_data_breaks_the_window() -> None:
    g = group()
    gappy = [(ago, 95.0, 40.0) for ago in range(700, -1, -15) if not 100 <= ago <= 160]
    assert "gap" in assess(g, history(gappy), NOW).why


def test_a_reversal_needs_the_whole_window_after_the_last_activity() -> None:
    g = group()  # in_for 600 s
    ended = NOW - timedelta(seconds=120)
    waiting = assess(g, history(steady(5, 10)), NOW, floor=ended, last_direction=ScaleDirection.OUT)
    assert waiting.direction is None and "waiting" in waiting.why
    long_ago = NOW - timedelta(seconds=601)
    assert (
        assess(g, history(steady(5, 10)), NOW, floor=long_ago, last_direction=ScaleDirection.OUT).direction
        is ScaleDirection.IN
    )


def test_a_rate_window_reaching_before_the_activity_is_not_evidence() -> None:
    g = group()
    ended = NOW - timedelta(seconds=30)
    # continuing a scale-out: the fresh part of the window suffices, but only points whose rate
    # window starts after the activity ended count (rate 60 s: none yet)
    early = assess(g, history(steady(95, 40), rate_s=60), NOW, floor=ended, last_direction=ScaleDirection.OUT)
    assert early.direction is None
    later = assess(g, history(steady(95, 40), rate_s=20), NOW, floor=ended, last_direction=ScaleDirection.OUT)
    assert later.direction is ScaleDirection.OUT and later.evidence_from is not None
    assert later.evidence_from >= ended


async def test_sustained_load_keeps_scaling_without_any_alert_until_max() -> None:
    h = Harness()
    await h.setup(
        max_size=6, scale_out_cooldown_s=300, pool={"ranges": [{"start": "127.0.10.10", "end": "127.0.10.30"}]}
    )
    sizes = []
    for _ in range(40):  # 40 evaluations of 60 s: far longer than any alert memory
        await h.scaler.tick()
        await h.settle()
        sizes.append(sum(1 for i in await h.instances() if i.counts))
        h.clock.advance(60)
    assert sizes[-1] == 6
    assert sizes.index(6) <= 4 * 5 + 1, sizes  # one step per cooldown (300 s) + one evaluation


async def test_an_alert_stored_then_failing_to_decide_is_decided_by_the_loop() -> None:
    h = Harness()
    await h.setup()
    h.lease.down = True
    assert await h.scaler.triggers.on_alert_fired(h.alert()) is None  # stored; nothing raised
    assert await h.activities() == []
    h.lease.down = False
    await h.scaler.tick()
    await h.settle()
    assert len(await h.activities()) == 1


async def test_a_flushed_lease_store_does_not_fence_the_scaler_out() -> None:
    h = Harness()
    await h.setup(scale_out_cooldown_s=0, max_size=6, pool={"ranges": [{"start": "127.0.10.10", "end": "127.0.10.30"}]})
    await h.fire(fingerprint="a")
    fence = (await h.group()).state.lease_fence
    assert fence > 0
    h.lease.flush()  # an embedded Redis restarted empty
    h.clock.advance(30)
    decision = await h.fire(fingerprint="b")
    assert decision is not None and decision.allowed, decision
    assert (await h.group()).state.lease_fence > fence


async def test_a_group_below_min_is_brought_to_min() -> None:
    h = Harness()
    await h.setup(base=1, min_size=3)
    h.metrics.set("web", cpu=50, memory=50)
    await h.scaler.tick()
    await h.settle()
    assert sum(1 for i in await h.instances() if i.counts) == 3
    decisions = await h.store.transaction(lambda uow: uow.decisions.find("web"))
    assert decisions[0].trigger == "converge" and "below min_size" in decisions[0].message


async def test_a_vm_deleted_behind_our_back_is_removed_and_replaced() -> None:
    vms: dict[str, str] = {}

    async def presence(names: list[str]) -> dict[str, str]:
        return {n: vms[n] for n in names if n in vms}

    h = Harness(presence=presence)
    await h.setup(scale_out_cooldown_s=0)
    h.metrics.set("web", cpu=95, memory=40)
    await h.fire()
    h.metrics.set("web", cpu=50, memory=50)
    for instance in await h.instances():
        vms[instance.vm_name] = PowerState.ON
    clone = next(i for i in await h.instances() if not i.base)
    del vms[clone.vm_name]
    h.world.vms.pop(clone.vm_name, None)
    await h.scaler.tick()  # missing, but within the grace period
    await h.settle()
    assert {i.vm_name: i.state for i in await h.instances()}[clone.vm_name] is InstanceState.IN_SERVICE
    h.clock.advance(61)
    await h.scaler.tick()  # lost: removed (member, target and address freed)
    await h.settle()
    assert {i.vm_name: i.state for i in await h.instances()}[clone.vm_name] is InstanceState.TERMINATED
    assert clone.vm_name not in h.world.leftovers().get("members", [])
    assert (await h.group()).state.replacements_owed == 1
    h.clock.advance(1)
    await h.scaler.tick()  # replaced
    await h.settle()
    assert sum(1 for i in await h.instances() if i.counts) == 3
    assert (await h.group()).state.replacements_owed == 0
    decisions = await h.store.transaction(lambda uow: uow.decisions.find("web"))
    assert any("lost" in d.message and clone.vm_name in d.message for d in decisions)
    assert "replacing 1 lost VM" in decisions[0].message


async def test_late_base_vms_are_adopted_on_a_later_round() -> None:
    seen: list[tuple[str, str | None]] = [("web-base-0", "127.0.10.200")]

    async def existing(_spec: object) -> list[tuple[str, str | None]]:
        return list(seen)

    h = Harness(existing_vms=existing)
    await h.setup(base=1, min_size=2)
    h.metrics.set("web", cpu=50, memory=50)
    seen.append(("web-late", "127.0.10.201"))
    h.world.vms["web-late"] = FakeVm(name="web-late", group="web", template="t", ip="127.0.10.201", power=PowerState.ON)
    await h.scaler.tick()
    await h.settle()
    instances = {i.vm_name: i for i in await h.instances()}
    assert instances["web-late"].base and instances["web-late"].counts
    assert sum(1 for i in instances.values() if i.counts) == 2, "adopted, not cloned"


async def test_the_scale_in_silence_is_renewed_while_the_group_sits_at_min() -> None:
    h = Harness()
    await h.setup(base=2)
    h.metrics.set("web", cpu=50, memory=50)
    assert (await h.group()).state.scale_in_silenced
    before = len(h.publisher.of(subjects.CMD_MONITORING_SILENCE))
    h.clock.advance(601)
    await h.scaler.tick()
    await h.settle()
    renewed = h.publisher.of(subjects.CMD_MONITORING_SILENCE)[before:]
    assert renewed and all(isinstance(m, SetScaleInSilence) and m.active for m in renewed)
    h.clock.advance(10)
    await h.scaler.tick()
    assert len(h.publisher.of(subjects.CMD_MONITORING_SILENCE)) == before + len(renewed), "not before it is due"


async def test_a_vm_prometheus_cannot_scrape_past_its_grace_is_replaced_but_not_when_none_answer() -> None:
    async def presence(names: list[str]) -> dict[str, str]:
        return dict.fromkeys(names, PowerState.ON)  # vCenter runs every VM

    h = Harness(presence=presence)
    await h.setup(scale_out_cooldown_s=0)
    await h.fire()
    h.metrics.set("web", cpu=50, memory=50)
    clone = next(i for i in await h.instances() if not i.base)
    addresses = [str(i.address) for i in await h.instances() if i.counts]
    h.metrics.health["web"] = dict.fromkeys(addresses, False)  # Prometheus reaches none: its trouble
    for _ in range(2):
        await h.scaler.tick()
        h.clock.advance(301)
    await h.settle()
    assert all(i.state is InstanceState.IN_SERVICE for i in await h.instances() if i.counts)
    h.metrics.health["web"] = {a: a != str(clone.address) for a in addresses}  # only the clone fails
    await h.scaler.tick()  # unhealthy, within the grace period
    await h.settle()
    assert {i.vm_name: i.state for i in await h.instances()}[clone.vm_name] is InstanceState.IN_SERVICE
    h.clock.advance(301)
    await h.scaler.tick()
    await h.settle()
    assert {i.vm_name: i.state for i in await h.instances()}[clone.vm_name] is InstanceState.TERMINATED
    decisions = await h.store.transaction(lambda uow: uow.decisions.find("web"))
    assert any("unhealthy" in d.message and clone.vm_name in d.message for d in decisions)
    assert clone.vm_name not in h.world.vms  # an autoscaled VM's remains are destroyed


@pytest.mark.parametrize("repair", [True, False])
async def test_pool_drift_is_repaired_for_members_vmscale_owns_only(repair: bool) -> None:
    h = Harness()
    await h.setup(scale_out_cooldown_s=0, repair_drift=repair)
    await h.fire()
    h.metrics.set("web", cpu=50, memory=50)
    clone = next(i for i in await h.instances() if not i.base)
    gone = clone.model_copy(update={"vm_name": "web-old", "state": InstanceState.TERMINATED})
    await h.store.transaction(lambda uow: uow.instances.save(gone))
    bases = [(i.vm_name, str(i.address)) for i in await h.instances() if i.base]
    # the load balancer lost the clone, kept the terminated VM's member, and has one of its own
    await h.scaler.drift.compare("web-pool", [*bases, ("web-old", "127.0.10.99"), ("ops-box", "127.0.10.98")], "test")
    h.world.handled.clear()
    h.clock.advance(61)
    await h.scaler.tick()
    await h.settle()
    pool_ops = sorted((op, m.name) for op, m in h.world.handled if op.startswith("pool_"))
    decisions = await h.store.transaction(lambda uow: uow.decisions.find("web"))
    repairs = [d.message for d in decisions if d.trigger == "converge" and d.delta == 0]
    if not repair:
        assert pool_ops == [] and repairs == []
        return
    assert pool_ops == [("pool_add", clone.vm_name), ("pool_remove", "web-old")]  # never ops-box
    assert any(clone.vm_name in m and "added back" in m for m in repairs), repairs
    assert any("web-old" in m and "removed" in m for m in repairs), repairs
    h.world.handled.clear()
    h.clock.advance(16)
    await h.scaler.tick()  # not again before adopt_every_s
    assert [op for op, _ in h.world.handled if op.startswith("pool_")] == []


async def test_an_operator_request_waits_for_a_lease_a_decision_holds_and_not_for_an_activity() -> None:
    import asyncio

    from services.scaler.domain import ManualChange

    h = Harness()
    await h.setup(enabled=False)
    await h.scaler.admin.set_enabled("web", True)
    record = await h.group()
    held = await h.lease.acquire("web", "loop-elsewhere", 30, record.state.lease_fence)
    assert held is not None

    async def release_soon() -> None:
        await asyncio.sleep(0.2)  # a loop evaluation's decision ends
        await h.lease.release(held)

    releasing = asyncio.create_task(release_soon())
    decision = await h.scaler.triggers.manual("web", ManualChange(desired=3, actor="alice"))
    await releasing
    assert decision is not None and decision.allowed and decision.delta == 1
    await h.settle()
    # while an activity runs, the answer is "in progress" at once
    h.world.fail("clone", silent=True)
    started = await h.scaler.triggers.manual("web", ManualChange(desired=4, actor="alice"))
    assert started is not None and started.allowed
    blocked = await h.scaler.triggers.manual("web", ManualChange(desired=4, actor="bob"))
    assert blocked is not None and blocked.reason == "in_progress"
