"""Provisioning on enable/disable, other triggers, and fencing between two replicas (fakes)."""

from __future__ import annotations

import asyncio

import pytest

from services.scaler.domain import ActivityStatus, Process, ScheduledAction, TargetTrackingPolicy
from services.scaler.domain.saga import Step
from shared import subjects
from shared.errors import ConfigurationError, NotFound, OperationTimeout
from tests.unit.scaler.scaler_factories import group as make_group
from tests.unit.scaler.scaler_harness import Harness


async def test_enabling_checks_job_template_and_pool_and_names_what_is_missing() -> None:
    h = Harness()
    await h.setup(enabled=False)
    h.checker.templates.clear()
    with pytest.raises(ConfigurationError, match="template 'web-template' does not exist"):
        await h.scaler.admin.set_enabled("web", True)
    assert h.publisher.of(subjects.CMD_MONITORING_PROVISION_ALERTS) == []


async def test_enable_provisions_edit_reprovisions_disable_removes_and_vms_stay() -> None:
    h = Harness()
    await h.setup()
    (provision,) = h.publisher.of(subjects.CMD_MONITORING_PROVISION_ALERTS)
    assert provision.webhook_url.endswith("/api/webhook/autoscale/web")
    assert provision.rules.cpu_high == 80
    assert (await h.group()).state.alerts_status == "provisioned"
    spec = (await h.group()).spec
    thresholds = spec.thresholds.model_copy(update={"cpu_high": 90})
    await h.scaler.admin.save_group(spec.model_copy(update={"thresholds": thresholds}), create=False)
    await h.settle()
    assert [p.rules.cpu_high for p in h.publisher.of(subjects.CMD_MONITORING_PROVISION_ALERTS)] == [80, 90]
    await h.fire()
    await h.scaler.admin.set_enabled("web", False)
    await h.settle()
    assert len(h.publisher.of(subjects.CMD_MONITORING_REMOVE_ALERTS)) == 1
    assert h.publisher.of(subjects.CMD_MONITORING_SILENCE)[-1].active is False
    assert "web" not in h.world.alert_groups
    assert len(h.world.leftovers("web")["vms"]) == 3


async def test_a_failed_provisioning_is_visible_on_the_group() -> None:
    h = Harness()
    await h.setup(enabled=False)
    h.world.fail("provision_alerts", reason="amtool check-config failed")
    await h.scaler.admin.set_enabled("web", True)
    await h.settle()
    state = (await h.group()).state
    assert state.alerts_status == "failed" and "amtool" in state.alerts_detail


async def test_create_refuses_duplicates_and_unknown_pools() -> None:
    h = Harness()
    await h.setup(enabled=False)
    from shared.errors import Conflict, NotFound

    with pytest.raises(Conflict):
        await h.scaler.admin.save_group(make_group(), create=True)
    with pytest.raises(NotFound):
        await h.scaler.admin.save_group(make_group(name="api", vm_prefix="api", ip_pool="nope"), create=True)


async def test_suspended_scale_out_blocks_alerts() -> None:
    h = Harness()
    await h.setup()
    await h.scaler.admin.suspend("web", {Process.SCALE_OUT}, set())
    decision = await h.fire()
    assert decision.reason == "suspended"
    await h.scaler.admin.suspend("web", set(), {Process.SCALE_OUT})
    assert (await h.fire(fingerprint="b")).allowed


async def test_target_tracking_loop_scales_to_the_formula() -> None:
    h = Harness()
    policy = TargetTrackingPolicy(target=50, up_stabilization_s=0, interval_s=15)
    await h.setup(max_size=6, policies=[policy], pool={"ranges": [{"start": "127.0.10.10", "end": "127.0.10.30"}]})
    h.metrics.set("web", cpu=10, memory=10, value=100)
    await h.scaler.tick()
    await h.settle()
    (activity,) = await h.activities()
    assert activity.status is ActivityStatus.SUCCEEDED and len(activity.tracks) == 2


async def test_a_due_schedule_sets_the_desired_capacity() -> None:
    h = Harness()
    action = ScheduledAction(name="morning", cron="0 * * * *", desired=3)
    await h.setup(max_size=6, policies=[action], pool={"ranges": [{"start": "127.0.10.10", "end": "127.0.10.30"}]})
    h.metrics.set("web", cpu=50, memory=50)  # neither rule holds: only the schedule acts
    await h.scaler.tick()
    assert await h.activities() == []
    h.clock.advance(3600)
    await h.scaler.tick()
    await h.settle()
    (activity,) = await h.activities()
    assert activity.cause.startswith("schedule:morning")


class PausedProbe:
    """A health wait that hangs until released, then fails (a holder paused mid-step)."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()

    async def wait_healthy(self, url: str, timeout_s: float) -> None:
        await self.gate.wait()
        raise OperationTimeout("late failure from a paused holder")


async def test_a_paused_lease_holder_cannot_act_after_another_took_over() -> None:
    paused = PausedProbe()
    one = Harness(owner="r1", probe=paused)
    await one.setup()
    two = Harness(one.clock, store=one.store, lease=one.lease, world=one.world, owner="r2", publisher=one.publisher)
    await one.scaler.triggers.on_alert_fired(one.alert())
    for _ in range(3):
        await one.scaler.relay.flush()
        while not one.queue.empty():
            await one.deliver(*one.queue.get_nowait())
    (activity,) = await one.activities()
    assert [run.step for _, run in activity.steps_running()] == [Step.WAIT_HEALTHY]
    assert activity.owner == "r1"
    one.clock.advance(16)  # r1 is paused past the lease TTL
    await two.scaler.tick()
    (taken,) = await one.activities()
    assert taken.owner == "r2" and taken.lease_token > activity.lease_token
    await two.scaler.activities.idle()
    paused.gate.set()
    await one.scaler.activities.idle()  # r1's late failure must be refused by the fencing token
    await one.scaler.tick()
    assert not one.scaler.activities.owns(activity.id)
    await two.settle()
    (done,) = await one.activities()
    assert done.status is ActivityStatus.SUCCEEDED
    wait = next(r for r in done.tracks[0].forward if r.step is Step.WAIT_HEALTHY)
    assert wait.error is None
    assert one.world.clones == 1


async def test_detaching_an_instance_keeps_the_vm_and_its_address_out_of_the_pool() -> None:
    h = Harness()
    await h.setup(enabled=False, base=2)
    detached = await h.scaler.admin.detach("web", "web-base-1")
    assert detached.vm_name == "web-base-1"
    assert {i.vm_name for i in await h.instances()} == {"web-base-0"}
    assert "web-base-1" in h.world.vms, "the VM itself is never touched"
    pool = await h.store.transaction(lambda uow: uow.ip_pools.get("lab"))
    assert detached.address in pool.exclusions
    assert [x for x in await h.leases() if x.vm_name == "web-base-1"] == []
    with pytest.raises(NotFound, match="no instance"):
        await h.scaler.admin.detach("web", "web-base-1")
