"""The store and lease contracts against the in-memory fakes."""

from __future__ import annotations

import pytest
from scaler_lease import GroupLeaseContract
from scaler_store import StoreContract

from services.scaler.adapters.memory import MemoryLease, MemoryStore
from shared.testing.clock import FakeClock

pytestmark = pytest.mark.unit


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> MemoryStore:
        return MemoryStore(FakeClock())


class TestMemoryLease(GroupLeaseContract):
    @pytest.fixture
    def lease(self) -> MemoryLease:
        self.clock = FakeClock()
        return MemoryLease(self.clock)

    async def pass_time(self, seconds: float) -> None:
        self.clock.advance(seconds)
