"""Singleton leases in SQLite and PostgreSQL keep the contract (each service's migration creates its table)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.inventory.adapters.tables import leases as inventory_leases
from services.loadbalancer.adapters.tables import leases as loadbalancer_leases
from services.scaler.adapters.tables import leases as scaler_leases
from shared.db import make_engine, upgrade
from shared.singleton import Leases
from shared.singleton_sql import SqlLeases
from testkit.clock import FakeClock
from tests.contracts.singleton import LeasesContract

TABLES = {"inventory": inventory_leases, "loadbalancer": loadbalancer_leases, "scaler": scaler_leases}


class TestSqliteLeases(LeasesContract):
    @pytest.fixture(params=sorted(TABLES))
    def leases(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Leases, FakeClock]]:
        url = f"sqlite:///{tmp_path / 'leases.db'}"
        upgrade(request.param, url)
        engine = make_engine(url)
        clock = FakeClock()
        yield SqlLeases(engine, TABLES[request.param], clock), clock
        engine.dispose()


class TestPostgresLeases(LeasesContract):
    @pytest.fixture(params=sorted(TABLES))
    def leases(self, request: pytest.FixtureRequest, postgres_database: str) -> Iterator[tuple[Leases, FakeClock]]:
        upgrade(request.param, postgres_database)
        engine = make_engine(postgres_database)
        clock = FakeClock()
        yield SqlLeases(engine, TABLES[request.param], clock), clock
        engine.dispose()
