"""The relay publishes each committed entry once, however the relay loop and the publish right
after a commit interleave (a second publish is dropped by JetStream, but every metric taken from
published events would count it twice)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.scaler.outbox import OutboxRelay
from services.scaler.ports import OutboxEntry, UnitOfWork
from shared import subjects
from shared.messages import DecisionRecorded, Message
from shared.subjects import Subject
from testkit.clock import FakeClock
from testkit.scaler.memory_store import MemoryStore

pytestmark = pytest.mark.unit


class CountingPublisher:
    """Counts every publish (no de-duplication) and yields to other tasks while publishing."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def publish(self, subject: Subject[Any], message: Message) -> None:
        await asyncio.sleep(0)
        self.calls.append(str(message.message_id))


async def committed(store: MemoryStore, count: int) -> list[OutboxEntry]:
    def txn(uow: UnitOfWork) -> list[OutboxEntry]:
        for n in range(count):
            event = DecisionRecorded(
                group="web", allowed=False, delta=0, reason=f"no_change: {n}", trigger="evaluation", observed={}
            )
            uow.outbox.add(subjects.DECISION_RECORDED, event)
        return uow.outbox.recorded()

    return await store.transaction(txn)


@pytest.mark.parametrize("loop_first", [True, False], ids=["loop-first", "commit-first"])
async def test_an_entry_is_published_once_when_the_loop_and_the_commit_publish_race(loop_first: bool) -> None:
    clock = FakeClock()
    store = MemoryStore(clock)
    publisher = CountingPublisher()
    relay = OutboxRelay(store, publisher, clock)
    entries = await committed(store, 3)
    racers = [relay.flush(), relay.publish_committed(entries)]
    await asyncio.gather(*(racers if loop_first else reversed(racers)))
    await relay.flush()
    assert sorted(publisher.calls) == sorted(e.id for e in entries)
    assert await store.transaction(lambda uow: uow.outbox.pending()) == []
