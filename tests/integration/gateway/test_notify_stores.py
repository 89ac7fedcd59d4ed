"""The notifications' shared stores keep their contract on Redis and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.gateway.notify import NotifyStores
from tests.contracts.gateway_notify import NotifyStoresContract
from tests.integration.gateway.notify_support import shared_notify_stores


class TestSharedNotifyStores(NotifyStoresContract):
    @pytest.fixture
    async def notify_stores(
        self, redis_url: str, redis_prefix: str, postgres_database: str
    ) -> AsyncIterator[NotifyStores]:
        async with shared_notify_stores(redis_url, f"{redis_prefix}gateway", postgres_database) as stores:
            yield stores
