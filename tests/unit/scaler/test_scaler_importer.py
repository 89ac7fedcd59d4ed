"""``vmscale import``: the original's configs become groups; its VMs protected base instances."""

from __future__ import annotations

from pathlib import Path

import pytest
from scaler_harness import Harness

from services.scaler.importer import import_original

pytestmark = pytest.mark.unit

ORIGINAL = Path(__file__).parent / "original"


async def test_the_original_configs_are_imported_with_their_vms_as_protected_base() -> None:
    h = Harness()

    async def discover(group):
        return [("auto-vm-test-01", "127.0.10.21"), ("auto-vm-test-02", "127.0.10.22")]

    report = await import_original(
        ORIGINAL / "autoscaling-configs.json", ORIGINAL / "templates.json", h.scaler.admin, discover
    )
    assert report.imported == ["auto-vm-test-service"]
    assert "template" in report.skipped["broken"] and "templates.json" in report.skipped["no-template"]
    record = await h.group("auto-vm-test-service")
    spec = record.spec
    assert spec.template == "auto-vm-test-template" and not spec.enabled
    assert (spec.thresholds.out_for_s, spec.thresholds.in_for_s) == (60, 300)
    assert (spec.min_size, spec.max_size, spec.scale_out_cooldown_s, spec.member_port) == (2, 4, 300, 80)
    assert spec.placement.datastore == "datastore1" and spec.network == "Vlan-1048"
    instances = await h.instances("auto-vm-test-service")
    assert [(i.vm_name, i.base, i.protected, i.state) for i in instances] == [
        ("auto-vm-test-01", True, True, "in_service"),
        ("auto-vm-test-02", True, True, "in_service"),
    ]
    pools = await h.scaler.views.pools()
    assert [(p.name, p.capacity) for p in pools] == [("auto-vm-test-service-ips", 2)]
    again = await import_original(ORIGINAL / "autoscaling-configs.json", ORIGINAL / "templates.json", h.scaler.admin)
    assert again.imported == [] and "exists" in again.skipped["auto-vm-test-service"]
