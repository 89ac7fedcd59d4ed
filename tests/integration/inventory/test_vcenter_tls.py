"""vCenter over HTTPS (vcsim with a lab CA): verification is on unless "insecure" is asked for."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from lab.lab_ca import make_lab_ca
from lab.vcsim import Vcsim, start_vcsim
from services.inventory.adapters.vcenter_session import ConnectionParams, VcenterSession
from services.inventory.adapters.vcenter_watch import VcenterInventory
from services.inventory.app import create_service
from services.inventory.settings import InventorySettings
from shared import subjects
from shared.errors import OperationTimeout, ServiceUnavailable
from shared.messages import VmsQuery
from shared.runtime import ServiceRuntime
from tests.integration.inventory.conftest import Client, inventory_settings

TOPOLOGY = {
    "datacenters": [
        {
            "name": "DC1",
            "folders": ["prod"],
            "networks": ["lab-net"],
            "datastores": ["ds1"],
            "hosts": ["esx-1"],
            "vms": [{"name": "web-1", "folder": "prod", "host": "esx-1", "nics": [{"ip": "127.0.10.11"}]}],
        }
    ]
}


@pytest.fixture
def vcsim_tls(tmp_path: Path) -> Iterator[Vcsim]:
    """vcsim serving HTTPS with a certificate from its own lab CA."""
    server = start_vcsim(TOPOLOGY, tmp_path / "vcsim", tls=True)
    try:
        yield server
    finally:
        server.stop()


def reader(vcsim: Vcsim, **options: object) -> tuple[VcenterSession, VcenterInventory]:
    params = ConnectionParams(
        vcsim.host, vcsim.port, vcsim.username, vcsim.password, protocol="https", timeout_s=10, **options
    )
    session = VcenterSession(params)
    return session, VcenterInventory(session)


def test_verification_is_on_by_default_so_an_unknown_ca_is_refused(vcsim_tls: Vcsim, tmp_path: Path) -> None:
    assert vcsim_tls.protocol == "https"
    for options in ({}, {"ca_file": str(make_lab_ca(tmp_path / "other-ca").ca_file)}):
        session, inventory = reader(vcsim_tls, **options)
        with pytest.raises(ServiceUnavailable, match="SSLCertVerificationError"):
            inventory.about()
        session.close()


def test_the_lab_ca_file_makes_the_verified_connection_work_for_every_call(vcsim_tls: Vcsim) -> None:
    assert vcsim_tls.tls is not None
    session, inventory = reader(vcsim_tls, ca_file=str(vcsim_tls.tls.ca_file))
    try:
        assert "vCenter" in inventory.about()
        snapshot = inventory.snapshot()  # the bulk reads use their own HTTPS connections
        assert [(vm.name, vm.ip) for vm in snapshot.vms] == [("web-1", "127.0.10.11")]
        assert [vm.name for vm in inventory.find_vms("web-1")] == ["web-1"]
    finally:
        session.close()


def test_insecure_connects_without_verifying_and_says_so_in_a_warning(vcsim_tls: Vcsim) -> None:
    with structlog.testing.capture_logs() as logs:
        session, inventory = reader(vcsim_tls, verify_tls=False)
    try:
        assert [vm.name for vm in inventory.snapshot().vms] == ["web-1"]
    finally:
        session.close()
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert any("TLS verification of vCenter is OFF" in entry["event"] for entry in warnings)


async def test_the_service_verifies_with_vcenter_ca_file_from_its_environment(
    vcsim_tls: Vcsim,
    nats_url: str,
    prefix: str,
    tmp_path: Path,
    client: Client,
    js_cleanup: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert vcsim_tls.tls is not None
    monkeypatch.setenv("VCENTER_CA_FILE", str(vcsim_tls.tls.ca_file))
    base = inventory_settings(vcsim_tls, nats_url, prefix, tmp_path / "state", vcenter_protocol="https")
    settings = InventorySettings(
        **base.model_dump(exclude={"vcenter_ca_file", "vcenter_password"}), vcenter_password=vcsim_tls.password
    )
    assert settings.vcenter_ca_file == str(vcsim_tls.tls.ca_file) and not settings.vcenter_insecure
    runtime = ServiceRuntime("inventory", settings)
    service = create_service(settings, runtime)
    await runtime.start()
    await runtime.bus.broker.start()
    try:
        await asyncio.wait_for(service.watcher.synced.wait(), 20)
        for _ in range(50):  # the responder's subscription may reach NATS after the sync
            try:
                reply = await client.ask(subjects.QUERY_INVENTORY_VMS, VmsQuery())
                break
            except OperationTimeout:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("the inventory service never answered")
        assert [vm.name for vm in reply.vms] == ["web-1"]
    finally:
        await runtime.bus.broker.stop()
        await runtime.stop()
