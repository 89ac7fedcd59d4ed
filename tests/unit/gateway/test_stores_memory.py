"""The in-memory fakes keep the stores' contracts (the auth stores' and the notifications')."""

from __future__ import annotations

import pytest

from services.gateway.notify import NotifyStores
from testkit.gateway.memory import MemoryAuditLog, MemoryKeyStore, MemorySessionStore, MemoryStores, MemoryUserStore
from testkit.gateway.notify_memory import memory_notify_stores
from tests.contracts.gateway_notify import NotifyStoresContract
from tests.contracts.gateway_stores import GatewayStoresContract


class TestMemoryStores(GatewayStoresContract):
    @pytest.fixture
    def stores(self):
        state = MemoryStores()
        return MemoryUserStore(state), MemoryKeyStore(state), MemorySessionStore(state), MemoryAuditLog(state)


class TestMemoryNotifyStores(NotifyStoresContract):
    @pytest.fixture
    def notify_stores(self) -> NotifyStores:
        return memory_notify_stores()
