"""The in-memory fakes keep the stores' contract."""

from __future__ import annotations

import pytest
from contracts.gateway_stores import GatewayStoresContract

from services.gateway.adapters.memory import (
    MemoryAuditLog,
    MemoryKeyStore,
    MemorySessionStore,
    MemoryStores,
    MemoryUserStore,
)

pytestmark = pytest.mark.unit


class TestMemoryStores(GatewayStoresContract):
    @pytest.fixture
    def stores(self):
        state = MemoryStores()
        return MemoryUserStore(state), MemoryKeyStore(state), MemorySessionStore(state), MemoryAuditLog(state)
