"""The loadbalancer service over NATS with real HAProxy: commands in, events and replies out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from faststream.nats import NatsRouter
from faststream.nats.annotations import NatsMessage

from lab.loadbalancer import LAB_CHECK, LAB_POOL
from services.loadbalancer.app import create_app
from services.loadbalancer.settings import LoadbalancerSettings
from shared import subjects
from shared.bus import Bus, DeadLetterPolicy, Topology, build_broker
from shared.messages import (
    AddPoolMember,
    DrainPoolMember,
    ListPoolMembers,
    ListPools,
    ListVirtualServers,
    MemberAdmin,
    MemberState,
    RemovePoolMember,
)
from shared.runtime import ServiceRuntime
from tests.integration.loadbalancer.lb_support import Backend, RunningF5, RunningHAProxy

pytestmark = pytest.mark.usefixtures("js_cleanup")

EVENTS = [
    subjects.POOL_MEMBER_ADDED,
    subjects.POOL_MEMBER_DRAINED,
    subjects.POOL_MEMBER_REMOVED,
    subjects.POOL_UPDATED,
    subjects.POOL_OPERATION_FAILED,
]


class Scaler:
    """Stands in for the scaler: sends commands, collects pool events, asks queries."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.events: list[tuple[str, Any]] = []
        router = NatsRouter()
        for subject in EVENTS:
            self._listen(router, subject)
        bus.broker.include_router(router)

    def _listen(self, router: NatsRouter, subject) -> None:
        @router.subscriber(self.bus.topology.subject(subject))
        async def collect(message: NatsMessage) -> None:
            self.events.append((subject.name, subject.model.model_validate_json(message.body)))

    async def expect(self, subject, timeout: float = 15.0, **fields) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for name, message in self.events:
                if name == subject.name and all(getattr(message, k) == v for k, v in fields.items()):
                    return message
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {subject.name} with {fields}; got {[n for n, _ in self.events]}")

    async def expect_after(self, subject, earlier: Any, timeout: float = 15.0) -> Any:
        """The first ``subject`` event received after the event ``earlier``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            start = next(i for i, (_, message) in enumerate(self.events) if message is earlier)
            later = [message for name, message in self.events[start + 1 :] if name == subject.name]
            if later:
                return later[0]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {subject.name} after {earlier}")


@contextlib.asynccontextmanager
async def running_service(settings: LoadbalancerSettings) -> AsyncIterator[Scaler]:
    """The loadbalancer service plus a scaler stand-in on the same prefix."""
    runtime = ServiceRuntime("loadbalancer", settings)
    create_app(settings, runtime)
    scaler = Scaler(
        build_broker(
            settings.nats_url,
            client_name="scaler",
            topology=Topology(settings.subject_prefix),
            policy=DeadLetterPolicy(),
        )
    )
    await runtime.start()
    await runtime.bus.broker.start()
    await scaler.bus.connect()
    await scaler.bus.broker.start()
    try:
        yield scaler
    finally:
        await scaler.bus.broker.stop()
        await runtime.bus.broker.stop()
        await runtime.stop()


def common(nats_url: str, prefix: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "nats_url": nats_url,
        "subject_prefix": prefix,
        "state_dir": tmp_path,
        "metrics_port": 0,
        "retry_delay_s": 0.1,
        "health_poll_s": 0.1,
        "drain_poll_s": 0.1,
        "reconcile_interval_s": 0,
    }


@pytest.fixture
async def service(haproxy: RunningHAProxy, nats_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[Scaler]:
    settings = LoadbalancerSettings(
        **common(nats_url, prefix, tmp_path),
        lb_driver="haproxy",
        haproxy_runtime=str(haproxy.paths.socket),
        haproxy_config=haproxy.paths.config,
        haproxy_check=LAB_CHECK,
    )
    async with running_service(settings) as scaler:
        yield scaler


async def test_add_drain_remove_over_the_bus_with_live_traffic(
    service: Scaler, haproxy: RunningHAProxy, backends: tuple[Backend, Backend]
) -> None:
    a, b = backends
    for backend in (a, b):
        await service.bus.publish(
            subjects.CMD_POOL_ADD,
            AddPoolMember(pool=LAB_POOL, name=backend.name, address=backend.address, port=backend.port, timeout_s=10),
        )
    added = await service.expect(subjects.POOL_MEMBER_ADDED, name=a.name)
    assert (added.port, added.state) == (a.port, MemberState.UP)
    await service.expect(subjects.POOL_MEMBER_ADDED, name=b.name)
    async with httpx.AsyncClient(base_url=haproxy.frontend, timeout=10) as client:
        answers = {(await client.get("/")).text for _ in range(6)}
        assert answers == {a.name, b.name}
        slow = [asyncio.create_task(client.get("/slow", params={"s": "1"})) for _ in range(2)]
        await asyncio.sleep(0.3)
        drain = DrainPoolMember(pool=LAB_POOL, name=a.name, timeout_s=10, correlation_id="act-9")
        await service.bus.publish(subjects.CMD_POOL_DRAIN, drain)
        drained = await service.expect(subjects.POOL_MEMBER_DRAINED, name=a.name)
        assert [(await task).status_code for task in slow] == [200, 200]
    assert (drained.final_connections, drained.correlation_id) == (0, "act-9")
    assert drained.causation_id == str(drain.message_id)
    assert drained.drain_seconds > 0
    updated = await service.expect_after(subjects.POOL_UPDATED, drained)  # the drain ends with pool.updated
    assert {m.name: m.admin for m in updated.members} == {a.name: MemberAdmin.OFFLINE, b.name: MemberAdmin.ENABLED}
    await service.bus.publish(subjects.CMD_POOL_REMOVE, RemovePoolMember(pool=LAB_POOL, name=a.name))
    await service.expect(subjects.POOL_MEMBER_REMOVED, name=a.name)
    reply = await service.bus.request(subjects.QUERY_POOL_MEMBERS, ListPoolMembers(pool=LAB_POOL))
    assert [m.name for m in reply.members] == [b.name]


async def test_a_missing_pool_fails_the_command_as_a_configuration_error(service: Scaler) -> None:
    command = AddPoolMember(pool="nope", name="vm-x", address="127.0.10.60", port=8080, activity_id="a-1")
    await service.bus.publish(subjects.CMD_POOL_ADD, command)
    failed = await service.expect(subjects.POOL_OPERATION_FAILED, name="vm-x")
    assert (failed.error_kind, failed.retryable, failed.activity_id) == ("ConfigurationError", False, "a-1")
    reply = await service.bus.request(subjects.QUERY_POOL_MEMBERS, ListPoolMembers(pool="nope"))
    assert (reply.error_kind, reply.members) == ("NotFound", ()), "asked about it, the pool is not there"


async def test_queries_list_pools_and_virtual_servers(service: Scaler) -> None:
    pools = await service.bus.request(subjects.QUERY_POOL_POOLS, ListPools())
    assert {p.name for p in pools.pools} == {LAB_POOL, "other"}
    servers = await service.bus.request(subjects.QUERY_POOL_VIRTUAL_SERVERS, ListVirtualServers())
    [frontend] = servers.virtual_servers
    assert (frontend.pool, frontend.address) == (LAB_POOL, "127.0.0.1")


async def test_the_f5_driver_serves_the_same_commands(
    f5sim: RunningF5,
    f5_admin: httpx.AsyncClient,
    f5_partition: str,
    backends: tuple[Backend, Backend],
    nats_url: str,
    prefix: str,
    tmp_path: Path,
) -> None:
    settings = LoadbalancerSettings(
        **common(nats_url, prefix, tmp_path),
        lb_driver="f5",
        f5_devices=[f5sim.standby_url, f5sim.active_url],
        f5_password=f5sim.password,
        f5_partition=f5_partition,
        f5_backoff_s=0.01,
    )
    a = backends[0]
    async with running_service(settings) as scaler:
        await scaler.bus.publish(
            subjects.CMD_POOL_ADD, AddPoolMember(pool="web", name="vm-f5", address=a.address, port=a.port)
        )
        added = await scaler.expect(subjects.POOL_MEMBER_ADDED, name="vm-f5")
        assert added.state is MemberState.UP
        member = f"/_sim/pools/~{f5_partition}~web/members/~{f5_partition}~vm-f5:{a.port}/connections"
        await f5_admin.put(member, json={"value": 2})
        await scaler.bus.publish(subjects.CMD_POOL_DRAIN, DrainPoolMember(pool="web", name="vm-f5", timeout_s=0.5))
        drained = await scaler.expect(subjects.POOL_MEMBER_DRAINED, name="vm-f5")
        assert drained.final_connections == 2
        assert drained.drain_seconds >= 0.5
        await scaler.bus.publish(subjects.CMD_POOL_REMOVE, RemovePoolMember(pool="web", name="vm-f5"))
        await scaler.expect(subjects.POOL_MEMBER_REMOVED, name="vm-f5")
    assert (await f5_admin.get(f"/mgmt/tm/ltm/node/~{f5_partition}~vm-f5")).status_code == 404
