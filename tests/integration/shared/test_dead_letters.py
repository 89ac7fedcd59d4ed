"""Dead letters are read back from the DLQ stream: listed newest first, replayed to the handler
that failed them, discarded, and counted — through the real middleware on a real NATS."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from faststream.nats import NatsRouter
from prometheus_client import CollectorRegistry

from shared import subjects
from shared.bus import Bus, DeadLetterPolicy, Topology, build_broker
from shared.dead_letters import REPLAY_HEADER, SCAN_CHUNK, JetStreamDeadLetters
from shared.errors import InvalidInput, NotFound
from shared.messages import DeadLetter, RemovePoolMember

pytestmark = pytest.mark.usefixtures("js_cleanup")

SUBJECT = subjects.CMD_POOL_REMOVE
OTHER = subjects.CMD_POOL_ADD


def make_bus(nats_url: str, prefix: str, registry: CollectorRegistry | None = None) -> Bus:
    return build_broker(
        nats_url,
        client_name="test",
        topology=Topology(prefix),
        policy=DeadLetterPolicy(max_deliver=3, retry_delay_s=0.05, ack_wait_s=2),
        registry=registry,
    )


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def until_stored(letters: JetStreamDeadLetters, count: int) -> None:
    for _ in range(200):
        if sum((await letters.counts()).values()) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} dead letter(s) never stored")


def letter(subject: subjects.Subject[Any], n: int) -> DeadLetter:
    return DeadLetter(
        subject=subject.name,
        consumer=f"loadbalancer-{subject.name}".replace(".", "_"),
        reason=f"failure {n}",
        error_kind="InvalidInput",
        deliveries=1,
        payload=f'{{"n": {n}}}',
    )


async def test_a_dead_lettered_message_is_listed_replayed_to_its_handler_and_gone_from_the_queue(
    nats_url: str, prefix: str
) -> None:
    registry = CollectorRegistry()
    bus = make_bus(nats_url, prefix, registry)
    router = NatsRouter()
    received: list[RemovePoolMember] = []

    @bus.consumer(router, SUBJECT, "loadbalancer")
    async def handle(cmd: RemovePoolMember) -> None:
        received.append(cmd)
        if len(received) == 1:
            raise InvalidInput("member not allowed", pool=cmd.pool)

    bus.broker.include_router(router)
    await bus.connect()
    await bus.broker.start()
    letters = JetStreamDeadLetters(bus)
    try:
        command = RemovePoolMember(pool="web", name="web-1", correlation_id="act-1")
        await bus.publish(SUBJECT, command)
        await until_stored(letters, 1)

        page = await letters.page()
        assert page.total == 1 and page.next_before is None
        (record,) = page.letters
        assert (record.subject, record.service, record.error_kind) == (SUBJECT.name, "loadbalancer", "InvalidInput")
        assert "member not allowed" in record.reason and record.deliveries == 1
        assert record.payload_is_json and record.payload["name"] == "web-1"
        assert record.message_id == str(command.message_id)
        assert await letters.get(record.sequence) == record
        assert await letters.counts() == {SUBJECT.name: 1}
        assert registry.get_sample_value("vmscale_dead_letters_total", {"subject": SUBJECT.name}) == 1.0

        # well inside the original's duplicate window: a replay under the old id would be dropped
        replayed = await letters.replay(record.sequence)
        assert replayed.message_id != str(command.message_id) and not replayed.duplicate
        await wait_for(lambda: len(received) == 2)
        assert received[1] == command  # the same message, payload and envelope
        assert await letters.counts() == {}
        with pytest.raises(NotFound):
            await letters.get(record.sequence)
        with pytest.raises(NotFound):
            await letters.replay(record.sequence)  # not twice
    finally:
        await bus.broker.stop()


async def test_a_replay_keeps_the_original_headers_under_a_new_message_id(nats_url: str, prefix: str) -> None:
    bus = make_bus(nats_url, prefix)
    await bus.connect()
    await bus.broker.start()
    letters = JetStreamDeadLetters(bus)
    try:
        stored = letter(SUBJECT, 1).model_copy(
            update={"headers": {"Nats-Msg-Id": "old-id", "traceparent": "00-abc-def-01", "correlation_id": "act-9"}}
        )
        await bus.publish(subjects.dead_letter(SUBJECT), stored)
        await until_stored(letters, 1)
        (record,) = (await letters.page()).letters
        nc = bus.broker.config.connection_state.connection
        sub = await nc.subscribe(bus.topology.subject(SUBJECT))
        replayed = await letters.replay(record.sequence)
        msg = await sub.next_msg(timeout=5)
        await sub.unsubscribe()
        assert msg.data == b'{"n": 1}'
        assert msg.headers["traceparent"] == "00-abc-def-01" and msg.headers["correlation_id"] == "act-9"
        assert msg.headers["Nats-Msg-Id"] == replayed.message_id != "old-id"
        assert msg.headers[REPLAY_HEADER] == str(record.sequence)
    finally:
        await bus.broker.stop()


async def test_a_discarded_letter_is_deleted_and_an_unknown_one_is_not_found(nats_url: str, prefix: str) -> None:
    bus = make_bus(nats_url, prefix)
    await bus.connect()
    await bus.broker.start()
    letters = JetStreamDeadLetters(bus)
    try:
        for n in range(2):
            await bus.publish(subjects.dead_letter(SUBJECT), letter(SUBJECT, n))
        await until_stored(letters, 2)
        newest, oldest = (await letters.page()).letters
        discarded = await letters.discard(oldest.sequence, "poison, seen in the incident review")
        assert discarded.reason == "failure 0"
        assert [r.sequence for r in (await letters.page()).letters] == [newest.sequence]
        with pytest.raises(NotFound):
            await letters.discard(oldest.sequence, "again")
        for unknown in (0, newest.sequence + 1000):
            with pytest.raises(NotFound):
                await letters.replay(unknown)
            with pytest.raises(NotFound):
                await letters.discard(unknown, "nothing")
    finally:
        await bus.broker.stop()


async def test_pages_are_newest_first_filtered_by_subject_and_follow_on(nats_url: str, prefix: str) -> None:
    bus = make_bus(nats_url, prefix)
    await bus.connect()
    await bus.broker.start()
    letters = JetStreamDeadLetters(bus)
    try:
        count = SCAN_CHUNK + 6  # more than one chunk of the backward walk
        for n in range(count):
            subject: subjects.Subject[Any] = OTHER if n % 3 == 0 else SUBJECT
            await bus.publish(subjects.dead_letter(subject), letter(subject, n))
        await until_stored(letters, count)
        assert await letters.counts() == {SUBJECT.name: count - (count + 2) // 3, OTHER.name: (count + 2) // 3}

        first = await letters.page(limit=5)
        assert first.total == count and [r.reason for r in first.letters] == [f"failure {n}" for n in range(69, 64, -1)]
        second = await letters.page(limit=5, before=first.next_before)
        assert [r.reason for r in second.letters] == [f"failure {n}" for n in range(64, 59, -1)]

        seen: list[int] = []
        before = None
        while True:
            page = await letters.page(subject=SUBJECT.name, limit=7, before=before)
            seen += [int(r.reason.split()[-1]) for r in page.letters]
            if page.next_before is None:
                break
            before = page.next_before
        assert seen == sorted(seen, reverse=True) and len(seen) == page.total == count - (count + 2) // 3
        assert all(n % 3 for n in seen)
        assert (await letters.page(subject=subjects.CMD_VM_CLONE.name)).letters == ()
    finally:
        await bus.broker.stop()
