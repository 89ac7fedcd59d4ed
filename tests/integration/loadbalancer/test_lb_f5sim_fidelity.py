"""The F5 simulator answers like the documented iControl REST API (keeps the simulator honest)."""

from __future__ import annotations

import httpx

from tests.integration.loadbalancer.lb_support import RunningF5


async def login(client: httpx.AsyncClient, password: str) -> httpx.Response:
    return await client.post(
        "/mgmt/shared/authn/login",
        json={"username": "admin", "password": password, "loginProviderName": "tmos"},
    )


async def test_a_user_holds_at_most_100_tokens_and_deleting_one_frees_a_slot(f5sim: RunningF5) -> None:
    async with httpx.AsyncClient(base_url=f5sim.standby_url, timeout=5) as client:
        await client.post(f"{f5sim.active_url}/_sim/tokens/expire")
        tokens = []
        for _ in range(100):
            response = await login(client, f5sim.password)
            assert response.status_code == 200
            tokens.append(response.json()["token"]["token"])
        refused = await login(client, f5sim.password)
        assert refused.status_code == 400
        assert "maximum active login tokens" in refused.json()["message"]
        deleted = await client.delete(f"/mgmt/shared/authz/tokens/{tokens[0]}", headers={"X-F5-Auth-Token": tokens[1]})
        assert deleted.status_code == 200
        assert (await login(client, f5sim.password)).status_code == 200
        await client.post(f"{f5sim.active_url}/_sim/tokens/expire")


async def test_token_lifetime_extends_up_to_36000_seconds(f5sim: RunningF5) -> None:
    async with httpx.AsyncClient(base_url=f5sim.active_url, timeout=5) as client:
        token = (await login(client, f5sim.password)).json()["token"]
        assert token["timeout"] == 1200
        headers = {"X-F5-Auth-Token": token["token"]}
        url = f"/mgmt/shared/authz/tokens/{token['token']}"
        assert (await client.patch(url, json={"timeout": 36000}, headers=headers)).json()["timeout"] == 36000
        assert (await client.patch(url, json={"timeout": 36001}, headers=headers)).status_code == 406
        await client.delete(url, headers=headers)


async def test_errors_carry_the_documented_body_and_unescaped_route_domains_are_refused(
    f5sim: RunningF5, f5_admin: httpx.AsyncClient
) -> None:
    missing = await f5_admin.get("/mgmt/tm/ltm/pool/~Common~nope/members")
    assert missing.status_code == 404
    assert set(missing.json()) >= {"code", "message", "errorStack", "apiError"}
    assert missing.json()["message"].startswith("01020036:3:")
    unescaped = await f5_admin.get("/mgmt/tm/ltm/node/~Common~127.0.0.5%2")
    assert unescaped.status_code == 400
    async with httpx.AsyncClient(base_url=f5sim.active_url) as anonymous:
        assert (await anonymous.get("/mgmt/tm/ltm/pool")).status_code == 401


async def test_a_transaction_is_all_or_nothing(
    f5sim: RunningF5, f5_admin: httpx.AsyncClient, f5_partition: str
) -> None:
    transaction = (await f5_admin.post("/mgmt/tm/transaction", json={})).json()
    assert transaction["state"] == "STARTED"
    headers = {"X-F5-REST-Coordination-Id": str(transaction["transId"])}
    members = f"/mgmt/tm/ltm/pool/~{f5_partition}~web/members"
    queued = await f5_admin.post(members, json={"name": "vm-t1:80", "address": "127.0.10.70"}, headers=headers)
    assert queued.status_code == 200
    await f5_admin.delete(f"/mgmt/tm/ltm/node/~{f5_partition}~vm-t1", headers=headers)  # fails at commit
    assert (await f5_admin.get(members)).json()["items"] == []  # nothing applied yet
    commit = await f5_admin.patch(f"/mgmt/tm/transaction/{transaction['transId']}", json={"state": "VALIDATING"})
    assert commit.status_code == 400
    assert "referenced by a member of pool" in commit.json()["message"]
    assert (await f5_admin.get(members)).json()["items"] == []
