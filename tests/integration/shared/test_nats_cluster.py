"""On a three-node NATS cluster, replicated streams survive the loss of a node mid-publish.

Real nats-server processes on loopback ports (``testkit.nats_cluster``). The bus is given
the three URLs as one comma list, creates its streams with three replicas, and keeps publishing
while the node leading the command stream is SIGKILLed: every command is stored exactly once
(a publish whose ack was lost is sent again with the same ``Nats-Msg-Id``) and the durable
consumer receives every one of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from faststream.nats import NatsRouter

from shared import subjects
from shared.bus import Bus, DeadLetterPolicy, Topology, build_broker
from shared.errors import RetryableError
from shared.messages import RemovePoolMember
from testkit.nats_cluster import NatsNode, nats_cluster

pytestmark = pytest.mark.timeout(240)

SUBJECT = subjects.CMD_POOL_REMOVE
COUNT = 120
KILL_AFTER = 40


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[NatsNode]]:
    """Three JetStream nodes routed to each other on loopback."""
    with nats_cluster(tmp_path, 3) as nodes:
        yield nodes


def servers(nodes: list[NatsNode]) -> str:
    return ",".join(node.url for node in nodes)


async def wait_jetstream(url: str, timeout: float = 60.0) -> None:
    """Until the cluster has elected its JetStream meta leader (account info answers)."""
    nc = await nats.connect(url.split(","), max_reconnect_attempts=-1, reconnect_time_wait=0.5)
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                await nc.jetstream().account_info()
                return
            except Exception:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await nc.close()


async def stream_info(url: str, name: str):  # type: ignore[no-untyped-def]
    nc = await nats.connect(url.split(","), max_reconnect_attempts=-1, reconnect_time_wait=0.5)
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            try:
                return await nc.jetstream().stream_info(name)
            except Exception:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await nc.close()


async def publish_until_stored(bus: Bus, message: RemovePoolMember, timeout: float = 90.0) -> int:
    """Publish, and again with the same message (same ``Nats-Msg-Id``) while NATS fails over;
    returns how many attempts failed."""
    failures = 0
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            await bus.publish(SUBJECT, message)
            return failures
        except RetryableError:
            failures += 1
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


def make_bus(url: str, prefix: str) -> Bus:
    return build_broker(
        url,
        client_name="cluster-test",
        topology=Topology(prefix),
        policy=DeadLetterPolicy(max_deliver=50, retry_delay_s=0.2, ack_wait_s=5),
        replicas=3,
    )


async def test_streams_are_created_with_three_replicas_on_the_cluster(cluster: list[NatsNode], prefix: str) -> None:
    url = servers(cluster)
    await wait_jetstream(url)
    bus = make_bus(url, prefix)
    await bus.connect()
    try:
        assert await bus.ensure_streams() == []  # a second start changes nothing, refuses nothing
    finally:
        await bus.broker.stop()
    for stream in (bus.topology.commands, bus.topology.events, bus.topology.dead_letters):
        info = await stream_info(url, stream.name)
        assert info.config.num_replicas == 3
        assert info.cluster is not None
        assert len(info.cluster.replicas or []) == 2  # the leader plus two followers


async def test_losing_the_stream_leader_mid_publish_loses_and_doubles_nothing(
    cluster: list[NatsNode], prefix: str
) -> None:
    url = servers(cluster)
    await wait_jetstream(url)
    bus = make_bus(url, prefix)
    router = NatsRouter()
    received: list[str] = []
    all_received = asyncio.Event()

    @bus.consumer(router, SUBJECT, "loadbalancer")
    async def handle(cmd: RemovePoolMember) -> None:
        received.append(cmd.name)
        if len(set(received)) == COUNT:
            all_received.set()

    bus.broker.include_router(router)
    await bus.connect()
    await bus.broker.start()
    messages = [RemovePoolMember(pool="web", name=f"web-{i}") for i in range(COUNT)]
    failed_attempts = 0
    killed: NatsNode | None = None
    try:
        for index, message in enumerate(messages):
            if index == KILL_AFTER:
                leader = (await stream_info(url, bus.topology.commands.name)).cluster.leader
                killed = next(node for node in cluster if node.name == leader)
                killed.kill()
            failed_attempts += await publish_until_stored(bus, message)
        await asyncio.wait_for(all_received.wait(), timeout=90)
    finally:
        await bus.broker.stop()

    assert killed is not None and not killed.alive()
    survivors = ",".join(node.url for node in cluster if node is not killed)
    info = await stream_info(survivors, bus.topology.commands.name)
    assert info.state.messages == COUNT, (
        f"stored {info.state.messages} of {COUNT} ({failed_attempts} retried publishes)"
    )
    assert set(received) == {m.name for m in messages}
    assert info.cluster is not None and info.cluster.leader != killed.name


async def test_raising_the_replica_count_updates_streams_and_durable_consumers_in_place(
    cluster: list[NatsNode], prefix: str
) -> None:
    url = servers(cluster)
    await wait_jetstream(url)
    single = build_broker(url, client_name="cluster-test", topology=Topology(prefix), replicas=1)
    router = NatsRouter()

    @single.consumer(router, SUBJECT, "loadbalancer")
    async def handle(cmd: RemovePoolMember) -> None:
        return None

    single.broker.include_router(router)
    await single.connect()
    await single.broker.start()
    await single.publish(SUBJECT, RemovePoolMember(pool="web", name="web-1"))
    await single.broker.stop()

    triple = make_bus(url, prefix)
    triple.consumer(NatsRouter(), SUBJECT, "loadbalancer")(handle)  # the same service, restarted
    await triple.broker.connect()
    try:
        assert await triple.ensure_streams() == []
    finally:
        await triple.broker.stop()
    info = await stream_info(url, triple.topology.commands.name)
    assert info.config.num_replicas == 3
    assert info.state.messages == 1
    nc = await nats.connect(url.split(","))
    try:
        consumer = await nc.jetstream().consumer_info(
            triple.topology.commands.name, triple.topology.durable("loadbalancer", SUBJECT)
        )
    finally:
        await nc.close()
    assert consumer.config.num_replicas == 3
