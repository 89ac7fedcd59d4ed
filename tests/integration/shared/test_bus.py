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

pytestmark = pytest.mark.usefixtures("js_cleanup")

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


async def delete_stream(nats_url: str, stream: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()


async def stored_letters(nats_url: str, bus: Bus) -> list[DeadLetter]:
    """The dead letters stored in the DLQ stream (read from the stream: a core subscriber on the
    subject would answer the publish in the stream's stead while the stream is gone)."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        info = await js.stream_info(bus.topology.dead_letters.name)
        letters = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            raw = await js.get_msg(bus.topology.dead_letters.name, seq)
            letters.append(DeadLetter.model_validate_json(raw.data or b"{}"))
        return letters if info.state.messages else []
    finally:
        await nc.close()


@pytest.mark.parametrize(
    "failure",
    [InvalidInput("member not allowed"), ServiceUnavailable("F5 down")],
    ids=["permanent-error", "retryable-error-past-max-deliver"],
)
async def test_a_message_whose_dead_letter_cannot_be_stored_is_redelivered_not_lost(
    nats_url: str, prefix: str, failure: Exception
) -> None:
    bus = build_broker(
        nats_url,
        client_name="test",
        topology=Topology(prefix),
        policy=DeadLetterPolicy(max_deliver=2, retry_delay_s=0.05, ack_wait_s=2, dead_letter_retry_s=0.1),
    )
    router = NatsRouter()
    attempts: list[int] = []

    @bus.consumer(router, SUBJECT, "lb")
    async def handle(cmd: RemovePoolMember) -> None:
        attempts.append(1)
        raise failure

    bus.broker.include_router(router)
    await bus.connect()
    await delete_stream(nats_url, bus.topology.dead_letters.name)  # the DLQ is gone mid-failure
    await bus.broker.start()
    try:
        await bus.publish(SUBJECT, command())
        # past the delivery that would have dead-lettered it, and past the old server-side cap
        await wait_for(lambda: len(attempts) >= 4)
        await bus.ensure_streams()  # the DLQ is back: the next failure is dead-lettered
        letters: list[DeadLetter] = []
        deadline = asyncio.get_running_loop().time() + 10
        while not letters and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
            letters = await stored_letters(nats_url, bus)
        settled = len(attempts)
        await asyncio.sleep(0.5)
    finally:
        await bus.broker.stop()
    assert len(letters) == 1
    assert letters[0].deliveries >= 4
    assert str(failure) in letters[0].reason
    assert len(attempts) == settled  # terminated once dead-lettered: no further delivery


async def test_a_handler_slower_than_the_ack_wait_runs_once(nats_url: str, prefix: str) -> None:
    """Two replicas share the durable consumer: without in-progress acks the second one gets the
    message once the ack wait has passed and runs it while the first is still at it."""
    started: list[str] = []
    finished: list[str] = []
    replicas: list[Bus] = []
    for _ in range(2):
        bus = build_broker(
            nats_url,
            client_name="test",
            topology=Topology(prefix),
            policy=DeadLetterPolicy(max_deliver=3, retry_delay_s=0.05, ack_wait_s=1),
        )
        router = NatsRouter()

        @bus.consumer(router, SUBJECT, "monitoring")
        async def handle(cmd: RemovePoolMember) -> None:
            started.append(cmd.name)
            await asyncio.sleep(3.5)  # an agent install: three and a half ack waits
            finished.append(cmd.name)

        bus.broker.include_router(router)
        await bus.connect()
        await bus.broker.start()
        replicas.append(bus)
    try:
        await replicas[0].publish(SUBJECT, command())
        await wait_for(lambda: finished)
        await asyncio.sleep(2.0)  # two more ack waits: an unacked message would be back by now
    finally:
        for bus in replicas:
            await bus.broker.stop()
    assert started == ["web-1"]
    assert finished == ["web-1"]
