"""The F5 driver keeps the PoolMembers contract against the F5 simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.loadbalancer.adapters.f5 import F5Pools
from services.loadbalancer.adapters.f5_session import F5Session
from tests.contracts.loadbalancer import PoolMembersContract
from tests.integration.loadbalancer.lb_support import RunningF5


class TestF5Pools(PoolMembersContract):
    @pytest.fixture
    def pool_name(self) -> str:
        return "web"

    @pytest.fixture
    def live_backend(self, backends) -> tuple[str, int]:
        return backends[0].endpoint

    @pytest.fixture
    def dead_backend(self, dead_endpoint) -> tuple[str, int]:
        return dead_endpoint

    @pytest.fixture
    async def driver(self, f5sim: RunningF5, f5_partition: str) -> AsyncIterator[F5Pools]:
        async with httpx.AsyncClient(timeout=5) as client:
            session = F5Session(client, [f5sim.active_url, f5sim.standby_url], "admin", f5sim.password, backoff_s=0.01)
            yield F5Pools(session, partition=f5_partition)
            await session.aclose()
