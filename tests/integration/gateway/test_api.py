"""The REST API in front of the (stand-in) scaler: groups, scaling, errors, events, YAML, SSE."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import yaml

from shared import subjects
from tests.integration.gateway.gateway_support import SPEC, Gateway


async def test_a_group_is_created_enabled_scaled_and_deleted_and_every_change_is_audited(gateway: Gateway) -> None:
    admin = await gateway.login()
    created = await admin.post("/api/v1/groups", json=SPEC)
    assert created.status_code == 201, created.text
    assert created.json()["group"]["name"] == "shop"
    assert (await admin.post("/api/v1/groups/shop/enable")).json()["group"]["enabled"] is True
    scaled = await admin.post("/api/v1/groups/shop/scale", json={"delta": 1})
    assert scaled.json()["decision"]["allowed"] is True
    assert [g["name"] for g in (await admin.get("/api/v1/groups")).json()] == ["batch", "shop", "web"]
    assert (await admin.delete("/api/v1/groups/shop")).json()["ok"] is True
    actions = [e.action for e in gateway.state.audit_log.recent(20, actor="admin")]
    for action in ("group.create", "group.enable", "group.scale", "group.delete"):
        assert action in actions


async def test_the_scalers_validation_reasons_come_back_as_a_422_problem(gateway: Gateway) -> None:
    admin = await gateway.login()
    response = await admin.post("/api/v1/groups", json={**SPEC, "min_size": 5, "max_size": 2})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "min_size must not exceed max_size" in response.json()["detail"]
    assert "shop" not in gateway.scaler.groups


async def test_an_unknown_group_is_a_404_problem_and_a_duplicate_a_409(gateway: Gateway) -> None:
    admin = await gateway.login()
    assert (await admin.get("/api/v1/groups/nosuch")).status_code == 404
    assert (await admin.post("/api/v1/groups", json={**SPEC, "name": "web", "vm_prefix": "web"})).status_code == 409


@pytest.mark.backends(None)
async def test_a_backend_that_does_not_answer_is_a_504_problem_not_a_hang(gateway: Gateway) -> None:
    admin = await gateway.login()
    response = await asyncio.wait_for(admin.get("/api/v1/datastores"), timeout=5)
    assert response.status_code == 504
    assert response.json()["title"] == "Backend timeout"


async def test_the_original_paths_answer_as_aliases(gateway: Gateway) -> None:
    admin = await gateway.login()
    original = [g["name"] for g in (await admin.get("/api/autoscaling/configs")).json()]
    assert original == [g["name"] for g in (await admin.get("/api/v1/groups")).json()] == ["batch", "web"]
    vms = await admin.get("/api/templates/vms")
    assert [vm["name"] for vm in vms.json()["vms"]] == ["web-01", "web-02"]
    assert (await admin.get("/api/f5/pools")).json()["pools"][0]["name"] == "web-pool"


async def test_manual_scaling_is_rate_limited(gateway: Gateway) -> None:
    operator = await gateway.login()
    limit = gateway.settings.scale_rate_per_min
    codes = [(await operator.post("/api/v1/groups/web/scale", json={"delta": 1})).status_code for _ in range(limit + 1)]
    assert codes[:limit] == [200] * limit and codes[-1] == 429


async def test_groups_export_as_yaml_and_import_back(gateway: Gateway) -> None:
    admin = await gateway.login()
    await admin.post("/api/v1/groups", json=SPEC)
    exported = await admin.get("/api/v1/export/groups")
    assert exported.headers["content-type"].startswith("application/yaml")
    document = yaml.safe_load(exported.text)
    assert {g["name"] for g in document["groups"]} >= {"shop"}
    changed = {"groups": [{**SPEC, "max_size": 6}, {**SPEC, "name": "shop2", "vm_prefix": "shop2"}]}
    result = await admin.post(
        "/api/v1/import/groups", content=yaml.safe_dump(changed), headers={"Content-Type": "application/yaml"}
    )
    assert result.json() == {"created": ["shop2"], "updated": ["shop"]}
    assert gateway.scaler.specs["shop"]["max_size"] == 6
    bad = await admin.post(
        "/api/v1/import/groups", content="groups: nope", headers={"Content-Type": "application/yaml"}
    )
    assert bad.status_code == 422


async def test_events_arrive_live_over_sse_and_are_listed_with_filters(gateway: Gateway) -> None:
    operator = await gateway.login()
    frames: list[dict] = []
    opened = asyncio.Event()

    async def read_stream(base: str) -> None:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in operator.cookies.items())}
        async with (
            httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as http,
            http.stream("GET", "/api/v1/events/stream?group=web") as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                opened.set()  # the first frame comes after the stream listens to the feed
                if line.startswith("data: "):
                    frames.append(json.loads(line[6:]))
                    if any(f["subject"] == subjects.ACTIVITY_STARTED.name for f in frames):
                        return

    async with gateway.served() as base:
        reader = asyncio.create_task(read_stream(base))
        await asyncio.wait_for(opened.wait(), timeout=10)
        await operator.post("/api/v1/groups/web/scale", json={"delta": 1})
        await asyncio.wait_for(reader, timeout=10)
    assert {subjects.DECISION_RECORDED.name, subjects.ACTIVITY_STARTED.name} <= {f["subject"] for f in frames}
    listed = (await operator.get("/api/v1/events", params={"group": "web", "type": "decision"})).json()
    assert listed[0]["status"] == "allowed" and listed[0]["group"] == "web"


@pytest.mark.backends(None)  # inventory, monitoring and the load balancer do not answer
async def test_system_status_lists_every_service_and_says_which_did_not_answer(gateway: Gateway) -> None:
    viewer = await gateway.login()
    body = (await viewer.get("/api/v1/system/status")).json()
    by_name = {s["service"]: s for s in body["services"]}
    assert set(by_name) == {"inventory", "monitoring", "scaler", "loadbalancer", "gateway"}
    assert by_name["gateway"]["healthy"] is True
    assert by_name["inventory"]["error"]
    systems = {s["name"]: s for s in body["systems"]}
    assert systems["vcenter"]["state"] == "unknown" and systems["vcenter"]["detail"] == "inventory did not answer"


async def test_a_query_parameter_given_twice_is_a_422_not_the_last_one_silently(gateway: Gateway) -> None:
    admin = await gateway.login()
    response = await admin.get("/api/v1/vms", params=[("group", "web"), ("group", "batch")])
    assert response.status_code == 422
    assert response.json()["field"] == "group"
    assert (await admin.get("/api/v1/vms", params={"group": "web"})).status_code == 200
