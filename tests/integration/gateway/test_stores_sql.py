"""The SQL adapters keep the stores' contract on PostgreSQL."""

from __future__ import annotations

import pytest

from services.gateway.adapters.sql_auth import SqlAuditLog, SqlKeyStore, SqlSessionStore, SqlUserStore
from shared.db import make_engine, upgrade
from tests.contracts.gateway_stores import GatewayStoresContract


class TestSqlStores(GatewayStoresContract):
    @pytest.fixture
    def stores(self, postgres_database: str):
        upgrade("gateway", postgres_database)
        engine = make_engine(postgres_database)
        yield SqlUserStore(engine), SqlKeyStore(engine), SqlSessionStore(engine), SqlAuditLog(engine)
        engine.dispose()
