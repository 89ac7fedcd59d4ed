"""Every service's migrations run up and down, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from shared.db import downgrade, make_engine, upgrade
from shared.subjects import SERVICES


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _round_trip(url: str) -> None:
    for service in SERVICES:
        upgrade(service, url)
    after_up = _tables(url)
    for service in SERVICES:
        assert f"alembic_version_{service}" in after_up
    # only the scaler keeps an inbox; the other four were never read or written, and a migration dropped them
    assert {name for name in after_up if name.endswith("_inbox")} == {"scaler_inbox"}
    for service in SERVICES:
        upgrade(service, url)  # idempotent
        downgrade(service, url)
    leftover = {name for name in _tables(url) if not name.startswith("alembic_version_")}
    assert leftover == set()
    for service in SERVICES:
        upgrade(service, url)
    assert _tables(url) == after_up


def test_migrations_run_up_and_down_on_sqlite(tmp_path: Path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'vmscale.db'}")


def test_migrations_run_up_and_down_on_postgresql(postgres_database: str) -> None:
    _round_trip(postgres_database)
