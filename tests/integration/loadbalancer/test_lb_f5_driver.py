"""The F5 driver against the simulator: lifecycle, tokens, 409s, node references, faults, HA."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from services.loadbalancer.adapters.f5 import F5Pools
from services.loadbalancer.adapters.f5_session import F5Session
from shared.errors import ServiceUnavailable, Unauthorized
from shared.messages import MemberAdmin, MemberHealth, MemberState
from tests.contracts.loadbalancer import wait_member
from tests.integration.loadbalancer.lb_support import Backend, RunningF5


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as http:
        yield http


def make_session(f5sim: RunningF5, client: httpx.AsyncClient, **options) -> F5Session:
    options.setdefault("backoff_s", 0.01)
    return F5Session(client, [f5sim.active_url, f5sim.standby_url], "admin", f5sim.password, **options)


async def test_full_lifecycle_drains_then_removes_member_and_node(
    f5sim: RunningF5, f5_admin: httpx.AsyncClient, f5_partition: str, client, backends: tuple[Backend, Backend]
) -> None:
    f5 = F5Pools(make_session(f5sim, client), partition=f5_partition)
    a = backends[0]
    added = await f5.add("web", "vm-a", *a.endpoint)
    assert (added.admin, added.port) == (MemberAdmin.DISABLED, a.port)
    await wait_member(f5, "web", "vm-a", MemberHealth.UP)
    await f5.enable("web", "vm-a")
    member_url = f"/_sim/pools/~{f5_partition}~web/members/~{f5_partition}~vm-a:{a.port}/connections"
    assert (await f5_admin.put(member_url, json={"value": 3})).status_code == 200
    await f5.disable("web", "vm-a")
    [draining] = await f5.members("web")
    assert (draining.state, draining.connections) == (MemberState.DRAINING, 3)
    await f5_admin.put(member_url, json={"value": 0})
    await f5.force_offline("web", "vm-a")
    [offline] = await f5.members("web")
    assert offline.state is MemberState.MAINTENANCE
    assert await f5.remove("web", "vm-a")
    node = await f5_admin.get(f"/mgmt/tm/ltm/node/~{f5_partition}~vm-a")
    assert node.status_code == 404
    assert "01020036:3" in node.json()["message"]


async def test_a_token_expiring_mid_operation_is_renewed_once(
    f5sim: RunningF5, f5_admin: httpx.AsyncClient, f5_partition: str, client
) -> None:
    session = make_session(f5sim, client)
    f5 = F5Pools(session, partition=f5_partition)
    await f5.members("web")
    logins = session.logins
    assert (await f5_admin.post("/_sim/tokens/expire")).status_code == 200
    await f5.add("web", "vm-t", "127.0.10.40", 8080)
    assert session.logins == logins + 1
    assert [m.name for m in await f5.members("web")] == ["vm-t"]


async def test_a_token_is_renewed_before_it_expires_and_the_old_one_deleted(
    f5sim: RunningF5, f5_partition: str, client
) -> None:
    now = [0.0]
    session = make_session(f5sim, client, clock=lambda: now[0], refresh_margin_s=60)
    f5 = F5Pools(session, partition=f5_partition)
    await f5.members("web")
    first = dict(session._tokens)
    now[0] = 1200 - 30  # inside the refresh margin of a 1200 s token
    await f5.members("web")
    assert session.logins == 2
    for base, token in first.items():
        gone = await client.get(
            f"{base}/mgmt/shared/authz/tokens/{token.value}",
            headers={"X-F5-Auth-Token": session._tokens[base].value},
        )
        assert gone.status_code == 404


async def test_a_concurrent_re_add_answered_409_is_success(f5sim: RunningF5, f5_partition: str, client) -> None:
    f5 = F5Pools(make_session(f5sim, client), partition=f5_partition)
    results = await asyncio.gather(*(f5.add("web", "vm-r", "127.0.10.41", 8080) for _ in range(4)))
    assert {(m.name, m.address, m.port) for m in results} == {("vm-r", "127.0.10.41", 8080)}
    assert [m.name for m in await f5.members("web")] == ["vm-r"]


async def test_a_node_used_by_another_pool_is_kept(
    f5sim: RunningF5, f5_admin: httpx.AsyncClient, f5_partition: str, client
) -> None:
    await f5_admin.post("/mgmt/tm/ltm/pool", json={"name": "api", "partition": f5_partition})
    f5 = F5Pools(make_session(f5sim, client), partition=f5_partition)
    await f5.add("web", "vm-s", "127.0.10.42", 8080)
    await f5.add("api", "vm-s", "127.0.10.42", 9090)
    refused = await f5_admin.delete(f"/mgmt/tm/ltm/node/~{f5_partition}~vm-s")
    assert refused.status_code == 400
    assert "referenced by a member of pool" in refused.json()["message"]
    assert await f5.remove("web", "vm-s")
    assert (await f5_admin.get(f"/mgmt/tm/ltm/node/~{f5_partition}~vm-s")).status_code == 200
    assert await f5.remove("api", "vm-s")
    assert (await f5_admin.get(f"/mgmt/tm/ltm/node/~{f5_partition}~vm-s")).status_code == 404


@pytest.mark.parametrize("status", [503, 500], ids=["restarting", "mcpd-lost"])
async def test_transient_failures_are_retried_with_backoff(
    f5sim: RunningF5, f5_admin: httpx.AsyncClient, f5_partition: str, client, status: int
) -> None:
    f5 = F5Pools(make_session(f5sim, client, retries=3), partition=f5_partition)
    await f5.members("web")
    await f5_admin.post("/_sim/faults", json={"status": status, "count": 2})
    try:
        assert await f5.members("web") == []
        await f5_admin.post("/_sim/faults", json={"status": status, "count": 10})
        with pytest.raises(ServiceUnavailable):
            await f5.members("web")
    finally:
        await f5_admin.delete("/_sim/faults")


async def test_wrong_credentials_are_unauthorized(f5sim: RunningF5, client) -> None:
    session = F5Session(client, [f5sim.active_url], "admin", "wrong-password", backoff_s=0.01)
    with pytest.raises(Unauthorized):
        await F5Pools(session).pools()


async def test_the_active_unit_of_the_pair_is_used_and_followed_after_failover(
    f5sim: RunningF5, f5_admin: httpx.AsyncClient, f5_partition: str, client
) -> None:
    session = F5Session(client, [f5sim.standby_url, f5sim.active_url], "admin", f5sim.password, active_check_s=0)
    f5 = F5Pools(session, partition=f5_partition)

    async def writes() -> dict[str, int]:
        state = (await f5_admin.get("/_sim/state")).json()
        return {unit["port"]: unit["counts"]["writes"] for unit in state.values()}

    before = await writes()
    await f5.add("web", "vm-h", "127.0.10.43", 8080)
    after = await writes()
    assert after[f5sim.config.f5_port] > before[f5sim.config.f5_port]
    assert after[f5sim.config.f5_port + 1] == before[f5sim.config.f5_port + 1]
    await f5_admin.post("/_sim/failover")
    try:
        await f5.enable("web", "vm-h")
        final = await writes()
        assert final[f5sim.config.f5_port + 1] > after[f5sim.config.f5_port + 1]
    finally:
        await f5_admin.post("/_sim/failover")


async def test_tokens_are_deleted_on_close(f5sim: RunningF5, f5_admin: httpx.AsyncClient, client) -> None:
    async def tokens() -> int:
        return sum(unit["tokens"] for unit in (await f5_admin.get("/_sim/state")).json().values())

    before = await tokens()
    session = make_session(f5sim, client)
    await F5Pools(session).pools()
    assert await tokens() > before
    await session.aclose()
    assert await tokens() == before


async def test_the_simulator_keeps_persistent_connections_on_disabled_members_only(
    f5sim: RunningF5, f5_admin: httpx.AsyncClient, f5_partition: str, client
) -> None:
    f5 = F5Pools(make_session(f5sim, client), partition=f5_partition)
    await f5_admin.patch(f"/mgmt/tm/ltm/pool/~{f5_partition}~web", json={"monitor": ""})
    await f5.add("web", "vm-p", "127.0.10.44", 8080)
    await f5.add("web", "vm-q", "127.0.10.45", 8080)
    await f5.enable("web", "vm-q")
    connect = f"/_sim/pools/~{f5_partition}~web/connect"
    assert (await f5_admin.post(connect, json={})).json()["member"] == "vm-q:8080"
    assert (await f5_admin.post(connect, json={"persist_to": "vm-p:8080"})).json()["member"] == "vm-p:8080"
    await f5.force_offline("web", "vm-p")
    assert (await f5_admin.post(connect, json={"persist_to": "vm-p:8080"})).json()["member"] == "vm-q:8080"
