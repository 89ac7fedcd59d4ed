"""The HAProxy driver keeps the PoolMembers contract against real HAProxy."""

from __future__ import annotations

import pytest

from lab.loadbalancer import LAB_CHECK, LAB_POOL
from services.loadbalancer.adapters.haproxy import HAProxyPools
from services.loadbalancer.adapters.haproxy_config import ConfigFile
from services.loadbalancer.adapters.haproxy_runtime import RuntimeClient
from tests.contracts.loadbalancer import PoolMembersContract
from tests.integration.loadbalancer.lb_support import RunningHAProxy


class TestHAProxyPools(PoolMembersContract):
    @pytest.fixture
    def pool_name(self) -> str:
        return LAB_POOL

    @pytest.fixture
    def live_backend(self, backends) -> tuple[str, int]:
        return backends[0].endpoint

    @pytest.fixture
    def dead_backend(self, dead_endpoint) -> tuple[str, int]:
        return dead_endpoint

    @pytest.fixture
    def driver(self, haproxy: RunningHAProxy) -> HAProxyPools:
        return HAProxyPools(
            RuntimeClient(str(haproxy.paths.socket)), ConfigFile(haproxy.paths.config), check_options=LAB_CHECK
        )
