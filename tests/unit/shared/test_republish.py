"""Results a NATS blip held back are kept, in order, and published by the next pass."""

from __future__ import annotations

from typing import Any

import pytest

from shared import subjects
from shared.errors import InvalidInput, ServiceUnavailable
from shared.messages import PoolMemberRemoved
from shared.republish import Republisher


class Nats:
    """A publish that fails while ``down`` (or with ``refuse`` for one name), recording what went out."""

    def __init__(self) -> None:
        self.down = False
        self.refuse: str | None = None
        self.sent: list[str] = []

    async def __call__(self, subject: subjects.Subject[Any], message: PoolMemberRemoved) -> None:
        if self.down:
            raise ServiceUnavailable("NATS is unavailable", subject=subject.name)
        if message.name == self.refuse:
            raise InvalidInput("refused", subject=subject.name)
        self.sent.append(message.name)


def removed(name: str) -> PoolMemberRemoved:
    return PoolMemberRemoved(pool="web", name=name)


async def test_a_result_published_during_a_blip_is_kept_and_sent_by_the_next_pass() -> None:
    nats = Nats()
    results = Republisher(nats)
    nats.down = True
    await results.publish(subjects.POOL_MEMBER_REMOVED, removed("web-1"))  # returns: kept, not raised
    assert (results.pending, nats.sent) == (1, [])
    assert await results.flush() == 0  # still down: stays owed
    nats.down = False
    assert await results.flush() == 1
    assert (results.pending, nats.sent) == (0, ["web-1"])


async def test_a_new_result_queues_behind_the_ones_owed_so_order_is_kept() -> None:
    nats = Nats()
    results = Republisher(nats)
    nats.down = True
    await results.publish(subjects.POOL_MEMBER_REMOVED, removed("web-1"))
    nats.down = False
    await results.publish(subjects.POOL_MEMBER_REMOVED, removed("web-2"))
    assert nats.sent == ["web-1", "web-2"]
    assert results.pending == 0


async def test_a_full_queue_hands_the_failure_back_to_the_caller() -> None:
    nats = Nats()
    results = Republisher(nats, capacity=1)
    nats.down = True
    await results.publish(subjects.POOL_MEMBER_REMOVED, removed("web-1"))
    with pytest.raises(ServiceUnavailable):
        await results.publish(subjects.POOL_MEMBER_REMOVED, removed("web-2"))
    assert results.pending == 1


async def test_a_result_refused_for_good_does_not_block_the_ones_behind_it() -> None:
    nats = Nats()
    results = Republisher(nats)
    nats.down = True
    await results.publish(subjects.POOL_MEMBER_REMOVED, removed("web-1"))
    await results.publish(subjects.POOL_MEMBER_REMOVED, removed("web-2"))
    nats.down, nats.refuse = False, "web-1"
    assert await results.flush() == 1
    assert (results.pending, nats.sent) == (0, ["web-2"])


async def test_a_permanent_failure_on_first_publish_is_raised_not_kept() -> None:
    nats = Nats()
    nats.refuse = "web-1"
    results = Republisher(nats)
    with pytest.raises(InvalidInput):
        await results.publish(subjects.POOL_MEMBER_REMOVED, removed("web-1"))
    assert results.pending == 0
