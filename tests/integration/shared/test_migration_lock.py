"""Replicas that start together migrate one PostgreSQL database without tripping over each other."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import inspect

from shared.db import make_engine

REPLICAS = 4
MIGRATE = "import sys; from shared.db import upgrade; upgrade(sys.argv[1], sys.argv[2])"


@pytest.mark.parametrize("service", ["scaler", "gateway"])
def test_replicas_migrating_one_database_at_once_all_start(postgres_database: str, service: str) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE, service, postgres_database],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(REPLICAS)
    ]
    outcomes = [(process.wait(timeout=120), process.stderr.read() if process.stderr else "") for process in processes]
    failed = [err.strip().splitlines()[-1:] for code, err in outcomes if code != 0]
    assert failed == []
    engine = make_engine(postgres_database)
    try:
        assert f"alembic_version_{service}" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
