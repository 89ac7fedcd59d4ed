"""Membership use cases over the in-memory load balancer: health gate, drain, cancel, resume."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.loadbalancer.membership import Membership, Timings
from services.loadbalancer.records import Desired
from shared import subjects
from shared.errors import ConfigurationError
from shared.messages import (
    AddPoolMember,
    CancelDrain,
    DrainPoolMember,
    MemberAdmin,
    MemberHealth,
    RemovePoolMember,
)
from testkit.loadbalancer.memory import InMemoryPools, InMemoryRecords
from tests.contracts.loadbalancer_records import MemberRecordsContract

FAST = Timings(health_poll_s=0.01, drain_poll_s=0.01, drain_timeout_s=5.0, drain_timeouts={"short": 0.1})


class Recorder:
    """An EventSink that keeps what was published."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    async def publish(self, subject, message) -> None:
        self.events.append((subject.name, message))

    def named(self, name: str) -> list[Any]:
        return [message for subject, message in self.events if subject == name]


class World:
    def __init__(self, pools=("web", "short")) -> None:
        self.health: dict[str, MemberHealth] = {}
        self.lb = InMemoryPools(pools, health=lambda address, port: self.health.get(address, MemberHealth.CHECKING))
        self.records = InMemoryRecords()
        self.sink = Recorder()
        self.membership = Membership(self.lb, self.records, self.sink, FAST)

    async def member(self, pool: str, name: str):
        return next(m for m in await self.lb.members(pool) if m.name == name)


def add_cmd(**overrides) -> AddPoolMember:
    fields = {"pool": "web", "name": "vm-1", "address": "127.0.10.5", "port": 8080, "correlation_id": "act-1"}
    return AddPoolMember(**{**fields, **overrides})


async def test_a_member_is_enabled_only_once_healthy() -> None:
    world = World()
    command = add_cmd()
    await world.membership.add(command)
    await asyncio.sleep(0.05)
    assert (await world.member("web", "vm-1")).admin is MemberAdmin.DISABLED
    assert world.sink.named(subjects.POOL_MEMBER_ADDED.name) == []
    world.health["127.0.10.5"] = MemberHealth.UP
    await world.membership.wait_idle()
    assert (await world.member("web", "vm-1")).admin is MemberAdmin.ENABLED
    [added] = world.sink.named(subjects.POOL_MEMBER_ADDED.name)
    assert (added.port, added.correlation_id, added.causation_id) == (8080, "act-1", str(command.message_id))
    updated = world.sink.named(subjects.POOL_UPDATED.name)[-1]
    assert [m.name for m in updated.members] == ["vm-1"]
    assert (await world.records.get("web", "vm-1")).desired is Desired.ACTIVE


async def test_a_member_that_never_becomes_healthy_fails_and_stays_disabled() -> None:
    world = World()
    world.health["127.0.10.5"] = MemberHealth.DOWN
    await world.membership.add(add_cmd(timeout_s=0.1))
    await world.membership.wait_idle()
    [failed] = world.sink.named(subjects.POOL_OPERATION_FAILED.name)
    assert (failed.operation, failed.error_kind, failed.retryable) == ("add", "OperationTimeout", True)
    assert (await world.member("web", "vm-1")).admin is MemberAdmin.DISABLED
    assert (await world.records.get("web", "vm-1")).desired is Desired.FAILED


async def test_adding_to_a_missing_pool_is_a_configuration_error() -> None:
    world = World()
    with pytest.raises(ConfigurationError):
        await world.membership.add(add_cmd(pool="nope"))
    assert await world.records.all() == []


async def test_without_waiting_the_member_is_enabled_at_once() -> None:
    world = World()
    await world.membership.add(add_cmd(wait_healthy=False))
    assert (await world.member("web", "vm-1")).admin is MemberAdmin.ENABLED
    assert len(world.sink.named(subjects.POOL_MEMBER_ADDED.name)) == 1


