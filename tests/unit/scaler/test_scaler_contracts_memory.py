"""The store and lease contracts against the in-memory fakes."""

from __future__ import annotations

import pytest

from testkit.clock import FakeClock
from testkit.scaler.memory import MemoryLease
from testkit.scaler.memory_store import MemoryStore
from tests.contracts.scaler_lease import GroupLeaseContract
from tests.contracts.scaler_store import StoreContract


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
