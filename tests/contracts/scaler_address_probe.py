"""The contract of the scaler's ``AddressProbe`` port, run on the fake and on TCP (rule 12)."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from services.scaler.ports import AddressProbe

TAKEN = IPv4Address("127.0.66.10")
SILENT = (IPv4Address("127.0.66.11"), IPv4Address("127.0.66.12"))


class AddressProbeContract:
    """Subclasses provide ``probe``: an AddressProbe for which exactly ``TAKEN`` answers."""

    @pytest.fixture
    def probe(self) -> AddressProbe:
        raise NotImplementedError

    async def test_only_the_answering_address_is_in_use(self, probe: AddressProbe) -> None:
        assert await probe.in_use([*SILENT, TAKEN]) == {TAKEN}

    async def test_silent_addresses_and_an_empty_list_are_free(self, probe: AddressProbe) -> None:
        assert await probe.in_use(list(SILENT)) == set()
        assert await probe.in_use([]) == set()
