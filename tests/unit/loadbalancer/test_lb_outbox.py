"""Results are stored before they are published and re-published from the store: the outbox
over the in-memory store, and the in-memory store's contract."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.loadbalancer.membership import Membership
from services.loadbalancer.outbox import ResultOutbox
from shared import subjects
from shared.errors import InvalidInput, ServiceUnavailable
from shared.messages import AddPoolMember, PoolMemberAdded, PoolMemberRemoved
from shared.subjects import Subject
from testkit.loadbalancer.memory import InMemoryPools, InMemoryRecords, InMemoryResults
from tests.contracts.loadbalancer_results import ResultStoreContract, stored_result
from tests.unit.loadbalancer.test_lb_membership import FAST


class TestInMemoryResults(ResultStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryResults:
        return InMemoryResults()


class Bus:
    """A publisher with real state: what it took, in order; ``down`` fails like NATS away."""

    def __init__(self) -> None:
        self.published: list[tuple[str, Any]] = []
        self.down = False
        self.refuse: set[str] = set()

    async def publish(self, subject: Subject[Any], message: Any) -> None:
        if self.down:
            raise ServiceUnavailable("NATS is unavailable", subject=subject.name)
        if str(message.message_id) in self.refuse:
            raise InvalidInput("refused", subject=subject.name)
        self.published.append((subject.name, message))

    def ids(self) -> list[str]:
        return [str(message.message_id) for _, message in self.published]


def added(name: str) -> PoolMemberAdded:
    return PoolMemberAdded(pool="web", name=name, address="127.0.10.5", port=8080, state="up")


async def ids_pending(store: InMemoryResults) -> list[str]:
    return [r.message_id for r in await store.pending()]


async def test_a_result_is_published_and_forgotten() -> None:
    store, bus = InMemoryResults(), Bus()
    outbox = ResultOutbox(store, bus.publish)
    event = added("vm-1")
    await outbox.publish(subjects.POOL_MEMBER_ADDED, event)
    assert bus.published == [(subjects.POOL_MEMBER_ADDED.name, event)]
    assert await store.pending() == []


async def test_a_failed_publish_stays_stored_and_later_results_queue_behind_it() -> None:
    store, bus = InMemoryResults(), Bus()
    outbox = ResultOutbox(store, bus.publish)
    await outbox.flush()  # nothing from an earlier process
    bus.down = True
    first, second = added("vm-1"), added("vm-2")
    await outbox.publish(subjects.POOL_MEMBER_ADDED, first)  # kept, not raised
    bus.down = False
    await outbox.publish(subjects.POOL_MEMBER_ADDED, second)  # published behind the first
    assert bus.ids() == [str(first.message_id), str(second.message_id)]
    assert await store.pending() == []


async def test_the_pass_publishes_stored_results_oldest_first_and_stops_at_a_failure() -> None:
    store, bus = InMemoryResults(), Bus()
    outbox = ResultOutbox(store, bus.publish)
    bus.down = True
    events = [added(f"vm-{n}") for n in range(3)]
    for event in events:
        await outbox.publish(subjects.POOL_MEMBER_ADDED, event)
    assert await outbox.flush() == 0
    assert await ids_pending(store) == [str(e.message_id) for e in events]
    bus.down = False
    assert await outbox.flush() == 3
    assert bus.ids() == [str(e.message_id) for e in events]
    assert await store.pending() == []


async def test_a_new_outbox_over_the_same_store_publishes_what_the_old_one_stored() -> None:
    store, bus = InMemoryResults(), Bus()
    bus.down = True
    event = added("vm-1")
    await ResultOutbox(store, bus.publish).publish(subjects.POOL_MEMBER_ADDED, event)
    bus.down = False  # the first process is gone; a new one starts over the same store
    restarted = ResultOutbox(store, bus.publish)
    assert await restarted.flush() == 1
    assert bus.published == [(subjects.POOL_MEMBER_ADDED.name, event)]
    assert await restarted.flush() == 0


async def test_a_result_refused_for_good_is_dropped_and_does_not_block_the_next() -> None:
    store, bus = InMemoryResults(), Bus()
    outbox = ResultOutbox(store, bus.publish)
    bus.down = True
    refused, fine = added("vm-1"), added("vm-2")
    bus.refuse.add(str(refused.message_id))
    await outbox.publish(subjects.POOL_MEMBER_ADDED, refused)
    await outbox.publish(subjects.POOL_MEMBER_ADDED, fine)
    bus.down = False
    assert await outbox.flush() == 1
    assert bus.ids() == [str(fine.message_id)]
    assert await store.pending() == []
    with pytest.raises(InvalidInput):
        await outbox.publish(subjects.POOL_MEMBER_ADDED, refused)
    assert await store.pending() == []


async def test_an_unreadable_stored_result_is_dropped() -> None:
    store, bus = InMemoryResults(), Bus()
    await store.add(stored_result("old-1", subject="pool.no_such_subject"))
    await store.add(stored_result("old-2", subject=subjects.POOL_MEMBER_ADDED.name, body='{"pool": 1}'))
    assert await ResultOutbox(store, bus.publish).flush() == 0
    assert await store.pending() == []


async def test_a_result_that_cannot_be_stored_raises_and_is_not_published() -> None:
    store, bus = InMemoryResults(), Bus()
    outbox = ResultOutbox(store, bus.publish)
    store.fail_next = 1
    with pytest.raises(ServiceUnavailable):
        await outbox.publish(subjects.POOL_MEMBER_ADDED, added("vm-1"))
    assert bus.published == []


async def test_the_periodic_pass_publishes_what_a_blip_held_back() -> None:
    store, bus = InMemoryResults(), Bus()
    outbox = ResultOutbox(store, bus.publish)
    bus.down = True
    event = PoolMemberRemoved(pool="web", name="vm-1")
    await outbox.publish(subjects.POOL_MEMBER_REMOVED, event)
    bus.down = False
    task = asyncio.create_task(outbox.run(0.01))
    try:
        deadline = asyncio.get_running_loop().time() + 5
        while asyncio.get_running_loop().time() < deadline:
            if not await store.pending():
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert bus.ids() == [str(event.message_id)]


async def test_membership_results_survive_a_blip_through_the_outbox() -> None:
    store, bus = InMemoryResults(), Bus()
    outbox = ResultOutbox(store, bus.publish)
    membership = Membership(InMemoryPools(["web"]), InMemoryRecords(), outbox, FAST)
    bus.down = True
    await membership.add(AddPoolMember(pool="web", name="vm-1", address="127.0.10.5", port=8080))
    await membership.wait_idle()
    assert [r.subject for r in await store.pending()] == [
        subjects.POOL_MEMBER_ADDED.name,
        subjects.POOL_UPDATED.name,
    ]
    bus.down = False
    assert await outbox.flush() == 2
    assert [name for name, _ in bus.published] == [subjects.POOL_MEMBER_ADDED.name, subjects.POOL_UPDATED.name]
    assert bus.published[0][1].name == "vm-1"
