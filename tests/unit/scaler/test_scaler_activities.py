"""Scale-out and scale-in sagas with fakes: order, rollback leaving nothing behind, retries."""

from __future__ import annotations

import pytest

from services.scaler.domain import ActivityStatus, InstanceState, LeaseState
from shared import subjects
from shared.messages import ActivityKind
from tests.unit.scaler.scaler_harness import Harness


async def test_an_alert_scales_out_through_every_step_in_order() -> None:
    h = Harness()
    await h.setup()
    decision = await h.fire()
    assert decision is not None and decision.allowed and decision.delta == 1
    (activity,) = await h.activities()
    assert activity.status is ActivityStatus.SUCCEEDED
    ops = [op for op, _ in h.world.handled if op not in ("provision_alerts", "silence")]
    assert ops == ["clone", "power_on", "register", "pool_add"]
    (new,) = [i for i in await h.instances() if not i.base]
    assert new.state is InstanceState.IN_SERVICE and new.vm_name.startswith("web-2026")
    assert [lease.state for lease in await h.leases() if lease.vm_name == new.vm_name] == [LeaseState.CONFIRMED]
    assert h.world.leftovers()["members"] == [new.vm_name]
    assert h.probe.probed == [f"http://{new.address}:8080/"]
    clone = h.publisher.of(subjects.CMD_VM_CLONE)[0]
    assert clone.power_on is False and str(clone.network.ip) == str(new.address)
    assert [e.step for e in h.publisher.of(subjects.ACTIVITY_STEP_COMPLETED)] == [
        "reserve_ip",
        "clone",
        "power_on",
        "wait_healthy",
        "register_monitoring",
        "add_pool_member",
        "in_service",
    ]
    assert len(h.publisher.of(subjects.ACTIVITY_SUCCEEDED)) == 1
    assert [d.allowed for d in h.publisher.of(subjects.DECISION_RECORDED)] == [True]


FAILURES = [
    ("clone", {"operation": "clone"}),
    ("power on", {"operation": "power_on"}),
    ("wait for health", None),
    ("register monitoring", {"operation": "register"}),
    ("add pool member", {"operation": "pool_add"}),
    ("post-provision hook", "hook"),
]


@pytest.mark.parametrize("failure", [f[1] for f in FAILURES], ids=[f[0] for f in FAILURES])
async def test_a_failing_step_rolls_back_and_leaves_nothing_behind(failure) -> None:
    h = Harness()
    hook = {"kind": "http", "target": "http://127.0.0.1:1/hook"} if failure == "hook" else None
    await h.setup(post_provision_hook=hook)
    if failure is None:
        h.probe.healthy = lambda url: False
    elif failure == "hook":
        h.hooks.failing.add("http://127.0.0.1:1/hook")
    else:
        h.world.fail(**failure, times=5)
    await h.fire()
    (activity,) = await h.activities()
    assert activity.status is ActivityStatus.ROLLED_BACK, activity
    assert activity.reason
    assert h.world.leftovers("web")["vms"] == ["web-base-0", "web-base-1"]
    assert h.world.leftovers()["targets"] == [] and h.world.leftovers()["members"] == []
    assert await h.leases() == []
    autoscaled = [i for i in await h.instances() if not i.base]
    assert [i.state for i in autoscaled] == [InstanceState.TERMINATED]
    assert len(h.publisher.of(subjects.ACTIVITY_ROLLED_BACK)) == 1


async def test_a_failing_post_provision_hook_never_puts_the_vm_in_the_pool() -> None:
    h = Harness()
    await h.setup(post_provision_hook={"kind": "http", "target": "http://127.0.0.1:1/hook"})
    h.hooks.failing.add("http://127.0.0.1:1/hook")
    await h.fire()
    (activity,) = await h.activities()
    assert activity.status is ActivityStatus.ROLLED_BACK
    assert [op for op, _ in h.world.handled if op.startswith("pool_")] == []


async def test_a_retryable_failure_is_retried_after_backoff() -> None:
    h = Harness()
    await h.setup()
    h.world.fail("clone", retryable=True)
    await h.fire()
    (activity,) = await h.activities()
    assert activity.status is ActivityStatus.RUNNING
    h.clock.advance(2)
    await h.scaler.tick()
    await h.settle()
    (activity,) = await h.activities()
    assert activity.status is ActivityStatus.SUCCEEDED
    assert h.world.clones == 1


async def test_a_command_nobody_answers_times_out_then_compensates() -> None:
    h = Harness()
    await h.setup()
    h.world.fail("register", silent=True, times=10)
    await h.fire()
    h.metrics.set("web", cpu=50, memory=50)  # the load is gone: no retry after the back-off
    for _ in range(6):
        h.clock.advance(400)
        await h.scaler.tick()
        await h.settle()
    (activity,) = await h.activities()
    assert activity.status is ActivityStatus.ROLLED_BACK
    assert "timed out" in (activity.reason or "")
    assert h.world.leftovers("web")["vms"] == ["web-base-0", "web-base-1"]