async def active(world: World, pool: str = "web") -> None:
    world.health["127.0.10.5"] = MemberHealth.UP
    await world.membership.add(add_cmd(pool=pool))
    await world.membership.wait_idle()


async def test_a_drain_waits_for_connections_then_takes_the_member_offline() -> None:
    world = World()
    await active(world)
    world.lb.set_connections("web", "vm-1", 2)
    await world.membership.drain(DrainPoolMember(pool="web", name="vm-1"))
    await asyncio.sleep(0.05)
    member = await world.member("web", "vm-1")
    assert (member.admin, member.connections) == (MemberAdmin.DISABLED, 2)
    assert world.sink.named(subjects.POOL_MEMBER_DRAINED.name) == []
    world.lb.set_connections("web", "vm-1", 0)
    await world.membership.wait_idle()
    [drained] = world.sink.named(subjects.POOL_MEMBER_DRAINED.name)
    assert drained.final_connections == 0
    assert drained.drain_seconds >= 0.05
    assert (await world.member("web", "vm-1")).admin is MemberAdmin.OFFLINE


async def test_the_pool_drain_timeout_applies_and_the_remaining_connections_are_reported() -> None:
    world = World()
    await active(world, pool="short")
    world.lb.set_connections("short", "vm-1", 3)
    await world.membership.drain(DrainPoolMember(pool="short", name="vm-1"))
    await world.membership.wait_idle()
    [drained] = world.sink.named(subjects.POOL_MEMBER_DRAINED.name)
    assert drained.final_connections == 3
    assert 0.1 <= drained.drain_seconds < 5.0
    assert (await world.member("short", "vm-1")).admin is MemberAdmin.OFFLINE


async def test_a_cancelled_drain_re_enables_the_member_and_never_reports_drained() -> None:
    world = World()
    await active(world)
    world.lb.set_connections("web", "vm-1", 1)
    await world.membership.drain(DrainPoolMember(pool="web", name="vm-1", timeout_s=5))
    await asyncio.sleep(0.03)
    await world.membership.cancel_drain(CancelDrain(pool="web", name="vm-1"))
    await world.membership.wait_idle()
    assert (await world.member("web", "vm-1")).admin is MemberAdmin.ENABLED
    assert len(world.sink.named(subjects.POOL_DRAIN_CANCELLED.name)) == 1
    assert world.sink.named(subjects.POOL_MEMBER_DRAINED.name) == []


async def test_remove_reports_removed_even_when_the_member_is_already_gone() -> None:
    world = World()
    await active(world)
    for _ in range(2):
        await world.membership.remove(RemovePoolMember(pool="web", name="vm-1"))
    assert len(world.sink.named(subjects.POOL_MEMBER_REMOVED.name)) == 2
    assert world.sink.named(subjects.POOL_UPDATED.name)[-1].members == ()
    assert await world.records.all() == []


async def test_a_restarted_service_resumes_a_health_wait() -> None:
    world = World()
    await world.membership.add(add_cmd())
    await world.membership.close()  # the process died mid-wait
    restarted = Membership(world.lb, world.records, world.sink, FAST)
    world.health["127.0.10.5"] = MemberHealth.UP
    assert await restarted.resume() == 1
    await restarted.wait_idle()
    assert len(world.sink.named(subjects.POOL_MEMBER_ADDED.name)) == 1
    assert (await world.member("web", "vm-1")).admin is MemberAdmin.ENABLED


async def test_a_redelivered_add_does_not_start_a_second_wait() -> None:
    world = World()
    command = add_cmd()
    await world.membership.add(command)
    await world.membership.add(command)
    assert world.membership.running() == {("web", "vm-1"): "add"}
    world.health["127.0.10.5"] = MemberHealth.UP
    await world.membership.wait_idle()
    assert len(world.sink.named(subjects.POOL_MEMBER_ADDED.name)) == 1


class TestInMemoryRecords(MemberRecordsContract):
    @pytest.fixture
    def records(self) -> InMemoryRecords:
        return InMemoryRecords()
