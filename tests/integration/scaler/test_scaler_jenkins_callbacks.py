"""The original's Jenkins callbacks through the real gateway to the real scaler (NATS, PostgreSQL, Redis).

``POST /api/webhook/jenkins/vm-created`` adopts a VM the original's pipeline created;
``/vm-deleted`` marks it gone (docs/original-system.md §10.3, §11.3). Both authenticate as the
Alertmanager webhook does, answer 400 on the original's missing fields, are idempotent and
audited.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from services.gateway.state import GatewayState
from shared import subjects
from shared.bus import Bus
from shared.messages import InstanceView, ListInstances
from testkit.scaler.fake_world import FakeWorld
from tests.integration.scaler.scaler_replica import (
    Replica,
    group_spec,
    lab_pool,
    make_bus,
    seed,
    start_replica,
    start_world,
)

pytestmark = pytest.mark.usefixtures("js_cleanup")

TOKEN = "wh-" + "j" * 40
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CREATED = {
    "serviceName": "web",
    "vmName": "web-202512110930",
    "vmIp": "127.0.10.50",
    "prometheusJobName": "web",
    "f5PoolName": "web-pool",
    "f5VipPort": 80,
}


@dataclass
class Stack:
    client: httpx.AsyncClient
    state: GatewayState
    replica: Replica
    bus: Bus

    async def instances(self) -> dict[str, InstanceView]:
        reply = await self.bus.request(
            subjects.QUERY_SCALER_INSTANCES, ListInstances(group="web", include_terminated=True)
        )
        assert reply.error is None, reply.error
        return {i.vm_name: i for i in reply.instances}


@pytest.fixture
async def stack(
    nats_url: str,
    redis_url: str,
    clean_db: str,
    postgres_database: str,
    prefix: str,
    redis_prefix: str,
    tmp_path: Path,
) -> AsyncIterator[Stack]:
    world = FakeWorld()
    fake = await start_world(nats_url, prefix, world)
    replica = await start_replica(nats_url, prefix, clean_db, redis_url, redis_prefix, world, "r1")
    # disabled: the control loop leaves the group alone while the callbacks change it
    await seed(replica.store, [group_spec("web", enabled=False, min_size=2)], lab_pool(), at_min=True)
    settings = GatewaySettings(
        nats_url=nats_url,
        redis_url=redis_url,
        database_url=postgres_database,
        subject_prefix=prefix,
        state_dir=tmp_path,
        webhook_token=TOKEN,
        initial_admin_password="correct horse battery staple",
        backend_timeout_s=5.0,
    )
    app = create_app(settings)
    bus = make_bus(nats_url, prefix, "reader")
    await bus.broker.start()
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.9", 5555))
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                yield Stack(client, app.state.gateway, replica, bus)
    finally:
        await bus.broker.stop()
        await replica.stop()
        await fake.stop()


async def test_vm_created_adopts_the_vm_as_autoscaled_once(stack: Stack) -> None:
    first = await stack.client.post("/api/webhook/jenkins/vm-created", json=CREATED, headers=AUTH)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["success"], body["outcome"], body["changed"]) == (True, "adopted", True)
    assert {k: body[k] for k in ("serviceName", "vmName", "vmIp", "prometheusJobName")} == {
        k: CREATED[k] for k in ("serviceName", "vmName", "vmIp", "prometheusJobName")
    }
    adopted = (await stack.instances())["web-202512110930"]
    assert (adopted.state, adopted.base, adopted.protected, adopted.address) == (
        "in_service",
        False,
        False,
        "127.0.10.50",
    )
    assert adopted.created_at == datetime(2025, 12, 11, 9, 30, tzinfo=UTC)

    again = await stack.client.post("/api/webhook/jenkins/vm-created", json=CREATED, headers=AUTH)
    assert again.status_code == 200 and (again.json()["outcome"], again.json()["changed"]) == (
        "already-managed",
        False,
    )
    assert len(await stack.instances()) == 3

    audit = [e for e in stack.state.audit_log.recent(actor="jenkins") if e.action == "jenkins.vm-created"]
    assert [e.outcome for e in audit] == ["already-managed", "adopted"]
    assert all(e.target == "web" and e.detail["vm_name"] == "web-202512110930" for e in audit)


async def test_vm_deleted_marks_the_vm_gone_once(stack: Stack) -> None:
    await stack.client.post("/api/webhook/jenkins/vm-created", json=CREATED, headers=AUTH)
    gone = await stack.client.post("/api/webhook/jenkins/vm-deleted", json=CREATED, headers=AUTH)
    assert gone.status_code == 200, gone.text
    assert (gone.json()["outcome"], gone.json()["changed"]) == ("marked-gone", True)
    assert (await stack.instances())["web-202512110930"].state == "terminated"
    again = await stack.client.post("/api/webhook/jenkins/vm-deleted", json=CREATED, headers=AUTH)
    assert again.status_code == 200 and (again.json()["outcome"], again.json()["changed"]) == ("already-gone", False)
    unknown_vm = {**CREATED, "vmName": "web-never-existed"}
    nothing = await stack.client.post("/api/webhook/jenkins/vm-deleted", json=unknown_vm, headers=AUTH)
    assert nothing.status_code == 200 and nothing.json()["changed"] is False
    # the base VMs are untouched
    states = {name: i.state for name, i in (await stack.instances()).items() if name != "web-202512110930"}
    assert states == {"web-base-0": "in_service", "web-base-1": "in_service"}


@pytest.mark.parametrize("path", ["vm-created", "vm-deleted"])
@pytest.mark.parametrize("missing", ["serviceName", "vmName", "vmIp", "prometheusJobName"])
async def test_a_callback_without_a_required_field_is_a_400_naming_it(stack: Stack, path: str, missing: str) -> None:
    body = {k: v for k, v in CREATED.items() if k != missing}
    response = await stack.client.post(f"/api/webhook/jenkins/{path}", json=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": missing, "message": "required"}]
    assert len(await stack.instances()) == 2


@pytest.mark.parametrize("path", ["vm-created", "vm-deleted"])
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong-token"}], ids=["no-credentials", "wrong-token"]
)
async def test_a_callback_without_the_webhook_credentials_is_refused(
    stack: Stack, path: str, headers: dict[str, str]
) -> None:
    response = await stack.client.post(f"/api/webhook/jenkins/{path}", json=CREATED, headers=headers)
    assert response.status_code == 401
    assert len(await stack.instances()) == 2


async def test_a_callback_for_an_unknown_service_is_a_404_and_audited(stack: Stack) -> None:
    body = {**CREATED, "serviceName": "nosuch"}
    response = await stack.client.post("/api/webhook/jenkins/vm-created", json=body, headers=AUTH)
    assert response.status_code == 404
    (entry,) = stack.state.audit_log.recent(actor="jenkins")
    assert (entry.target, entry.outcome) == ("nosuch", "unknown-group")


async def test_a_callback_with_a_bad_address_is_a_400(stack: Stack) -> None:
    body = {**CREATED, "vmIp": "127.0.0.300"}
    response = await stack.client.post("/api/webhook/jenkins/vm-created", json=body, headers=AUTH)
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "vmIp"
