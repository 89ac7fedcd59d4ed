"""Two inventory replicas share the operations: each runs on one replica, a dead one's is taken over."""

from __future__ import annotations

from services.inventory.cache import InventoryCache
from services.inventory.context import Timeouts
from services.inventory.lifecycle import Lifecycle
from shared import subjects
from shared.messages import CloneVm, NetworkSpec, Placement
from testkit.clock import FakeClock
from testkit.inventory.memory import MemoryOperationClaims, MemoryOperationStore, MemoryVcenter
from tests.unit.inventory.memory_world import seeded_vcenter

TTL_S = 30.0


class Published(list):
    """Result events (progress apart) published by one replica."""

    async def __call__(self, subject, event) -> None:
        if subject is not subjects.VM_PROGRESS:
            self.append(subject.name)


def replica(
    world: MemoryVcenter, store: MemoryOperationStore, claims: MemoryOperationClaims, name: str
) -> tuple[Lifecycle, Published]:
    cache = InventoryCache()
    snapshot = world.snapshot()
    cache.replace(snapshot.vms, snapshot.objects)
    published = Published()
    timeouts = Timeouts(task_s=5, ip_s=1, poll_s=0.01, claim_ttl_s=TTL_S)
    return Lifecycle(world, world, store, cache, published, timeouts, claims, owner=name), published


def clone(name: str = "web-11") -> CloneVm:
    return CloneVm(
        activity_id="act-1",
        group="web",
        vm_name=name,
        template="tpl-web",
        network=NetworkSpec(ip="127.0.10.31", prefix_length=24),
        placement=Placement(folder="prod/web", resource_pool="web"),
    )


def shared_parts() -> tuple[MemoryVcenter, MemoryOperationStore, MemoryOperationClaims, FakeClock]:
    clock = FakeClock()
    return seeded_vcenter(), MemoryOperationStore(), MemoryOperationClaims(clock), clock


async def test_an_operation_resumed_by_both_replicas_runs_once() -> None:
    world, store, claims, _ = shared_parts()
    (a, published_a), (b, published_b) = replica(world, store, claims, "a"), replica(world, store, claims, "b")
    await a.submit("clone", clone())
    await b.resume()  # b sees the unfinished operation a is running
    await a.drain()
    await b.drain()
    assert published_a + published_b == [subjects.VM_CLONED.name]
    assert len([vm for vm in world.snapshot().vms if vm.name == "web-11"]) == 1


async def test_a_redelivered_command_on_the_other_replica_is_left_to_the_holder() -> None:
    world, store, claims, _ = shared_parts()
    (a, published_a), (b, published_b) = replica(world, store, claims, "a"), replica(world, store, claims, "b")
    command = clone()
    await a.submit("clone", command)
    await b.submit("clone", command)
    await a.drain()
    await b.drain()
    assert published_a == [subjects.VM_CLONED.name]
    assert published_b == []


async def test_a_dead_replicas_operation_waits_for_its_claim_to_expire_then_is_taken_over() -> None:
    world, store, claims, clock = shared_parts()
    dead, _ = replica(world, store, claims, "dead")
    await dead.submit("clone", clone())
    await dead.cancel()  # the replica dies mid-operation: its claim stays until it expires
    claims.claim(next(op.key for op in store.unfinished()), "dead", TTL_S)  # its last renewal
    survivor, published = replica(world, store, claims, "survivor")
    await survivor.resume_orphans()
    await survivor.drain()
    assert published == []
    assert len(store.unfinished()) == 1
    clock.advance(TTL_S + 1)
    await survivor.resume_orphans()
    await survivor.drain()
    assert published == [subjects.VM_CLONED.name]
    assert store.unfinished() == []
    assert len([vm for vm in world.snapshot().vms if vm.name == "web-11"]) == 1
