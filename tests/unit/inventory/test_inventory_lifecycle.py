"""Commands run against the in-memory vCenter: results, idempotency, failures, resumption."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.inventory.cache import InventoryCache
from services.inventory.context import Timeouts
from services.inventory.lifecycle import Lifecycle
from services.inventory.watcher import Watcher
from shared import subjects
from shared.errors import QuotaExceeded, ServiceUnavailable
from shared.messages import (
    CloneVm,
    DestroyVm,
    MakeTemplate,
    NetworkSpec,
    Placement,
    VmInfo,
    VmProgress,
    VmsQuery,
)
from testkit.inventory.memory import MemoryOperationStore, MemoryVcenter
from tests.unit.inventory.memory_world import seeded_vcenter


class Published(list):
    """Outcomes in order; progress reports (``vm.progress``) apart, in ``progress``."""

    def __init__(self, refuse_progress: bool = False) -> None:
        super().__init__()
        self.progress: list[VmProgress] = []
        self.refuse_progress = refuse_progress

    async def __call__(self, subject, event) -> None:
        if subject is subjects.VM_PROGRESS:
            if self.refuse_progress:
                raise ServiceUnavailable("NATS is unavailable")
            self.progress.append(event)
        else:
            self.append((subject.name, event))


def make(
    world: MemoryVcenter | None = None,
    published: Published | None = None,
    store: MemoryOperationStore | None = None,
) -> tuple[Lifecycle, MemoryVcenter, Published, MemoryOperationStore]:
    world = world or seeded_vcenter()
    cache = InventoryCache()
    snapshot = world.snapshot()
    cache.replace(snapshot.vms, snapshot.objects)
    published = published if published is not None else Published()
    store = store if store is not None else MemoryOperationStore()
    life = Lifecycle(world, world, store, cache, published, Timeouts(task_s=5, ip_s=1, poll_s=0.01))
    return life, world, published, store


def clone(name: str = "web-11", activity: str = "act-1") -> CloneVm:
    return CloneVm(
        activity_id=activity,
        group="web",
        vm_name=name,
        template="tpl-web",
        network=NetworkSpec(ip="127.0.10.31", prefix_length=24),
        placement=Placement(folder="prod/web", resource_pool="web"),
    )


async def test_a_clone_is_customized_powered_on_and_answered_once() -> None:
    life, _world, published, _ = make()
    await life.submit("clone", clone())
    await life.drain()
    assert [name for name, _ in published] == [subjects.VM_CLONED.name]
    event = published[0][1]
    assert (event.ip, event.power_state, event.correlation_id) == ("127.0.10.31", "poweredOn", "act-1")
    assert life.cache.named("web-11")[0].ip == "127.0.10.31"


async def test_a_clone_reports_its_progress_step_by_step_and_within_the_vcenter_task() -> None:
    life, world, published, _ = make()
    world.task_progress = (40, 100)
    await life.submit("clone", clone())
    await life.drain()
    steps = [(p.step, p.percent, p.task_percent) for p in published.progress]
    assert steps == [
        ("clone_started", 5, None),
        ("clone_started", 27, 40),  # 5 + (60 - 5) * 40%
        ("clone_started", 60, 100),
        ("cloned", 60, None),
        ("customized", 75, None),
        ("powered_on", 85, None),
    ]
    assert {(p.operation, p.vm_name, p.group, p.activity_id, p.source) for p in published.progress} == {
        ("clone", "web-11", "web", "act-1", "tpl-web")
    }
    assert [name for name, _ in published] == [subjects.VM_CLONED.name]


async def test_a_clone_without_power_on_fills_the_bar_up_to_its_customization() -> None:
    life, world, published, _ = make()
    world.task_progress = (100,)
    await life.submit("clone", clone().model_copy(update={"power_on": False}))
    await life.drain()
    assert [(p.step, p.percent) for p in published.progress] == [
        ("clone_started", 5),
        ("clone_started", 80),
        ("cloned", 80),
        ("customized", 95),
    ]


async def test_a_template_reports_its_progress_with_the_template_and_source_names() -> None:
    life, world, published, _ = make()
    world.task_progress = (50,)
    await life.submit("template_create", MakeTemplate(source_vm="web-1", template_name="tpl-web-2"))
    await life.drain()
    assert [(p.step, p.percent) for p in published.progress] == [
        ("clone_started", 5),
        ("clone_started", 50),
        ("cloned", 95),
    ]
    assert {(p.operation, p.vm_name, p.source) for p in published.progress} == {("template", "tpl-web-2", "web-1")}
    assert [name for name, _ in published] == [subjects.TEMPLATE_CREATED.name]


async def test_progress_that_cannot_be_published_never_holds_up_or_fails_the_clone() -> None:
    life, _world, published, _ = make(published=Published(refuse_progress=True))
    await life.submit("clone", clone())
    await life.drain()
    assert [name for name, _ in published] == [subjects.VM_CLONED.name] and published.progress == []


async def test_a_redelivered_command_republishes_the_same_event_without_cloning_again() -> None:
    life, world, published, _ = make()
    command = clone()
    await life.submit("clone", command)
    await life.drain()
    await life.submit("clone", command)
    await life.drain()
    assert world.calls["start_clone"] == 1
    assert published[0][1].message_id == published[1][1].message_id


async def test_a_permanent_failure_after_the_clone_removes_the_clone() -> None:
    life, world, published, _ = make()
    world.fail_next("customize", QuotaExceeded("no memory", reason="insufficient_resources"))
    await life.submit("clone", clone())
    await life.drain()
    ((name, event),) = published
    assert (name, event.reason, event.retryable) == (subjects.VM_OPERATION_FAILED.name, "insufficient_resources", False)
    assert world.find_vms("web-11") == []


async def test_a_retried_command_after_a_retryable_failure_adopts_the_tagged_vm() -> None:
    life, world, published, _ = make()
    world.time_out("customize")
    await life.submit("clone", clone())
    await life.drain()
    assert published[-1][1].reason == "timeout" and published[-1][1].retryable
    await life.submit("clone", clone())  # the scaler retries: same activity, new message id
    await life.drain()
    assert published[-1][0] == subjects.VM_CLONED.name
    assert world.calls["start_clone"] == 1
    assert len(world.find_vms("web-11")) == 1


async def test_an_operation_saved_mid_way_resumes_from_its_task() -> None:
    life, world, published, store = make()
    world.fail_next("customize", RuntimeError("process killed"))  # type: ignore[arg-type]
    await life.submit("clone", clone())
    await life.drain()  # the task died with the "process"
    assert published == []
    (saved,) = store.unfinished()
    assert saved.step == "cloned" and saved.vm_moref
    restarted, _, published2, _ = make(world, store=store)
    assert await restarted.resume() == 1
    await restarted.drain()
    assert [name for name, _ in published2] == [subjects.VM_CLONED.name]
    assert world.calls["start_clone"] == 1


async def test_destroying_an_absent_vm_is_reported_as_destroyed() -> None:
    life, _, published, _ = make()
    await life.submit("destroy", DestroyVm(activity_id="a", vm_name="ghost-1"))
    await life.drain()
    assert [name for name, _ in published] == [subjects.VM_DESTROYED.name]


async def test_the_cache_reports_changes_since_a_revision() -> None:
    life, world, _, _ = make()
    start = life.cache.revision
    world.set_power("vm-11", "poweredOff")
    life.cache.apply(world.changes(0))  # the first batch is full: unchanged VMs keep their revision
    life.cache.apply(world.changes(0))
    page, _total, removed, complete = life.cache.select(VmsQuery(since_revision=start))
    assert [vm.name for vm in page] == ["web-1"] and complete and removed == []
    life.cache.remove("vm-12")
    _, _, removed, _ = life.cache.select(VmsQuery(since_revision=start))
    assert removed == ["vm-12"]


def test_vm_lists_come_in_pages_that_chain_by_offset() -> None:
    from services.inventory.queries import InventoryQueries
    from services.inventory.watcher import ConnectionStatus

    life, _, _, store = make()
    queries = InventoryQueries(life.cache, store, ConnectionStatus(), page_size=2)
    first = queries.vms(VmsQuery())
    second = queries.vms(VmsQuery(offset=first.next_offset))
    assert [vm.name for vm in first.vms + second.vms] == ["web-1", "web-2", "web-10"]
    assert (first.total, first.next_offset, second.next_offset) == (3, 2, None)


def test_a_list_asked_again_after_a_change_shows_the_change_in_natural_order() -> None:
    life, world, _, _ = make()
    life.cache.apply(world.changes(0))
    assert [vm.name for vm in life.cache.select(VmsQuery(power_state="poweredOn"))[0]] == ["web-1", "web-2", "web-10"]
    renamed = life.cache.get("vm-11")
    assert renamed is not None
    life.cache.upsert(renamed.model_copy(update={"name": "web-11", "power_state": "poweredOff"}))
    assert [vm.name for vm in life.cache.select(VmsQuery(power_state="poweredOn"))[0]] == ["web-2", "web-10"]
    assert [vm.name for vm in life.cache.select(VmsQuery())[0]] == ["web-2", "web-10", "web-11"]
    life.cache.remove("vm-12")
    assert [vm.name for vm in life.cache.select(VmsQuery())[0]] == ["web-10", "web-11"]


class _FailsOnce:
    """The in-memory vCenter whose change feed raises an error we never translated, once."""

    def __init__(self, world: MemoryVcenter) -> None:
        self.world = world
        self.raised = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.world, name)

    def changes(self, max_wait_s: int) -> Any:
        if not self.raised:
            self.raised = True
            raise ConnectionResetError("the vCenter connection was reset")
        return self.world.changes(max_wait_s)


async def test_the_watch_outlives_an_unexpected_error_and_the_cache_stays_current() -> None:
    world = seeded_vcenter()
    cache = InventoryCache()
    reader = _FailsOnce(world)
    watcher = Watcher(reader, cache, wait_s=0, backoff_s=0.0)  # type: ignore[arg-type]
    task = asyncio.create_task(watcher.run())
    try:
        await watcher.synced.wait()
        world.add_vm(VmInfo(name="web-planted", moref="vm-77", folder="prod/web", datacenter="DC1"))
        while not cache.named("web-planted"):
            assert not task.done(), task
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert reader.raised and watcher.status.connected and watcher.status.consecutive_failures == 0


class BlinkingPublished(Published):
    """Refuses results (not progress) while ``down`` is set, as NATS does during a blip."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True
        self.refused = 0

    async def __call__(self, subject, event) -> None:
        if self.down and subject is not subjects.VM_PROGRESS:
            self.refused += 1
            raise ServiceUnavailable("NATS is unavailable")
        await super().__call__(subject, event)


