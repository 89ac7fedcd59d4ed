"""Scaler integration fixtures: a PostgreSQL database of its own, Redis key prefixes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from testkit.servers import fresh_database


@pytest.fixture(scope="session")
def scaler_db_url(postgres_url: str) -> Iterator[str]:
    """A fresh database for the scaler's integration tests, migrated to head, dropped after."""
    from shared.db import upgrade

    with fresh_database(postgres_url, "scaler") as url:
        upgrade("scaler", url)
        yield url


@pytest.fixture
def clean_db(scaler_db_url: str) -> str:
    """The scaler database with every scaler table emptied."""
    from sqlalchemy import text

    from services.scaler.adapters import tables
    from shared.db import make_engine

    engine = make_engine(scaler_db_url)
    with engine.begin() as conn:
        names = ", ".join(table.name for table in tables.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names}"))
    engine.dispose()
    return scaler_db_url


@pytest.fixture
def redis_prefix() -> str:
    """A Redis key prefix of this test's own."""
    return f"test:{uuid.uuid4().hex[:10]}:"
