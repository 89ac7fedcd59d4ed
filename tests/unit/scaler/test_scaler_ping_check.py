"""IP pools with ``ping_check``: an address that answers is skipped, recorded, never leased."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from testkit.scaler.memory import MemoryAddressProbe
from tests.contracts.scaler_address_probe import TAKEN, AddressProbeContract
from tests.unit.scaler.scaler_harness import Harness

RANGE = {"ranges": [{"start": "127.0.10.10", "end": "127.0.10.12"}], "ping_check": True}


async def test_an_address_that_answers_is_skipped_and_recorded_with_the_decision() -> None:
    probe = MemoryAddressProbe({IPv4Address("127.0.10.10")})
    h = Harness(addresses=probe)
    await h.setup(pool=RANGE)
    decision = await h.fire()
    assert decision.allowed and decision.observed["ip_in_use"] == ["127.0.10.10"]
    assert [str(x.address) for x in await h.leases()] == ["127.0.10.11"]
    assert probe.probed == [IPv4Address("127.0.10.10"), IPv4Address("127.0.10.11")]
    assert (await h.activities())[0].status == "succeeded"


async def test_when_every_free_address_answers_the_scale_out_is_blocked_as_pool_exhausted() -> None:
    probe = MemoryAddressProbe({IPv4Address(f"127.0.10.{n}") for n in (10, 11, 12)})
    h = Harness(addresses=probe)
    await h.setup(pool=RANGE)
    decision = await h.fire()
    assert not decision.allowed and decision.reason == "ip_pool_exhausted"
    assert decision.observed["ip_in_use"] == ["127.0.10.10", "127.0.10.11", "127.0.10.12"]
    assert await h.leases() == [] and await h.activities() == []


async def test_pools_without_ping_check_and_scale_in_alerts_probe_nothing() -> None:
    probe = MemoryAddressProbe({IPv4Address("127.0.10.10")})
    h = Harness(addresses=probe)
    await h.setup(pool={"ranges": RANGE["ranges"]})
    decision = await h.fire()
    assert decision.allowed and "ip_in_use" not in decision.observed
    assert [str(x.address) for x in await h.leases()] == ["127.0.10.10"] and probe.probed == []
    h2 = Harness(addresses=probe)
    await h2.setup(pool=RANGE, base=3, min_size=1)
    h2.metrics.set("web", cpu=5, memory=5)
    await h2.fire(direction="in")
    assert probe.probed == []


class TestMemoryAddressProbe(AddressProbeContract):
    @pytest.fixture
    def probe(self) -> MemoryAddressProbe:
        return MemoryAddressProbe({TAKEN})
