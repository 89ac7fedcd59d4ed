"""Deleting a template: admin only, never one a group uses, and one vmscale did not create only when
forced (and audited as such)."""

from __future__ import annotations

from datetime import UTC, datetime

import nats
import pytest

from shared import subjects
from shared.messages import TemplateInfo, VmInfo
from tests.integration.gateway.gateway_support import SPEC, Gateway

MADE = datetime(2026, 1, 1, tzinfo=UTC)
TEMPLATES = (
    TemplateInfo(vm=VmInfo(name="tpl-ours", moref="vm-91", template=True), source_vm="web-01", created_at=MADE),
    TemplateInfo(vm=VmInfo(name="tpl-used", moref="vm-92", template=True), source_vm="web-02", created_at=MADE),
    TemplateInfo(vm=VmInfo(name="tpl-foreign", moref="vm-93", template=True), description="someone else's"),
)


async def deletions_sent(gateway: Gateway) -> int:
    bus = gateway.state.runtime.bus
    nc = await nats.connect(gateway.settings.nats_url)
    try:
        info = await nc.jetstream().stream_info(
            bus.topology.commands.name, subjects_filter=bus.topology.subject(subjects.CMD_TEMPLATE_DELETE)
        )
        return sum((info.state.subjects or {}).values())
    finally:
        await nc.close()


@pytest.mark.backends(templates=TEMPLATES)
async def test_a_template_a_group_uses_is_refused_naming_the_group(gateway: Gateway) -> None:
    admin = await gateway.login()
    assert (await admin.post("/api/v1/groups", json={**SPEC, "template": "tpl-used"})).status_code == 201
    refused = await admin.delete("/api/v1/templates/tpl-used", params={"force": "true"})
    assert refused.status_code == 409
    assert "shop" in refused.json()["detail"]
    assert refused.json()["groups"] == ["shop"]  # machine-readable: the UI offers no force for it
    assert await deletions_sent(gateway) == 0


@pytest.mark.backends(templates=TEMPLATES)
async def test_a_template_vmscale_did_not_create_needs_force_and_is_audited_as_forced(gateway: Gateway) -> None:
    admin = await gateway.login()
    refused = await admin.delete("/api/v1/templates/tpl-foreign")
    assert refused.status_code == 409 and "not created by vmscale" in refused.json()["detail"]
    assert "groups" not in refused.json()  # no group uses it: the UI offers an admin "Delete anyway"
    assert await deletions_sent(gateway) == 0
    forced = await admin.delete("/api/v1/templates/tpl-foreign", params={"force": "true"})
    assert forced.status_code == 202
    entry = gateway.state.audit_log.recent(1, action="template.delete")[0]
    assert (entry.target, entry.detail.get("forced")) == ("tpl-foreign", True)
    assert await deletions_sent(gateway) == 1


@pytest.mark.backends(templates=TEMPLATES)
async def test_a_template_vmscale_made_and_no_group_uses_is_deleted_by_an_admin_only(gateway: Gateway) -> None:
    admin = await gateway.login()
    body = {"username": "otto", "password": "operator password", "role": "operator"}
    assert (await admin.post("/api/v1/users", json=body)).status_code == 201
    otto = await gateway.login("otto", "operator password")
    assert (await otto.delete("/api/v1/templates/tpl-ours")).status_code == 403
    assert (await admin.delete("/api/v1/templates/tpl-ours")).status_code == 202
    assert gateway.state.audit_log.recent(1, action="template.delete")[0].detail.get("forced") is False
    assert (await admin.delete("/api/v1/templates/no-such-template")).status_code == 404
    assert await deletions_sent(gateway) == 1
