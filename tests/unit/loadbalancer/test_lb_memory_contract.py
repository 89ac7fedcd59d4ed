"""The in-memory fake keeps the PoolMembers contract."""

from __future__ import annotations

import pytest

from shared.messages import MemberHealth, VirtualServerInfo
from testkit.loadbalancer.memory import InMemoryPools
from tests.contracts.loadbalancer import PoolMembersContract

LIVE = ("127.0.10.11", 8080)
DEAD = ("127.0.10.12", 8080)


class TestInMemoryPools(PoolMembersContract):
    @pytest.fixture
    def pool_name(self) -> str:
        return "web"

    @pytest.fixture
    def live_backend(self) -> tuple[str, int]:
        return LIVE

    @pytest.fixture
    def dead_backend(self) -> tuple[str, int]:
        return DEAD

    @pytest.fixture
    def driver(self, pool_name: str) -> InMemoryPools:
        return InMemoryPools(
            [pool_name],
            [VirtualServerInfo(name="vs", address="127.0.0.1", port=80, pool=pool_name)],
            health=lambda address, port: MemberHealth.DOWN if (address, port) == DEAD else MemberHealth.UP,
        )
