"""Enabling a group adopts the VMs its job already scrapes as protected base instances."""

from __future__ import annotations

from services.scaler.domain.model import ScalingGroup
from services.scaler.groups import GroupAdmin
from shared.errors import ServiceUnavailable
from tests.unit.scaler.scaler_harness import Harness


def admin_with(h: Harness, existing) -> GroupAdmin:
    return GroupAdmin(h.store, h.checker, h.scaler.relay, h.clock, "http://gw", existing)


async def test_enabling_registers_the_jobs_vms_as_protected_base_instances_once() -> None:
    h = Harness()
    await h.setup(enabled=False, base=0)
    calls: list[str] = []

    async def existing(group: ScalingGroup) -> list[tuple[str, str | None]]:
        calls.append(group.prometheus_job)
        return [("web-1", "127.0.10.10"), ("web-2", "127.0.10.11")]

    admin = admin_with(h, existing)
    _, problems = await admin.set_enabled("web", True)
    assert problems == []
    adopted = {i.vm_name: i for i in await h.instances()}
    assert set(adopted) == {"web-1", "web-2"}
    assert all(i.base and i.protected for i in adopted.values())
    spec = (await h.group()).spec
    await admin.save_group(spec, create=False)  # already enabled: nothing to adopt again
    assert calls == ["web"]


async def test_a_discovery_failure_is_reported_and_the_group_is_still_enabled() -> None:
    h = Harness()
    await h.setup(enabled=False, base=0)

    async def broken(group: ScalingGroup) -> list[tuple[str, str | None]]:
        raise ServiceUnavailable("inventory is not answering")

    record, problems = await admin_with(h, broken).set_enabled("web", True)
    assert record.spec.enabled
    assert problems == ["existing VMs of job web not discovered: inventory is not answering"]
    assert await h.instances() == []
