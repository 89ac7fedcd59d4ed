"""The in-memory vCenter keeps the same contract as the real adapters."""

from __future__ import annotations

import pytest

from tests.contracts.inventory import InventoryContract, World
from tests.unit.inventory.memory_world import seeded_vcenter


class TestMemoryVcenter(InventoryContract):
    @pytest.fixture
    def world(self) -> World:
        vcenter = seeded_vcenter()
        return World(vcenter, vcenter)
