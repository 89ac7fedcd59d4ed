"""Operation claims in SQLite and PostgreSQL keep the contract (the migration creates the table)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.inventory.adapters.sql_claims import SqlOperationClaims
from services.inventory.claims import OperationClaims
from shared.db import make_engine, upgrade
from tests.contracts.inventory_claims import OperationClaimsContract


class TestSqliteOperationClaims(OperationClaimsContract):
    @pytest.fixture
    def claims(self, tmp_path: Path) -> Iterator[OperationClaims]:
        url = f"sqlite:///{tmp_path / 'inventory.db'}"
        upgrade("inventory", url)
        engine = make_engine(url)
        yield SqlOperationClaims(engine)
        engine.dispose()


class TestPostgresOperationClaims(OperationClaimsContract):
    @pytest.fixture
    def claims(self, postgres_database: str) -> Iterator[OperationClaims]:
        upgrade("inventory", postgres_database)
        engine = make_engine(postgres_database)
        yield SqlOperationClaims(engine)
        engine.dispose()