async def test_five_deliveries_of_one_alert_start_one_activity() -> None:
    h = Harness()
    await h.setup(max_size=10, pool={"ranges": [{"start": "127.0.10.10", "end": "127.0.10.30"}]})
    alert = h.alert()
    for _ in range(5):
        await h.scaler.triggers.on_alert_fired(alert)
    for fingerprint in ("a", "b", "c"):
        await h.scaler.triggers.on_alert_fired(h.alert(fingerprint=fingerprint))
    await h.settle()
    assert len(await h.activities()) == 1
    assert h.world.clones == 1


async def test_sustained_load_scales_again_right_after_the_cooldown() -> None:
    h = Harness()
    await h.setup(max_size=6, pool={"ranges": [{"start": "127.0.10.10", "end": "127.0.10.30"}]})
    await h.fire()
    blocked = await h.scaler.triggers.on_alert_fired(h.alert(fingerprint="again"))
    assert blocked is not None and blocked.reason == "cooldown"
    h.clock.advance(299)
    await h.scaler.tick()
    await h.settle()
    assert len(await h.activities()) == 1
    h.clock.advance(2)
    await h.scaler.tick()
    await h.settle()
    assert [a.status for a in await h.activities()] == [ActivityStatus.SUCCEEDED, ActivityStatus.SUCCEEDED]


async def test_a_pool_of_three_addresses_blocks_the_fourth_scale_out() -> None:
    h = Harness()
    await h.setup(
        max_size=10,
        base=0,
        min_size=1,
        scale_out_cooldown_s=0,
        pool={"ranges": [{"start": "127.0.10.10", "end": "127.0.10.12"}]},
    )
    for index in range(3):
        decision = await h.fire(fingerprint=f"f{index}")
        assert decision.allowed, decision
    fourth = await h.fire(fingerprint="f3")
    assert fourth.reason == "ip_pool_exhausted"
    assert h.world.clones == 3


async def test_scale_in_removes_the_newest_autoscaled_vm_in_order_and_silences_at_min() -> None:
    h = Harness()
    await h.setup(scale_out_cooldown_s=0)
    await h.fire(fingerprint="o1")
    first = max((i for i in await h.instances() if not i.base), key=lambda i: i.created_at)
    h.clock.advance(60)
    await h.fire(fingerprint="o2")
    newest = max((i for i in await h.instances() if not i.base), key=lambda i: i.created_at)
    assert newest.vm_name != first.vm_name
    assert h.world.silenced.get("web") is False or "web" not in h.world.silenced
    h.metrics.set("web", cpu=5, memory=5)
    h.clock.advance(601)  # a reversal needs the whole scale-in window after the last activity
    h.world.handled.clear()
    decision = await h.fire(direction="in", fingerprint="i1")
    assert decision.allowed and decision.delta == -1
    ops = [op for op, message in h.world.handled if op != "silence"]
    assert ops == ["pool_drain", "pool_remove", "deregister", "power_off", "destroy"]
    assert {m.vm_name if hasattr(m, "vm_name") else m.name for _, m in h.world.handled if _ != "silence"} == {
        newest.vm_name
    }
    states = {i.vm_name: i.state for i in await h.instances()}
    assert states[newest.vm_name] is InstanceState.TERMINATED and states[first.vm_name] is InstanceState.IN_SERVICE
    assert newest.vm_name not in [lease.vm_name for lease in await h.leases()]
    h.clock.advance(601)
    await h.fire(direction="in", fingerprint="i2")
    assert h.world.silenced["web"] is True
    record = await h.group()
    assert record.state.scale_in_silenced is True
    blocked = await h.scaler.triggers.on_alert_fired(h.alert(direction="in", fingerprint="i3"))
    assert blocked.reason == "at_min"
    h.metrics.set("web", cpu=95, memory=5)
    h.clock.advance(301)  # and back out: the whole scale-out window after the scale-in
    await h.fire(fingerprint="o3")
    assert h.world.silenced["web"] is False


async def test_least_busy_scale_in_removes_the_vm_prometheus_reads_as_least_loaded() -> None:
    h = Harness()
    await h.setup(scale_out_cooldown_s=0, victim_order="least_busy")
    await h.fire(fingerprint="o1")
    h.clock.advance(60)
    await h.fire(fingerprint="o2")
    older, newer = sorted((i for i in await h.instances() if not i.base), key=lambda i: i.created_at)
    h.metrics.loads["web"] = {str(older.address): 4.0, str(newer.address): 12.0}
    h.metrics.set("web", cpu=12, memory=5)
    h.clock.advance(601)
    h.world.handled.clear()
    decision = await h.fire(direction="in", fingerprint="i1")
    assert decision.allowed and decision.delta == -1
    assert {m.vm_name for op, m in h.world.handled if op == "destroy"} == {older.vm_name}  # not the newest


