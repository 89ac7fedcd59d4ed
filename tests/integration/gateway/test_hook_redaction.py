"""Hook targets and parameters are shown only to admins: masked for viewers and operators, in the
YAML export, and kept intact when a masked export is imported back."""

from __future__ import annotations

import httpx
import yaml

from tests.integration.gateway.gateway_support import SPEC, Gateway

TOKEN = "tok-5ecret-0123"
HOOK = {"kind": "http", "target": f"http://127.0.0.1:9/hooks/ready?token={TOKEN}", "parameters": {"api_key": "k-99"}}


async def setup(gateway: Gateway) -> tuple[httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient]:
    admin = await gateway.login()
    for name, role in (("vera", "viewer"), ("otto", "operator")):
        body = {"username": name, "password": f"{name} password 1", "role": role}
        assert (await admin.post("/api/v1/users", json=body)).status_code == 201
    created = await admin.post("/api/v1/groups", json={**SPEC, "post_provision_hook": HOOK})
    assert created.status_code == 201, created.text
    return (
        admin,
        await gateway.login("vera", "vera password 1"),
        await gateway.login("otto", "otto password 1"),
    )


async def test_viewers_and_operators_see_hooks_masked_and_admins_in_full(gateway: Gateway) -> None:
    admin, viewer, operator = await setup(gateway)
    for client in (viewer, operator):
        for path in ("/api/v1/groups", "/api/v1/groups/shop", "/api/autoscaling/configs"):
            response = await client.get(path)
            assert response.status_code == 200
            assert TOKEN not in response.text and "k-99" not in response.text, path
        hook = (await client.get("/api/v1/groups/shop")).json()["group"]["spec"]["post_provision_hook"]
        assert hook["target"] == "http://127.0.0.1:9/***" and hook["parameters"] == {"api_key": "***"}
    enabled = await operator.post("/api/v1/groups/shop/enable")
    assert TOKEN not in enabled.text and "k-99" not in enabled.text
    full = (await admin.get("/api/v1/groups/shop")).json()["group"]["spec"]["post_provision_hook"]
    assert full["target"] == HOOK["target"] and full["parameters"] == HOOK["parameters"]


async def test_the_export_masks_hooks_and_importing_it_back_keeps_the_real_ones(gateway: Gateway) -> None:
    admin, viewer, _ = await setup(gateway)
    for client in (viewer, admin):
        exported = await client.get("/api/v1/export/groups")
        assert exported.status_code == 200 and TOKEN not in exported.text and "k-99" not in exported.text
    # the stand-in's own groups have no settings to round-trip: import only ours
    shop = [spec for spec in yaml.safe_load(exported.text)["groups"] if spec["name"] == "shop"]
    document = yaml.safe_dump({"groups": shop})
    imported = await admin.post(
        "/api/v1/import/groups", content=document.encode(), headers={"Content-Type": "application/yaml"}
    )
    assert imported.status_code == 200 and imported.json()["updated"] == ["shop"], imported.text
    hook = (await admin.get("/api/v1/groups/shop")).json()["group"]["spec"]["post_provision_hook"]
    assert hook["target"] == HOOK["target"] and hook["parameters"] == HOOK["parameters"]
    # a replace that sends the masked form back keeps them too
    spec = shop[0]
    assert (await admin.put("/api/v1/groups/shop", json=spec)).status_code == 200
    hook = (await admin.get("/api/v1/groups/shop")).json()["group"]["spec"]["post_provision_hook"]
    assert hook["target"] == HOOK["target"]


async def test_a_new_group_with_a_masked_hook_is_refused(gateway: Gateway) -> None:
    admin = await gateway.login()
    masked = {**HOOK, "target": "http://127.0.0.1:9/***"}
    refused = await admin.post("/api/v1/groups", json={**SPEC, "post_provision_hook": masked})
    assert refused.status_code == 422 and "masked" in refused.json()["detail"]
