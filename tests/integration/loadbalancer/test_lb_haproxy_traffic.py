"""Real traffic through real HAProxy: health-gated adds, drains that drop nothing, reloads."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
import pytest

from lab.loadbalancer import LAB_CHECK, LAB_POOL
from services.loadbalancer.adapters.haproxy import HAProxyPools
from services.loadbalancer.adapters.haproxy_config import ConfigFile
from services.loadbalancer.adapters.haproxy_runtime import RuntimeClient
from shared.errors import ServiceUnavailable
from shared.messages import MemberAdmin, MemberHealth
from tests.contracts.loadbalancer import wait_member
from tests.integration.loadbalancer.lb_support import Backend, RunningHAProxy


def driver_for(haproxy: RunningHAProxy, endpoint: str | None = None) -> HAProxyPools:
    return HAProxyPools(
        RuntimeClient(endpoint or str(haproxy.paths.socket)),
        ConfigFile(haproxy.paths.config),
        check_options=LAB_CHECK,
    )


async def add_healthy(driver: HAProxyPools, backend: Backend) -> None:
    await driver.add(LAB_POOL, backend.name, *backend.endpoint)
    await wait_member(driver, LAB_POOL, backend.name, MemberHealth.UP)
    await driver.enable(LAB_POOL, backend.name)


def workers(master: int) -> set[int]:
    """The HAProxy master's worker processes."""
    return {int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()}


async def answers(client: httpx.AsyncClient, count: int) -> list[str]:
    return [(await client.get("/")).text for _ in range(count)]


async def test_an_enabled_member_receives_requests_sent_to_the_frontend(
    haproxy: RunningHAProxy, backends: tuple[Backend, Backend]
) -> None:
    driver = driver_for(haproxy)
    a, b = backends
    async with httpx.AsyncClient(base_url=haproxy.frontend, timeout=5) as client:
        assert (await client.get("/")).status_code == 503  # empty pool
        await driver.add(LAB_POOL, a.name, *a.endpoint)
        await wait_member(driver, LAB_POOL, a.name, MemberHealth.UP)
        assert (await client.get("/")).status_code == 503  # healthy but not yet enabled
        await driver.enable(LAB_POOL, a.name)
        await add_healthy(driver, b)
        assert set(await answers(client, 6)) == {"app-a", "app-b"}


async def test_a_drained_member_gets_no_new_connections_while_an_open_one_finishes(
    haproxy: RunningHAProxy, backends: tuple[Backend, Backend]
) -> None:
    driver = driver_for(haproxy)
    a, b = backends
    await add_healthy(driver, a)
    async with httpx.AsyncClient(base_url=haproxy.frontend, timeout=10) as slow_client:
        slow = asyncio.create_task(slow_client.get("/slow", params={"s": "1.5"}))
        await asyncio.sleep(0.3)
        [member] = await driver.members(LAB_POOL)
        assert member.connections == 1
        await add_healthy(driver, b)
        await driver.disable(LAB_POOL, a.name)
        async with httpx.AsyncClient(base_url=haproxy.frontend, timeout=5) as client:
            assert set(await answers(client, 6)) == {"app-b"}
        draining = next(m for m in await driver.members(LAB_POOL) if m.name == a.name)
        assert (draining.admin, draining.connections) == (MemberAdmin.DISABLED, 1)
        response = await slow
    assert (response.status_code, response.text) == (200, "app-a")
    idle = next(m for m in await driver.members(LAB_POOL) if m.name == a.name)
    assert idle.connections == 0


async def test_a_removed_member_takes_no_traffic_and_leaves_the_configuration(
    haproxy: RunningHAProxy, backends: tuple[Backend, Backend]
) -> None:
    driver = driver_for(haproxy)
    a, b = backends
    await add_healthy(driver, a)
    await add_healthy(driver, b)
    assert [s.name for s in ConfigFile(haproxy.paths.config).servers(LAB_POOL)] == ["app-a", "app-b"]
    assert await driver.remove(LAB_POOL, a.name)
    async with httpx.AsyncClient(base_url=haproxy.frontend, timeout=5) as client:
        assert set(await answers(client, 4)) == {"app-b"}
    assert [s.name for s in ConfigFile(haproxy.paths.config).servers(LAB_POOL)] == ["app-b"]


async def test_members_survive_a_reload(haproxy: RunningHAProxy, backends: tuple[Backend, Backend]) -> None:
    driver = driver_for(haproxy)
    a, b = backends
    await add_healthy(driver, a)
    await driver.add(LAB_POOL, b.name, *b.endpoint)
    await driver.force_offline(LAB_POOL, b.name)
    before = workers(haproxy.pid())
    os.kill(haproxy.pid(), signal.SIGUSR2)  # master-worker reload re-reads the configuration
    deadline = asyncio.get_running_loop().time() + 10
    while True:  # the reload is over when the old worker has left and the new one sees `a` healthy
        members = {m.name: m for m in await driver.members(LAB_POOL)}
        now = workers(haproxy.pid())
        if len(now) == 1 and not now & before and members.get(a.name) and members[a.name].health is MemberHealth.UP:
            break
        assert asyncio.get_running_loop().time() < deadline, members
        await asyncio.sleep(0.1)
    assert members[b.name].admin is MemberAdmin.OFFLINE
    async with httpx.AsyncClient(base_url=haproxy.frontend, timeout=5) as client:
        assert set(await answers(client, 4)) == {"app-a"}


async def test_the_runtime_api_also_works_over_loopback_tcp(
    haproxy: RunningHAProxy, backends: tuple[Backend, Backend]
) -> None:
    driver = driver_for(haproxy, f"tcp://127.0.0.1:{haproxy.config.haproxy_stats_port}")
    await driver.add(LAB_POOL, "vm-tcp", *backends[0].endpoint)
    assert [m.name for m in await driver.members(LAB_POOL)] == ["vm-tcp"]
    assert [p.name for p in await driver.pools()] == ["other", "web"]


async def test_an_unreachable_runtime_api_is_retryable(haproxy: RunningHAProxy) -> None:
    driver = driver_for(haproxy, str(haproxy.paths.directory / "missing.sock"))
    with pytest.raises(ServiceUnavailable):
        await driver.members(LAB_POOL)