async def test_scaling_in_a_vm_vcenter_no_longer_has_completes_instead_of_rolling_back() -> None:
    """Found in the lab after a restart: the victim had vanished from vCenter, its power-off
    failed with not_found, and the compensation retried powering on a VM that does not exist."""
    h = Harness()
    await h.setup(scale_out_cooldown_s=0)
    await h.fire()
    clone = next(i for i in await h.instances() if not i.base)
    h.world.vms.pop(clone.vm_name)  # deleted behind our back, not noticed yet
    h.metrics.set("web", cpu=5, memory=5)
    h.clock.advance(601)
    decision = await h.fire(direction="in", fingerprint="i1")
    assert decision.allowed and decision.delta == -1
    (activity,) = [a for a in await h.activities() if a.kind is ActivityKind.SCALE_IN]
    assert activity.status is ActivityStatus.SUCCEEDED, activity.reason
    assert {i.vm_name: i.state for i in await h.instances()}[clone.vm_name] is InstanceState.TERMINATED
    assert clone.vm_name not in [lease.vm_name for lease in await h.leases()]


async def test_a_rollback_whose_vm_vanished_from_vcenter_ends_instead_of_retrying_its_power_off() -> None:
    """Found after a lab restart: the new VM was gone, its health wait failed, and the rollback
    retried powering off a VM that no longer exists, holding the group."""
    h = Harness()
    await h.setup()

    def vanished(url: str) -> bool:
        for name in [n for n, vm in h.world.vms.items() if "base" not in n]:
            h.world.vms.pop(name)
        return False

    h.probe.healthy = vanished
    await h.fire()
    (activity,) = await h.activities()
    assert activity.status is ActivityStatus.ROLLED_BACK, (activity.status, activity.reason)
    assert await h.leases() == []


async def test_scale_in_that_cannot_destroy_restores_the_member() -> None:
    h = Harness()
    await h.setup()
    await h.fire()
    (vm,) = [i for i in await h.instances() if not i.base]
    h.metrics.set("web", cpu=5, memory=5)
    h.clock.advance(601)
    h.world.fail("destroy", times=5)
    await h.fire(direction="in", fingerprint="i1")
    latest = (await h.activities())[0]
    assert latest.status is ActivityStatus.ROLLED_BACK
    assert vm.vm_name in h.world.leftovers()["members"] and vm.vm_name in h.world.leftovers()["targets"]
    states = {i.vm_name: i.state for i in await h.instances()}
    assert states[vm.vm_name] is InstanceState.IN_SERVICE


async def test_unknown_alert_and_blind_scale_in_are_recorded_and_do_nothing() -> None:
    h = Harness()
    await h.setup(base=3)
    from shared.messages import AlertFired, utcnow

    odd = AlertFired(group="web", alertname="web_DiskFull", fingerprint="x", starts_at=utcnow())
    decision = await h.scaler.triggers.on_alert_fired(odd)
    assert decision.reason == "unknown_alert"
    h.metrics.down = True
    decision = await h.fire(direction="in")
    assert decision.reason in ("metrics_unavailable", "no_victims")
    decision = await h.fire(fingerprint="fresh")
    assert decision.allowed
    reasons = [d.reason for d in await h.scaler.views.decisions("web", None, None, None, 10)]
    assert "unknown_alert" in reasons


async def test_cancel_compensates_and_ends_cancelled() -> None:
    h = Harness()
    await h.setup()
    h.world.fail("register", silent=True)
    await h.fire()
    (activity,) = await h.activities()
    await h.scaler.activities.cancel(activity.id, "alice")
    await h.settle()
    (activity,) = await h.activities()
    assert activity.status is ActivityStatus.CANCELLED
    assert h.world.leftovers("web")["vms"] == ["web-base-0", "web-base-1"]


async def test_manual_scale_and_protection() -> None:
    h = Harness()
    await h.setup(max_size=6, pool={"ranges": [{"start": "127.0.10.10", "end": "127.0.10.30"}]})
    from services.scaler.domain import ManualChange

    decision = await h.scaler.triggers.manual("web", ManualChange(desired=4))
    await h.settle()
    assert decision.allowed and decision.delta == 2
    assert len([i for i in await h.instances() if i.state is InstanceState.IN_SERVICE]) == 4
    for instance in await h.instances():
        if not instance.base:
            await h.scaler.admin.protect("web", instance.vm_name, True)
    blocked = await h.scaler.triggers.manual("web", ManualChange(desired=2))
    assert blocked.reason == "no_victims"
