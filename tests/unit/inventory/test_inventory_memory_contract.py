"""The in-memory vCenter keeps the same contract as the real adapters."""

from __future__ import annotations

import pytest
from contracts.inventory import InventoryContract, World
from memory_world import seeded_vcenter

pytestmark = pytest.mark.unit


class TestMemoryVcenter(InventoryContract):
    @pytest.fixture
    def world(self) -> World:
        vcenter = seeded_vcenter()
        return World(vcenter, vcenter)