async def test_a_result_held_back_by_a_nats_blip_is_published_by_the_next_pass_without_redoing_the_clone() -> None:
    published = BlinkingPublished()
    life, world, _, store = make(published=published)
    await life.submit("clone", clone())
    await life.drain()
    assert published.refused == 1 and list(published) == []
    assert [op.status for op in store.unfinished()] == ["publishing"]
    assert len(world.find_vms("web-11")) == 1
    progress_before = len(published.progress)

    published.down = False
    assert await life.republish_stored() == 1
    assert [name for name, _ in published] == [subjects.VM_CLONED.name]
    assert store.unfinished() == []
    assert await life.republish_stored() == 0  # nothing owed any more
    assert len(world.find_vms("web-11")) == 1
    assert len(published.progress) == progress_before  # no step ran again


async def test_a_result_pass_during_a_longer_outage_keeps_the_result_owed() -> None:
    published = BlinkingPublished()
    life, _, _, store = make(published=published)
    await life.submit("clone", clone())
    await life.drain()
    with pytest.raises(ServiceUnavailable):
        await life.republish_stored()
    assert [op.status for op in store.unfinished()] == ["publishing"]


async def test_a_redelivered_command_whose_result_is_owed_publishes_it_and_does_not_rerun() -> None:
    published = BlinkingPublished()
    life, _, _, store = make(published=published)
    command = clone()
    await life.submit("clone", command)
    await life.drain()
    progress_before = len(published.progress)
    published.down = False
    await life.submit("clone", command)  # JetStream redelivers the command
    await life.drain()
    assert [name for name, _ in published] == [subjects.VM_CLONED.name]
    assert store.unfinished() == []
    assert len(published.progress) == progress_before  # no step ran again


async def test_a_restart_does_not_rerun_an_operation_that_only_owes_its_result() -> None:
    published = BlinkingPublished()
    life, world, _, store = make(published=published)
    await life.submit("clone", clone())
    await life.drain()
    progress_before = len(published.progress)
    restarted = Lifecycle(world, world, store, life.cache, published, Timeouts(task_s=5, ip_s=1, poll_s=0.01))
    await restarted.resume()
    await restarted.drain()
    assert len(published.progress) == progress_before  # nothing ran again
    published.down = False
    assert await restarted.republish_stored() == 1
    assert [name for name, _ in published] == [subjects.VM_CLONED.name]
