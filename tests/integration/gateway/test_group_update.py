"""A settings edit (PUT) never stops a group by leaving ``enabled`` out; disabling is explicit."""

from __future__ import annotations

from tests.integration.gateway.gateway_support import SPEC, Gateway


async def test_a_replace_without_enabled_keeps_the_group_enabled_and_an_explicit_false_disables(
    gateway: Gateway,
) -> None:
    admin = await gateway.login()
    assert (await admin.post("/api/v1/groups", json=SPEC)).status_code == 201
    assert (await admin.post(f"/api/v1/groups/{SPEC['name']}/enable")).status_code == 200
    edit = {k: v for k, v in SPEC.items() if k != "enabled"} | {"max_size": SPEC["max_size"] + 1}
    replaced = await admin.put(f"/api/v1/groups/{SPEC['name']}", json=edit)
    assert replaced.status_code == 200, replaced.text
    group = (await admin.get(f"/api/v1/groups/{SPEC['name']}")).json()["group"]
    assert group["enabled"] is True and group["max_size"] == SPEC["max_size"] + 1
    disabled = await admin.put(f"/api/v1/groups/{SPEC['name']}", json={**edit, "enabled": False})
    assert disabled.status_code == 200, disabled.text
    assert (await admin.get(f"/api/v1/groups/{SPEC['name']}")).json()["group"]["enabled"] is False
