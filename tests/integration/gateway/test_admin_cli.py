"""``python -m services.gateway.admin create`` adds a user whose password works at login."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from services.gateway.adapters.sql_auth import SqlUserStore
from services.gateway.auth.model import Role
from services.gateway.auth.secrets import verify_password
from shared.db import make_engine


def run(database: str, tmp_path: Path, *args: str, password: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database, "STATE_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "services.gateway.admin", "create", *args],
        input=password + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_a_user_is_created_from_stdin_and_a_duplicate_is_refused(postgres_database: str, tmp_path: Path) -> None:
    password = "a long admin password 1"
    first = run(postgres_database, tmp_path, "root", "--role", "admin", password=password)
    assert first.returncode == 0, first.stderr
    assert password not in first.stdout + first.stderr
    engine = make_engine(postgres_database)
    user = SqlUserStore(engine).by_name("root")
    engine.dispose()
    assert user is not None and user.role is Role.ADMIN and verify_password(password, user.password_hash)
    again = run(postgres_database, tmp_path, "root", password=password)
    assert again.returncode == 1 and "exists" in again.stderr
    short = run(postgres_database, tmp_path, "other", password="short")
    assert short.returncode == 1
