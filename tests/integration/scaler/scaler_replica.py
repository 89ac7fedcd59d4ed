"""In-process scaler replicas on real NATS, PostgreSQL and Redis, and the fake world on the bus."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from services.scaler.activities import EngineConfig
from services.scaler.adapters.bus import BusPublisher
from services.scaler.adapters.redis_lease import RedisLease
from services.scaler.adapters.sql import SqlStore
from services.scaler.domain import Instance, InstanceState, IpPool, Retry, ScalingGroup
from services.scaler.handlers import build_routers
from services.scaler.ports import AddressProbe, GroupRecord
from services.scaler.service import Ports, Scaler
from shared.bus import Bus, DeadLetterPolicy, Topology, build_broker
from shared.clock import SystemClock
from shared.db import make_engine
from testkit.scaler.fake_world import FakeWorld, attach_to_bus
from testkit.scaler.memory import MemoryHealthProbe, MemoryHooks, MemoryMetrics, MemoryResourceChecker


def make_bus(nats_url: str, prefix: str, name: str) -> Bus:
    return build_broker(
        nats_url,
        client_name=name,
        topology=Topology(prefix),
        policy=DeadLetterPolicy(max_deliver=5, retry_delay_s=0.1, ack_wait_s=5),
    )


@dataclass
class Replica:
    """One scaler replica: its bus, store, lease and use cases."""

    bus: Bus
    scaler: Scaler
    store: SqlStore
    lease: RedisLease
    metrics: MemoryMetrics

    async def stop(self) -> None:
        await self.scaler.stop()
        await self.bus.broker.stop()
        await self.lease.close()
        self.store.dispose()


async def start_replica(
    nats_url: str,
    prefix: str,
    db_url: str,
    redis_url: str,
    redis_prefix: str,
    world: FakeWorld,
    name: str,
    addresses: AddressProbe | None = None,
    alert_workers: int = 1,
) -> Replica:
    bus = make_bus(nats_url, prefix, name)
    store = SqlStore(make_engine(db_url, pool_size=10))
    lease = RedisLease.from_url(redis_url, redis_prefix)
    metrics = MemoryMetrics()
    ports = Ports(
        store=store,
        lease=lease,
        metrics=metrics,
        probe=MemoryHealthProbe(world.app_healthy),
        hooks=MemoryHooks(),
        checker=MemoryResourceChecker(),
        publisher=BusPublisher(bus),
        clock=SystemClock(),
        addresses=addresses,
    )
    engine = EngineConfig(owner=name, lease_ttl_s=5, retry=Retry(max_attempts=3, backoff_s=0.2))
    scaler = Scaler(ports, owner=name, engine=engine)
    for router in build_routers(bus, scaler, alert_workers=alert_workers):
        bus.broker.include_router(router)
    await bus.connect()
    await bus.broker.start()
    await scaler.start(tick_s=0.2)
    return Replica(bus, scaler, store, lease, metrics)


@dataclass
class WorldOnBus:
    """The fake inventory, monitoring and load balancer answering on the real bus."""

    world: FakeWorld
    bus: Bus
    commands: list[str] = field(default_factory=list)

    async def stop(self) -> None:
        await self.bus.broker.stop()


async def start_world(
    nats_url: str, prefix: str, world: FakeWorld, on_command: Callable[[str], Awaitable[None]] | None = None
) -> WorldOnBus:
    bus = make_bus(nats_url, prefix, "fakeworld")
    holder = WorldOnBus(world, bus)

    async def record(name: str) -> None:
        holder.commands.append(name)
        if on_command is not None:
            await on_command(name)

    bus.broker.include_router(attach_to_bus(world, bus, record))
    await bus.connect()
    await bus.broker.start()
    return holder


def group_spec(name: str, **overrides: Any) -> ScalingGroup:
    values: dict[str, Any] = {
        "name": name,
        "vm_prefix": name,
        "template": "tpl",
        "prometheus_job": name,
        "min_size": 1,
        "max_size": 3,
        "pool": f"{name}-pool",
        "vip": "127.0.0.1",
        "member_port": 18080,
        "ip_pool": "lab",
        "enabled": True,
    }
    values.update(overrides)
    return ScalingGroup.model_validate(values)


def lab_pool(start: str = "127.0.10.10", end: str = "127.0.10.250") -> IpPool:
    return IpPool.model_validate({"name": "lab", "network": "127.0.10.0/24", "ranges": [{"start": start, "end": end}]})


async def seed(store: SqlStore, groups: list[ScalingGroup], pool: IpPool, *, at_min: bool = False) -> None:
    """Write a pool and enabled groups straight into the scaler's tables; ``at_min`` gives each
    group ``min_size`` base instances (else a group starts below min and the loop grows it)."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)

    def txn(uow: Any) -> None:
        uow.ip_pools.save(pool)
        for spec in groups:
            uow.groups.save(GroupRecord(spec=spec, created_at=now, updated_at=now))
            for index in range(spec.min_size if at_min else 0):
                uow.instances.save(
                    Instance(
                        group=spec.name,
                        vm_name=f"{spec.name}-base-{index}",
                        state=InstanceState.IN_SERVICE,
                        base=True,
                        protected=True,
                        created_at=now,
                    )
                )

    await store.transaction(txn)


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        await asyncio.sleep(0.1)


def unique(name: str) -> str:
    return f"{name}{uuid.uuid4().hex[:6]}"


async def _answer_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def health_servers(addresses: tuple[str, ...]) -> AsyncIterator[int]:
    """The application's health path (200 "ok") on every address given, on one free port."""
    from shared.embedded import free_port

    port = free_port(addresses[0])
    servers = [await asyncio.start_server(_answer_ok, address, port) for address in addresses]
    try:
        yield port
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()
