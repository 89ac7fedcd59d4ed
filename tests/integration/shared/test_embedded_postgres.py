"""The embedded PostgreSQL (``shared.embedded_postgres``) and how the tests choose their server
(``testkit.servers.postgres_server``), on this machine's Debian ``postgresql`` binaries.

The embedded server is started directly on a directory of the test's own, whatever answers on
127.0.0.1:5432, so these tests prove the path a machine without a PostgreSQL server takes.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import inspect

from shared.db import make_engine, upgrade
from shared.embedded import port_open
from shared.embedded_postgres import _check_reachable, postgres_bindir, start_embedded_postgres
from testkit import servers
from testkit.servers import PostgresUnavailable, postgres_server


@pytest.fixture
def home() -> Iterator[Path]:
    """A state directory the server's account can enter (pytest's own are 0700, root's)."""
    path = Path(tempfile.mkdtemp(prefix="vmscale-pgtest-"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def _scalar(url: str, query: str) -> object:
    with psycopg.connect(_plain(url)) as conn:
        row = conn.execute(query).fetchone()
        assert row is not None
        return row[0]


def test_starts_runs_migrations_and_stops(home: Path) -> None:
    server = start_embedded_postgres(home, durable=False)
    try:
        assert server.url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
        assert _port(server.url) != 5432
        assert _scalar(server.url, "SELECT current_database()") == "test"
        upgrade("scaler", server.url)
        engine = make_engine(server.url)
        try:
            tables = set(inspect(engine).get_table_names())
        finally:
            engine.dispose()
        assert "alembic_version_scaler" in tables and "scaler_inbox" in tables
        data = home / "postgres"
        assert (data / f".s.PGSQL.{_port(server.url)}").exists()  # the socket is in the data dir
        expected_owner = pwd.getpwnam("postgres").pw_uid if os.geteuid() == 0 else os.geteuid()
        assert data.stat().st_uid == expected_owner
    finally:
        server.stop(timeout=30)
    assert server.process.returncode == 0  # a clean fast shutdown, not a kill
    assert not port_open("127.0.0.1", _port(server.url))
    assert not (home / "postgres" / "postmaster.pid").exists()


def test_a_second_start_reuses_the_cluster(home: Path) -> None:
    first = start_embedded_postgres(home, durable=False)
    try:
        with psycopg.connect(_plain(first.url), autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (n int)")
            conn.execute("INSERT INTO kept VALUES (7)")
    finally:
        first.stop(timeout=30)
    second = start_embedded_postgres(home, durable=False)
    try:
        assert _scalar(second.url, "SELECT n FROM kept") == 7
    finally:
        second.stop(timeout=30)


def test_a_killed_servers_pid_file_is_handled(home: Path) -> None:
    first = start_embedded_postgres(home, durable=False)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    assert (home / "postgres" / "postmaster.pid").exists()
    second = start_embedded_postgres(home, durable=False)
    try:
        assert _scalar(second.url, "SELECT 1") == 1
    finally:
        second.stop(timeout=30)


def test_a_pid_file_naming_another_process_is_removed(home: Path) -> None:
    start_embedded_postgres(home, durable=False).stop(timeout=30)
    # the server's own account: PostgreSQL itself would take a pid it may not signal for stale
    account = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
    other = subprocess.Popen(["sleep", "60"], user=account.pw_uid if account else None)
    try:
        (home / "postgres" / "postmaster.pid").write_text(f"{other.pid}\n{home / 'postgres'}\n")
        server = start_embedded_postgres(home, durable=False)
        try:
            assert _scalar(server.url, "SELECT 1") == 1
        finally:
            server.stop(timeout=30)
        assert other.poll() is None  # the unrelated process was left alone
    finally:
        other.kill()
        other.wait()


def test_a_server_left_running_on_the_cluster_is_taken_over(home: Path) -> None:
    orphan = start_embedded_postgres(home, durable=False)  # a run killed before it stopped it
    try:
        server = start_embedded_postgres(home, durable=False)
        try:
            assert orphan.process.wait(30) == 0
            assert _scalar(server.url, "SELECT 1") == 1
        finally:
            server.stop(timeout=30)
    finally:
        orphan.stop()


def test_an_interrupted_initdb_is_made_again(home: Path) -> None:
    for leftover in ("postgres", "postgres.initdb"):
        (home / leftover).mkdir()
        (home / leftover / "half-written").write_text("x")
    (home / "postgres.initdb" / "PG_VERSION").write_text("15\n")  # initdb writes it before it is done
    server = start_embedded_postgres(home, durable=False)
    try:
        assert not (home / "postgres" / "half-written").exists()
        assert not (home / "postgres.initdb").exists()
        assert (home / "postgres" / "PG_VERSION").read_text().strip() == postgres_bindir().parent.name
    finally:
        server.stop(timeout=30)


def test_a_directory_the_account_cannot_enter_is_refused(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    (closed / "state").mkdir(parents=True)
    closed.chmod(0o700)
    with pytest.raises(PermissionError, match=f"cannot enter {closed}"):
        _check_reachable(closed / "state" / "postgres", pwd.getpwnam("nobody"))


def test_embedded_mode_skips_the_default_server_and_cleans_up() -> None:
    with postgres_server({"VMSCALE_TEST_POSTGRES": "embedded"}) as url:
        assert _port(url) != 5432
        assert _scalar(url, "SELECT current_database()") == "test"
        data_dir = _scalar(url, "SHOW data_directory")
    assert not port_open("127.0.0.1", _port(url))
    assert not Path(str(data_dir)).exists()


def test_a_named_server_that_does_not_answer_fails_with_its_url_redacted() -> None:
    named = "postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:1/test"
    with pytest.raises(PostgresUnavailable) as caught, postgres_server({"TEST_POSTGRES_URL": named}):
        pass
    message = str(caught.value)
    assert "TEST_POSTGRES_URL=postgresql+psycopg://postgres:***@127.0.0.1:1/test does not answer" in message
    assert "s3cret-pw" not in message


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="'embedded' or unset"), postgres_server({"VMSCALE_TEST_POSTGRES": "yes"}):
        pass


def test_a_named_server_that_answers_is_used_as_named(home: Path) -> None:
    server = start_embedded_postgres(home, durable=False)
    try:
        with postgres_server({"TEST_POSTGRES_URL": server.url, "VMSCALE_TEST_POSTGRES": "embedded"}) as url:
            assert url == server.url
    finally:
        server.stop(timeout=30)


def test_nothing_answering_on_the_default_port_means_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servers, "DEFAULT_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:1/test")
    with postgres_server({}) as url:
        assert _port(url) not in (1, 5432)
        assert _scalar(url, "SELECT current_database()") == "test"


def test_a_default_server_that_refuses_the_session_means_embedded(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = start_embedded_postgres(home, durable=False)  # answers, but has no database 'nope'
    try:
        monkeypatch.setattr(servers, "DEFAULT_POSTGRES", other.url.rsplit("/", 1)[0] + "/nope")
        with postgres_server({}) as url:
            assert _port(url) != _port(other.url)
            assert _scalar(url, "SELECT 1") == 1
    finally:
        other.stop(timeout=30)
