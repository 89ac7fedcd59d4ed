"""The watcher: the change feed keeps the cache current; a periodic full resync is the safety net."""

from __future__ import annotations

from typing import Any

from services.inventory.cache import InventoryCache
from services.inventory.domain import ChangeBatch
from services.inventory.watcher import Watcher
from testkit.inventory.memory import MemoryVcenter
from tests.unit.inventory.memory_world import seeded_vcenter


class _LosesRemovals:
    """The in-memory vCenter behind a change feed that drops every removal (a defective feed)."""

    def __init__(self, world: MemoryVcenter) -> None:
        self.world = world

    def __getattr__(self, name: str) -> Any:
        return getattr(self.world, name)

    def changes(self, max_wait_s: int) -> ChangeBatch:
        batch = self.world.changes(max_wait_s)
        return batch if batch.full else batch.model_copy(update={"removed": ()})


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_removal_comes_through_the_feed_in_its_next_answer() -> None:
    world = seeded_vcenter()
    cache = InventoryCache()
    watcher = Watcher(world, cache, wait_s=0, resync_s=600, monotonic=_Clock())
    await watcher.step()  # the cold sync
    web = cache.named("web-2")[0]
    world.destroy(web.moref, 30)
    await watcher.step()
    assert cache.get(web.moref) is None


async def test_a_removal_the_feed_missed_is_corrected_by_the_periodic_resync() -> None:
    world, clock = seeded_vcenter(), _Clock()
    cache = InventoryCache()
    watcher = Watcher(_LosesRemovals(world), cache, wait_s=0, resync_s=600, monotonic=clock)  # type: ignore[arg-type]
    await watcher.step()
    web = cache.named("web-2")[0]
    world.destroy(web.moref, 30)
    await watcher.step()
    assert cache.get(web.moref) is not None  # the defective feed lost it
    clock.now += 599
    await watcher.step()
    assert cache.get(web.moref) is not None  # no resync before it is due
    clock.now += 1
    await watcher.step()
    assert cache.get(web.moref) is None
    assert watcher.status.connected and watcher.status.consecutive_failures == 0
