"""The scaler over in-memory ports and a fake world of the other services (no network)."""

from __future__ import annotations

import asyncio
from typing import Any

from services.scaler.activities import EngineConfig
from services.scaler.domain import Retry
from services.scaler.service import Ports, Scaler
from services.scaler.steps import REPLY_SUBJECTS
from shared import subjects
from shared.messages import AlertFired, Message, utcnow
from shared.subjects import Subject
from testkit.clock import FakeClock
from testkit.scaler.fake_world import FakeWorld
from testkit.scaler.memory import (
    MemoryHealthProbe,
    MemoryHooks,
    MemoryLease,
    MemoryMetrics,
    MemoryResourceChecker,
    RecordingPublisher,
)
from testkit.scaler.memory_store import MemoryStore
from tests.unit.scaler.scaler_factories import group as make_group
from tests.unit.scaler.scaler_factories import pool as make_pool

MONITORING_EVENTS = {
    subjects.MONITORING_ALERTS_PROVISIONED.name,
    subjects.MONITORING_ALERTS_REMOVED.name,
    subjects.MONITORING_FAILED.name,
}


class Harness:
    """One scaler replica (or several sharing store and lease) and the fake world."""

    def __init__(
        self,
        clock: FakeClock | None = None,
        *,
        store: MemoryStore | None = None,
        lease: MemoryLease | None = None,
        world: FakeWorld | None = None,
        owner: str = "r1",
        publisher: RecordingPublisher | None = None,
        probe: Any = None,
        addresses: Any = None,
        pools: Any = None,
        presence: Any = None,
        existing_vms: Any = None,
    ) -> None:
        self.clock = clock or FakeClock()
        self.store = store or MemoryStore(self.clock)
        self.lease = lease or MemoryLease(self.clock)
        self.world = world or FakeWorld()
        self.metrics = MemoryMetrics()
        self.hooks = MemoryHooks()
        self.probe = probe or MemoryHealthProbe(self.world.app_healthy)
        self.checker = MemoryResourceChecker({"web", "api"}, {"web-template"}, {"web-pool"})
        self.publisher = publisher or RecordingPublisher()
        self.queue: asyncio.Queue[tuple[Subject[Any], Message]] = asyncio.Queue()
        self.publisher.listeners.append(self._to_world)
        ports = Ports(
            store=self.store,
            lease=self.lease,
            metrics=self.metrics,
            probe=self.probe,
            hooks=self.hooks,
            checker=self.checker,
            publisher=self.publisher,
            clock=self.clock,
            addresses=addresses,
            pools=pools,
            presence=presence,
            existing_vms=existing_vms,
        )
        config = EngineConfig(
            owner=owner, lease_ttl_s=15, retry=Retry(max_attempts=2, backoff_s=1, compensation_attempts=4)
        )
        self.scaler = Scaler(ports, owner=owner, engine=config)
        self.paused = False

    def _to_world(self, subject: Subject[Any], message: Message) -> None:
        for reply in self.world.handle(subject, message):
            self.queue.put_nowait(reply)

    async def deliver(self, subject: Subject[Any], event: Message) -> None:
        """Hand an event to the scaler the way its handlers do."""
        if subject.name in MONITORING_EVENTS:
            await self.scaler.admin.on_monitoring_event(event)  # type: ignore[arg-type]
        if subject.name in {s.name for s in REPLY_SUBJECTS}:
            await self.scaler.activities.on_reply(subject, event)

    async def settle(self, rounds: int = 200) -> None:
        """Publish, deliver replies and finish local steps until nothing moves."""
        for _ in range(rounds):
            await self.scaler.relay.flush()
            await self.scaler.activities.idle()
            if self.queue.empty():
                await asyncio.sleep(0)
                if self.queue.empty() and not await self.scaler.relay.flush():
                    return
            while not self.queue.empty():
                await self.deliver(*self.queue.get_nowait())
        raise AssertionError("the scaler did not settle")

    async def setup(self, *, enabled: bool = True, pool: dict | None = None, base: int = 2, **group: Any) -> None:
        """An IP pool, a group with ``base`` base VMs, metrics saying "busy"."""
        await self.scaler.admin.save_pool(make_pool(**(pool or {})))
        spec = make_group(enabled=False, **group)
        await self.scaler.admin.save_group(spec, create=True)
        vms = [(f"{spec.vm_prefix}-base-{i}", f"127.0.10.{200 + i}") for i in range(base)]
        if vms:
            await self.scaler.admin.register_base(spec.name, vms)
        for name, ip in vms:
            from shared.messages import PowerState
            from testkit.scaler.fake_world import FakeVm

            self.world.vms[name] = FakeVm(name=name, group=spec.name, template="t", ip=ip, power=PowerState.ON)
        if enabled:
            await self.scaler.admin.set_enabled(spec.name, True)
        self.metrics.set(spec.name, cpu=95, memory=50)
        await self.settle()

    def alert(self, group: str = "web", direction: str = "out", fingerprint: str = "fp1") -> AlertFired:
        name = f"{group}_HighResourceUsage" if direction == "out" else f"{group}_LowResourceUsage"
        return AlertFired(
            group=group, alertname=name, fingerprint=fingerprint, starts_at=utcnow(), labels={"service": group}
        )

    async def fire(self, group: str = "web", direction: str = "out", fingerprint: str = "fp1") -> Any:
        decision = await self.scaler.triggers.on_alert_fired(self.alert(group, direction, fingerprint))
        await self.settle()
        return decision

    async def instances(self, group: str = "web") -> list:
        return await self.store.transaction(lambda uow: uow.instances.all(group))

    async def activities(self, group: str = "web") -> list:
        return await self.store.transaction(lambda uow: uow.activities.recent(group))

    async def leases(self, pool: str = "lab") -> list:
        return await self.store.transaction(lambda uow: [x for x in uow.ip_pools.leases(pool) if x.state != "released"])

    async def group(self, name: str = "web") -> Any:
        return await self.store.transaction(lambda uow: uow.groups.get(name))
