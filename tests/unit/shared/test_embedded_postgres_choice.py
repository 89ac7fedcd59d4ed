"""Which PostgreSQL binaries the embedded cluster uses, and what the tests print of a named URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import embedded_postgres
from testkit.servers import redact_url

ROOT = Path(__file__).resolve().parents[3]


def _debian(tmp_path: Path, *versions: str) -> Path:
    for version in versions:
        bindir = tmp_path / version / "bin"
        bindir.mkdir(parents=True)
        for tool in ("initdb", "pg_ctl", "postgres"):
            (bindir / tool).write_text("")
    return tmp_path


def test_the_newest_installed_version_is_chosen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded_postgres, "DEBIAN_ROOT", _debian(tmp_path, "9.6", "16", "15"))
    assert embedded_postgres.postgres_bindir() == tmp_path / "16" / "bin"


def test_a_clusters_own_version_is_chosen_when_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded_postgres, "DEBIAN_ROOT", _debian(tmp_path, "15", "16"))
    assert embedded_postgres.postgres_bindir("15") == tmp_path / "15" / "bin"
    assert embedded_postgres.postgres_bindir("14") == tmp_path / "16" / "bin"


def test_a_version_without_a_server_is_passed_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _debian(tmp_path, "15")
    (root / "17" / "bin").mkdir(parents=True)  # only the client package of 17
    (root / "17" / "bin" / "psql").write_text("")
    monkeypatch.setattr(embedded_postgres, "DEBIAN_ROOT", root)
    assert embedded_postgres.postgres_bindir() == tmp_path / "15" / "bin"


def test_no_binaries_say_to_run_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded_postgres, "DEBIAN_ROOT", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="make setup"):
        embedded_postgres.postgres_bindir()


def test_make_setup_installs_debians_postgresql() -> None:
    lines = (ROOT / "scripts" / "apt-packages.txt").read_text().split()
    assert "postgresql" in lines


def test_a_password_in_a_named_url_is_never_printed() -> None:
    assert redact_url("postgresql+psycopg://app:hunter2@db:5432/x") == "postgresql+psycopg://app:***@db:5432/x"
    assert (
        redact_url("postgresql+psycopg://postgres@127.0.0.1:1/test") == "postgresql+psycopg://postgres@127.0.0.1:1/test"
    )
