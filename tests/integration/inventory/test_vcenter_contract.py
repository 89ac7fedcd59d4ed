"""The vCenter adapters keep the inventory contract against vcsim."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab.vcsim import Vcsim
from services.inventory.adapters.vcenter import VcenterProvisioner
from services.inventory.adapters.vcenter_session import ConnectionParams, VcenterSession
from services.inventory.adapters.vcenter_watch import VcenterInventory
from shared.embedded import free_port
from shared.errors import ServiceUnavailable, Unauthorized
from tests.contracts.inventory import InventoryContract, World


class TestVcenterAdapters(InventoryContract):
    @pytest.fixture
    def world(self, vcsim: Vcsim) -> Iterator[World]:
        session = VcenterSession(
            ConnectionParams(vcsim.host, vcsim.port, vcsim.username, vcsim.password, protocol="http", timeout_s=10)
        )
        try:
            yield World(VcenterInventory(session), VcenterProvisioner(session, poll_s=0.05))
        finally:
            session.close()


def test_the_health_ping_says_when_vcenter_is_unreachable_or_refuses_us(vcsim: Vcsim) -> None:
    closed = VcenterSession(ConnectionParams("127.0.0.1", free_port(), "u", "p", protocol="http", timeout_s=5))
    with pytest.raises(ServiceUnavailable):
        VcenterInventory(closed).ping()
    refused = VcenterSession(
        ConnectionParams(vcsim.host, vcsim.port, vcsim.username, "not-the-password", protocol="http", timeout_s=5)
    )
    with pytest.raises(Unauthorized):
        VcenterInventory(refused).ping()
