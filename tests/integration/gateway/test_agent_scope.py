"""Agents go only to addresses vmscale manages; uninstall and Promtail need the admin role.

A refused batch never becomes a command: nothing reaches the monitoring service, so no SSH
connection can be opened for it.
"""

from __future__ import annotations

import httpx
import nats
import pytest

from shared import subjects
from tests.integration.gateway.gateway_support import Gateway

POOL = {
    "network": "127.0.50.0/24",
    "gateway": "127.0.50.1",
    "dns": ["127.0.0.53"],
    "ranges": [{"start": "127.0.50.10", "end": "127.0.50.19"}],
}


def batch(address: str, tool: str = "node_exporter", action: str = "install") -> dict[str, object]:
    return {"tool": tool, "action": action, "hosts": [{"vm_name": "vm-x", "address": address, "port": 22}]}


async def commands_sent(gateway: Gateway) -> int:
    """How many agent batches reached the commands stream."""
    bus = gateway.state.runtime.bus
    nc = await nats.connect(gateway.settings.nats_url)
    try:
        info = await nc.jetstream().stream_info(
            bus.topology.commands.name, subjects_filter=bus.topology.subject(subjects.CMD_MONITORING_INSTALL_AGENTS)
        )
        return sum((info.state.subjects or {}).values())
    finally:
        await nc.close()


async def operator(gateway: Gateway, admin: httpx.AsyncClient) -> httpx.AsyncClient:
    body = {"username": "otto", "password": "operator password", "role": "operator"}
    assert (await admin.post("/api/v1/users", json=body)).status_code == 201
    return await gateway.login("otto", "operator password")


async def test_an_address_vmscale_does_not_manage_is_refused_with_the_reason_and_sends_nothing(
    gateway: Gateway,
) -> None:
    admin = await gateway.login()
    refused = await admin.post("/api/v1/agents", json=batch("127.0.0.5"))
    assert refused.status_code == 403
    assert "127.0.0.5" in refused.json()["detail"] and "does not manage" in refused.json()["detail"]
    by_name = await admin.post("/api/v1/agents", json=batch("db.example.internal"))
    assert by_name.status_code == 403
    assert await commands_sent(gateway) == 0


async def test_one_unmanaged_address_refuses_the_whole_batch(gateway: Gateway) -> None:
    admin = await gateway.login()
    hosts = [
        {"vm_name": "web-01", "address": "127.0.10.11"},
        {"vm_name": "intruder", "address": "127.0.0.6"},
    ]
    response = await admin.post("/api/v1/agents", json={"tool": "node_exporter", "hosts": hosts})
    assert response.status_code == 403 and "127.0.0.6" in response.json()["detail"]
    assert "127.0.10.11" not in response.json()["detail"]
    assert await commands_sent(gateway) == 0


async def test_a_guest_ip_inventory_reports_and_an_ip_pool_address_are_accepted(gateway: Gateway) -> None:
    admin = await gateway.login()
    assert (await admin.post("/api/v1/agents", json=batch("127.0.10.11"))).status_code == 202  # web-01's IP
    assert (await admin.put("/api/v1/ip-pools/lab", json=POOL)).status_code == 200
    assert (await admin.post("/api/v1/agents", json=batch("127.0.50.15"))).status_code == 202
    assert (await admin.post("/api/v1/agents", json=batch("127.0.50.25"))).status_code == 403  # outside the range
    assert await commands_sent(gateway) == 2


@pytest.mark.parametrize(
    ("tool", "action"),
    [("promtail", "install"), ("node_exporter", "uninstall"), ("promtail", "status")],
    ids=["promtail-install", "uninstall", "promtail-status"],
)
async def test_uninstall_and_promtail_are_admin_only(gateway: Gateway, tool: str, action: str) -> None:
    admin = await gateway.login()
    otto = await operator(gateway, admin)
    denied = await otto.post("/api/v1/agents", json=batch("127.0.10.11", tool, action))
    assert denied.status_code == 403 and "admin" in denied.json()["detail"]
    assert await commands_sent(gateway) == 0
    assert (await admin.post("/api/v1/agents", json=batch("127.0.10.11", tool, action))).status_code == 202
    assert (await otto.post("/api/v1/agents", json=batch("127.0.10.11"))).status_code == 202  # install stays OP
