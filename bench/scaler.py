"""Benchmarks of the scaler: decision latency and concurrent scale-outs.

python -m bench.scaler [--groups 100] [--alert-workers N] [--profile]

``--alert-workers`` is how many ``alert.fired`` messages the scaler decides at once (the
``ALERT_WORKERS`` setting; default: the setting's default). It matters for the burst figure.

``--profile`` also prints a pyinstrument profile of the scaler on the real servers (where the
decision time goes: the decision transaction, publishing, the bus).

1. Decision latency: ``alert.fired`` published → the first command (``cmd.vm.clone``) seen on
   NATS, for one alert per group, with the scaler on real NATS, PostgreSQL and Redis (Prometheus
   replaced by the in-memory fake, which answers at once). Baseline measured in the same run: a
   bare NATS JetStream publish → core subscriber hop; printed as p50/p99 and ratios.
2. Concurrent scale-outs: one alert per group at once, each activity run to success against the
   fake inventory/monitoring/load balancer; activities per second, in memory (baseline) and on
   the real servers.
3. Resident memory of this process at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import nats
import psutil

from services.scaler.activities import EngineConfig
from services.scaler.adapters.bus import BusPublisher
from services.scaler.adapters.redis_lease import RedisLease
from services.scaler.adapters.sql import SqlStore
from services.scaler.domain import IpPool, Retry, ScalingGroup
from services.scaler.handlers import build_routers
from services.scaler.ports import GroupRecord, Store
from services.scaler.service import Ports, Scaler
from services.scaler.settings import ScalerSettings
from services.scaler.steps import REPLY_SUBJECTS
from shared import subjects
from shared.bus import Bus, DeadLetterPolicy, Topology, build_broker
from shared.clock import SystemClock
from shared.db import make_engine, upgrade
from shared.messages import AlertFired, Message, RemoveGroupAlerts, utcnow
from shared.subjects import Subject
from testkit.scaler.fake_world import FakeWorld, attach_to_bus
from testkit.scaler.memory import (
    MemoryHealthProbe,
    MemoryHooks,
    MemoryLease,
    MemoryMetrics,
    MemoryResourceChecker,
    RecordingPublisher,
)
from testkit.scaler.memory_store import MemoryStore
from testkit.servers import delete_streams, fresh_database, postgres_server

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def spec(name: str) -> ScalingGroup:
    return ScalingGroup(
        name=name,
        vm_prefix=name,
        template="t",
        prometheus_job=name,
        min_size=1,
        max_size=5,
        pool="p",
        vip="127.0.0.1",
        ip_pool="lab",
        enabled=True,
    )


def pool() -> IpPool:
    return IpPool.model_validate(
        {"name": "lab", "network": "127.16.0.0/16", "ranges": [{"start": "127.16.0.10", "end": "127.16.7.250"}]}
    )


async def seed(store: Store, names: list[str]) -> None:
    now = datetime.now(UTC)

    def txn(uow: Any) -> None:
        uow.ip_pools.save(pool())
        for name in names:
            uow.groups.save(GroupRecord(spec=spec(name), created_at=now, updated_at=now))

    await store.transaction(txn)


def alert(name: str) -> AlertFired:
    return AlertFired(
        group=name, alertname=f"{name}_HighResourceUsage", fingerprint="f", starts_at=utcnow(), labels={"service": name}
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def finished(store: Store, count: int) -> bool:
    done = await store.transaction(lambda uow: uow.activities.recent(status="succeeded", limit=count + 1))
    return len(done) >= count


async def wait(store: Store, count: int, timeout: float = 120.0) -> None:
    deadline = time.perf_counter() + timeout
    while not await finished(store, count):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{count} activities did not finish")
        await asyncio.sleep(0.02)


async def memory_run(groups: int) -> float:
    """Activities per second, every port in memory (the baseline)."""
    clock = SystemClock()
    store, world, publisher = MemoryStore(clock), FakeWorld(), RecordingPublisher()
    metrics = MemoryMetrics()
    names = [f"m{n:03d}" for n in range(groups)]
    for name in names:
        metrics.set(name, 95, 40)
    ports = Ports(
        store,
        MemoryLease(clock),
        metrics,
        MemoryHealthProbe(world.app_healthy),
        MemoryHooks(),
        MemoryResourceChecker(),
        publisher,
        clock,
    )
    scaler = Scaler(ports, owner="bench", engine=EngineConfig(owner="bench"))
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def forward(subject: Subject[Any], message: Message) -> None:
        for reply in world.handle(subject, message):
            queue.put_nowait(reply)

    publisher.listeners.append(forward)
    replies = {s.name for s in REPLY_SUBJECTS}

    async def pump() -> None:
        while True:
            subject, event = await queue.get()
            if subject.name in replies:
                await scaler.activities.on_reply(subject, event)

    await seed(store, names)
    await scaler.start(tick_s=0.05)
    pumper = asyncio.create_task(pump())
    started = time.perf_counter()
    await asyncio.gather(*(scaler.triggers.on_alert_fired(alert(n)) for n in names))
    await wait(store, groups)
    elapsed = time.perf_counter() - started
    pumper.cancel()
    await scaler.stop()
    return groups / elapsed


def make_bus(prefix: str, name: str) -> Bus:
    return build_broker(
        NATS_URL,
        client_name=name,
        topology=Topology(prefix),
        policy=DeadLetterPolicy(max_deliver=5, retry_delay_s=0.1, ack_wait_s=10),
    )


async def nats_hop(samples: int) -> list[float]:
    """JetStream publish → core subscriber, the floor of any latency through the bus."""
    prefix = "b" + uuid.uuid4().hex[:8]
    bus = make_bus(prefix, "bench-hop")
    await bus.connect()
    await bus.broker.start()
    nc = await nats.connect(NATS_URL)
    seen: dict[str, float] = {}
    got = asyncio.Event()

    async def on_msg(msg: Any) -> None:
        seen[msg.headers["Nats-Msg-Id"]] = time.perf_counter()
        got.set()

    await nc.subscribe(bus.topology.subject(subjects.CMD_MONITORING_REMOVE_ALERTS), cb=on_msg)
    out = []
    for n in range(samples):
        message = RemoveGroupAlerts(group=f"g{n}")
        got.clear()
        sent = time.perf_counter()
        await bus.publish(subjects.CMD_MONITORING_REMOVE_ALERTS, message)
        await asyncio.wait_for(got.wait(), 5)
        out.append(seen[str(message.message_id)] - sent)
    await nc.close()
    await bus.broker.stop()
    await delete_streams(NATS_URL, prefix)
    return out


async def real_run(groups: int, alert_workers: int = 1) -> tuple[list[float], list[float], float]:
    """(isolated decision latencies, latencies under a burst, activities/s) on the real servers."""
    prefix = "b" + uuid.uuid4().hex[:8]
    # the tests' PostgreSQL: TEST_POSTGRES_URL, 127.0.0.1:5432, or an embedded cluster for the run
    with postgres_server() as postgres_url, fresh_database(postgres_url, "scaler_bench") as url:
        upgrade("scaler", url)
        world = FakeWorld()
        store = SqlStore(make_engine(url, pool_size=10))
        names = [f"g{n:03d}" for n in range(2 * groups)]
        await seed(store, names)
        world_bus = make_bus(prefix, "bench-world")
        world_bus.broker.include_router(attach_to_bus(world, world_bus))
        await world_bus.connect()
        await world_bus.broker.start()
        bus = make_bus(prefix, "bench-scaler")
        lease = RedisLease.from_url(REDIS_URL, f"bench:{prefix}:")
        metrics = MemoryMetrics()
        for name in names:
            metrics.set(name, 95, 40)
        ports = Ports(
            store,
            lease,
            metrics,
            MemoryHealthProbe(world.app_healthy),
            MemoryHooks(),
            MemoryResourceChecker(),
            BusPublisher(bus),
            SystemClock(),
        )
        scaler = Scaler(ports, owner="bench", engine=EngineConfig(owner="bench", retry=Retry(backoff_s=0.2)))
        for router in build_routers(bus, scaler, alert_workers=alert_workers):
            bus.broker.include_router(router)
        await bus.connect()
        await bus.broker.start()
        await scaler.start(tick_s=0.2)
        nc = await nats.connect(NATS_URL)
        first_clone: dict[str, float] = {}

        async def on_clone(msg: Any) -> None:
            group = msg.data.split(b'"group":"', 1)[1].split(b'"', 1)[0].decode()
            first_clone.setdefault(group, time.perf_counter())

        await nc.subscribe(bus.topology.subject(subjects.CMD_VM_CLONE), cb=on_clone)
        gateway = make_bus(prefix, "bench-gateway")
        await gateway.broker.start()
        latencies = []
        for index, name in enumerate(names[:groups]):  # one at a time, each activity finished first
            sent = time.perf_counter()
            await gateway.publish(subjects.ALERT_FIRED, alert(name))
            while name not in first_clone:  # noqa: ASYNC110 - polling keeps the callback trivial
                await asyncio.sleep(0.0002)
            latencies.append(first_clone[name] - sent)
            await wait(store, index + 1)
        rest = names[groups:]
        started = time.perf_counter()
        await asyncio.gather(*(gateway.publish(subjects.ALERT_FIRED, alert(n)) for n in rest))
        await wait(store, 2 * groups)
        loaded = [first_clone[n] - started for n in rest]
        rate = len(rest) / (time.perf_counter() - started)
        await nc.close()
        await gateway.broker.stop()
        await scaler.stop()
        await bus.broker.stop()
        await world_bus.broker.stop()
        await lease.close()
        store.dispose()
        await delete_streams(NATS_URL, prefix)
        return latencies, loaded, rate


async def main(groups: int, alert_workers: int, profile: bool = False) -> None:
    hop = await nats_hop(200)
    baseline_rate = await memory_run(groups)
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005, async_mode="enabled")
        profiler.start()
    latencies, loaded, rate = await real_run(groups, alert_workers)
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False))
    hop50, hop99 = percentile(hop, 0.5), percentile(hop, 0.99)
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    print(f"groups: {groups}, alert workers: {alert_workers}")
    print(f"baseline NATS hop (publish → subscriber): p50 {hop50 * 1000:.2f} ms, p99 {hop99 * 1000:.2f} ms")
    print(
        f"decision latency alert.fired → cmd.vm.clone ({len(latencies)} alerts): p50 {p50 * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms, mean {statistics.mean(latencies) * 1000:.1f} ms "
        f"(x{p50 / hop50:.0f} / x{p99 / hop99:.0f} the NATS hop); target p99 ≤ 100 ms: "
        f"{'met' if p99 <= 0.1 else 'NOT met'}"
    )
    print(
        f"first command under a burst of {len(loaded)} alerts at once: p50 {percentile(loaded, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(loaded, 0.99) * 1000:.0f} ms (queueing included)"
    )
    print(f"concurrent scale-outs, in memory (baseline): {baseline_rate:.0f} activities/s")
    ratio = rate / baseline_rate
    print(f"concurrent scale-outs, NATS + PostgreSQL + Redis: {rate:.1f} activities/s ({ratio:.2f} x baseline)")
    print(f"RSS: {psutil.Process().memory_info().rss / 2**20:.0f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.scaler")
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument(
        "--alert-workers",
        type=int,
        default=ScalerSettings.model_fields["alert_workers"].default,
        help="alert.fired messages decided at once",
    )
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile of the real run")
    args = parser.parse_args()
    asyncio.run(main(args.groups, args.alert_workers, args.profile))
