"""The bus delivers at least once, deduplicates by message id and dead-letters what it cannot use."""

from __future__ import annotations

import asyncio
import json

import nats
import pytest
from faststream.nats import NatsRouter

from shared import subjects
from shared.bus import Bus, DeadLetterPolicy, Topology, build_broker
from shared.errors import InvalidInput, ServiceUnavailable
from shared.messages import DeadLetter, RemovePoolMember

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("js_cleanup")]

SUBJECT = subjects.CMD_POOL_REMOVE


def make_bus(nats_url: str, prefix: str) -> Bus:
    return build_broker(
        nats_url,
        client_name="test",
        topology=Topology(prefix),
        policy=DeadLetterPolicy(max_deliver=3, retry_delay_s=0.05, ack_wait_s=2),
    )


def command(name: str = "web-1") -> RemovePoolMember:
    return RemovePoolMember(pool="web", name=name)


async def stream_count(nats_url: str, stream: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(stream)
        return int(info.state.messages)
    finally:
        await nc.close()


async def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_the_same_message_id_is_stored_once(nats_url: str, prefix: str) -> None:
    bus = make_bus(nats_url, prefix)
    await bus.connect()
    await bus.broker.start()
    try:
        message = command()
        await bus.publish(SUBJECT, message)
        await bus.publish(SUBJECT, message)
        await bus.publish(SUBJECT, command("web-2"))
    finally:
        await bus.broker.stop()
    assert await stream_count(nats_url, bus.topology.commands.name) == 2


async def test_a_retryable_error_is_redelivered_until_it_succeeds(nats_url: str, prefix: str) -> None:
    bus = make_bus(nats_url, prefix)
    router = NatsRouter()
    attempts: list[str] = []

    @bus.consumer(router, SUBJECT, "lb")
    async def handle(cmd: RemovePoolMember) -> None:
        attempts.append(cmd.name)
        if len(attempts) < 3:
            raise ServiceUnavailable("F5 restarting")

    bus.broker.include_router(router)
    await bus.connect()
    await bus.broker.start()
    try:
        await bus.publish(SUBJECT, command())
        await wait_for(lambda: len(attempts) >= 3)
        await asyncio.sleep(0.3)
    finally:
        await bus.broker.stop()
    assert attempts == ["web-1", "web-1", "web-1"]
    assert await stream_count(nats_url, bus.topology.dead_letters.name) == 0


@pytest.mark.parametrize(
    ("payload", "reason_part"),
    [
        (None, "not allowed"),  # a valid command that the handler rejects permanently
        ({"pool": "web"}, "name: Field required"),
        ({"pool": "web", "name": "x", "surprise": 1}, "Extra inputs are not permitted"),
    ],
    ids=["permanent-error", "missing-field", "unknown-field"],
)
async def test_a_permanent_failure_lands_on_the_dead_letter_subject_with_its_reason(
    nats_url: str, prefix: str, payload: dict | None, reason_part: str
) -> None:
    bus = make_bus(nats_url, prefix)
    router = NatsRouter()
    letters: list[DeadLetter] = []
    calls: list[str] = []

    @bus.consumer(router, SUBJECT, "lb")
    async def handle(cmd: RemovePoolMember) -> None:
        calls.append(cmd.name)
        raise InvalidInput("member not allowed", pool=cmd.pool)

    @router.subscriber(bus.topology.subject(subjects.dead_letter(SUBJECT)))
    async def on_letter(letter: DeadLetter) -> None:
        letters.append(letter)

    bus.broker.include_router(router)
    await bus.connect()
    await bus.broker.start()
    try:
        if payload is None:
            await bus.publish(SUBJECT, command())
        else:
            await bus.broker.publish(
                json.dumps(payload).encode(),
                bus.topology.subject(SUBJECT),
                stream=bus.topology.commands.name,
            )
        await wait_for(lambda: letters)
    finally:
        await bus.broker.stop()
    assert len(letters) == 1
    assert letters[0].subject == SUBJECT.name
    assert reason_part in letters[0].reason
    assert len(calls) == (1 if payload is None else 0)


async def test_a_retryable_error_that_never_heals_is_dead_lettered_after_max_deliver(
    nats_url: str, prefix: str
) -> None:
    bus = make_bus(nats_url, prefix)
    router = NatsRouter()
    attempts: list[int] = []
    letters: list[DeadLetter] = []

    @bus.consumer(router, SUBJECT, "lb")
    async def handle(cmd: RemovePoolMember) -> None:
        attempts.append(1)
        raise ServiceUnavailable("F5 down")

    @router.subscriber(bus.topology.subject(subjects.dead_letter(SUBJECT)))
    async def on_letter(letter: DeadLetter) -> None:
        letters.append(letter)

    bus.broker.include_router(router)
    await bus.connect()
    await bus.broker.start()
    try:
        await bus.publish(SUBJECT, command())
        await wait_for(lambda: letters)
    finally:
        await bus.broker.stop()
    assert len(attempts) == 3
    assert letters[0].deliveries == 3
    assert "F5 down" in letters[0].reason


async def test_a_message_published_while_the_consumer_is_down_is_delivered_after_restart(
    nats_url: str, prefix: str
) -> None:
    received: list[str] = []

    def consumer_bus() -> Bus:
        bus = make_bus(nats_url, prefix)
        router = NatsRouter()

        @bus.consumer(router, SUBJECT, "lb")
        async def handle(cmd: RemovePoolMember) -> None:
            received.append(cmd.name)

        bus.broker.include_router(router)
        return bus

    first = consumer_bus()
    await first.connect()
    await first.broker.start()
    await first.publish(SUBJECT, command("web-1"))
    await wait_for(lambda: received == ["web-1"])
    await first.broker.stop()

    producer = make_bus(nats_url, prefix)
    await producer.broker.start()
    await producer.publish(SUBJECT, command("web-2"))
    await producer.broker.stop()

    second = consumer_bus()
    await second.broker.connect()
    await second.broker.start()
    try:
        await wait_for(lambda: received == ["web-1", "web-2"])
    finally:
        await second.broker.stop()
