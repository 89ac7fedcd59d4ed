"""The scaler's handlers under FastStream's ``TestNatsBroker`` (STYLE rule 13): an alert in,
the commands and events published asserted; replies, pool reports and queries the same way.
The use cases run on the in-memory adapters; the same routers run on real NATS in
tests/integration/scaler (test_scaler_bus.py, test_scaler_drift_bus.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from faststream.nats import NatsRouter, TestNatsBroker
from faststream.nats.annotations import NatsMessage

from services.scaler.activities import EngineConfig
from services.scaler.adapters.bus import BusPublisher
from services.scaler.domain import Instance, InstanceState
from services.scaler.handlers import build_routers
from services.scaler.ports import GroupRecord
from services.scaler.service import Ports, Scaler
from shared import subjects
from shared.bus import Bus, Topology, build_broker
from shared.messages import (
    ActivityStarted,
    AlertFired,
    CloneVm,
    DecisionRecorded,
    GetGroup,
    GroupDriftDetected,
    MemberState,
    PoolMember,
    PoolUpdated,
    PowerOnVm,
    SaveGroup,
    VmCloned,
    utcnow,
)
from testkit.clock import FakeClock
from testkit.scaler.memory import MemoryHealthProbe, MemoryHooks, MemoryLease, MemoryMetrics, MemoryResourceChecker
from testkit.scaler.memory_store import MemoryStore
from tests.unit.scaler.scaler_factories import group as make_group
from tests.unit.scaler.scaler_factories import pool as make_pool

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class World:
    bus: Bus
    scaler: Scaler
    store: MemoryStore
    published: list[tuple[str, Any]] = field(default_factory=list)

    def of(self, kind: type) -> list[Any]:
        return [event for _, event in self.published if isinstance(event, kind)]


@pytest.fixture
async def world(clock: FakeClock) -> AsyncIterator[World]:
    bus = build_broker("nats://127.0.0.1:4222", client_name="scaler-unit", topology=Topology("unit"))
    store, metrics = MemoryStore(clock), MemoryMetrics()
    metrics.set("web", cpu=95, memory=40)
    ports = Ports(
        store=store,
        lease=MemoryLease(clock),
        metrics=metrics,
        probe=MemoryHealthProbe(),
        hooks=MemoryHooks(),
        checker=MemoryResourceChecker(),
        publisher=BusPublisher(bus),
        clock=clock,
    )
    scaler = Scaler(ports, owner="unit", engine=EngineConfig(owner="unit"))
    record = GroupRecord(spec=make_group(), created_at=NOW, updated_at=NOW)
    base = [  # the group at its min: an alert asks for a step, not for convergence
        Instance(group="web", vm_name=f"web-base-{i}", state=InstanceState.IN_SERVICE, base=True, created_at=NOW)
        for i in range(2)
    ]
    await store.transaction(
        lambda uow: [uow.ip_pools.save(make_pool()), uow.groups.save(record), *(uow.instances.save(i) for i in base)]
    )
    world = World(bus, scaler, store)
    for router in build_routers(bus, scaler):
        bus.broker.include_router(router)
    recorder = NatsRouter()

    async def record_message(body: dict[str, Any], message: NatsMessage) -> None:
        name = bus.topology.unprefixed(message.raw_message.subject)
        world.published.append((name, subjects.by_name(name).model.model_validate(body)))

    for pattern in subjects.COMMAND_STREAM_SUBJECTS:
        recorder.subscriber(bus.topology.subject(pattern), stream=bus.topology.commands)(record_message)
    for subject in (subjects.ACTIVITY_STARTED, subjects.DECISION_RECORDED):  # their families
        family = subject.name.split(".")[0] + ".>"
        recorder.subscriber(bus.topology.subject(family), stream=bus.topology.events)(record_message)
    bus.broker.include_router(recorder)
    async with TestNatsBroker(bus.broker):
        yield world


def fired(fingerprint: str = "fp") -> AlertFired:
    return AlertFired(
        group="web", alertname="web_HighResourceUsage", fingerprint=fingerprint, starts_at=utcnow(), labels={}
    )


async def test_an_alert_publishes_the_clone_command_its_decision_and_the_activity_start(world: World) -> None:
    await world.bus.publish(subjects.ALERT_FIRED, fired())
    [clone] = world.of(CloneVm)
    [decision] = world.of(DecisionRecorded)
    [started] = world.of(ActivityStarted)
    assert decision.allowed and decision.delta == 1 and decision.activity_id == started.activity_id
    assert clone.correlation_id == started.activity_id and str(clone.network.ip) == "127.0.10.10"
    assert [name for name, _ in world.published].index(subjects.CMD_VM_CLONE.name) == 0  # command first


async def test_a_redelivered_alert_is_decided_once(world: World) -> None:
    alert = fired()
    await world.bus.publish(subjects.ALERT_FIRED, alert)
    await world.scaler.triggers.on_alert_fired(alert)  # the same message id again
    assert len(world.of(CloneVm)) == 1 and len(world.of(DecisionRecorded)) == 1


async def test_the_clone_reply_advances_the_saga_to_power_on(world: World) -> None:
    await world.bus.publish(subjects.ALERT_FIRED, fired())
    [clone] = world.of(CloneVm)
    reply = VmCloned(
        activity_id=clone.activity_id,
        correlation_id=clone.correlation_id,
        causation_id=str(clone.message_id),
        group="web",
        vm_name=clone.vm_name,
        moref="vm-1",
        instance_uuid="u-1",
    )
    await world.bus.publish(subjects.VM_CLONED, reply)
    [power_on] = world.of(PowerOnVm)
    assert power_on.vm_name == clone.vm_name


async def test_a_pool_report_with_a_stranger_publishes_drift(world: World) -> None:
    member = PoolMember(name="stranger", address="127.0.10.99", port=8080, state=MemberState.UP)
    await world.bus.publish(subjects.POOL_UPDATED, PoolUpdated(pool="web-pool", members=(member,)))
    [drift] = world.of(GroupDriftDetected)
    assert (drift.group, drift.unexpected_in_pool, drift.source) == ("web", ("stranger",), subjects.POOL_UPDATED.name)


async def test_the_group_query_answers_over_the_broker(world: World) -> None:
    reply = await world.bus.request(subjects.QUERY_SCALER_GROUP, GetGroup(name="web"))
    assert reply.error is None and reply.group.name == "web" and reply.drift.instances == 2


async def test_a_refused_save_answers_each_problem_on_its_field(world: World) -> None:
    spec = make_group(name="api", vm_prefix="api").model_dump(mode="json") | {"min_size": 5, "max_size": 2}
    reply = await world.bus.request(subjects.QUERY_SCALER_SAVE_GROUP, SaveGroup(spec=spec))
    assert reply.error_kind == "InvalidInput" and "min_size must not exceed max_size" in reply.error
    assert reply.error_fields == (("min_size", "min_size must not exceed max_size"),)
