"""The in-memory operation claims keep the contract of the SQL ones."""

from __future__ import annotations

import pytest

from services.inventory.claims import OperationClaims
from testkit.inventory.memory import MemoryOperationClaims
from tests.contracts.inventory_claims import OperationClaimsContract


class TestMemoryOperationClaims(OperationClaimsContract):
    @pytest.fixture
    def claims(self) -> OperationClaims:
        return MemoryOperationClaims()
