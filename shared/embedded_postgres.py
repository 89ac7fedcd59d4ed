"""An embedded PostgreSQL cluster, for a machine with no PostgreSQL server of its own.

Contract of ``start_embedded_postgres(state_dir)``:

* Binaries: Debian's ``postgresql`` package (``/usr/lib/postgresql/<version>/bin``, newest
  version first; a cluster made by another version is started by that version's binaries), or
  an ``initdb`` / ``pg_ctl`` / ``postgres`` found on ``PATH``. None: ``FileNotFoundError``.
* The cluster lives in ``state_dir/postgres`` (trust authentication, superuser ``postgres``).
  It is made by ``initdb`` the first time (in ``postgres.initdb``, renamed once complete) and
  reused afterwards; what an interrupted ``initdb`` left is removed and the cluster made again.
* The server listens on 127.0.0.1 only, on ``port`` or a free port; its unix socket is in the
  data directory (never ``/var/run``); its log is ``state_dir/logs/postgres.log``. The
  ``postmaster`` is a child of this process, so ``EmbeddedServer.stop`` stops it (SIGINT, the
  fast shutdown that does not wait for clients to disconnect) and reaps it.
* A ``postmaster.pid`` left by a killed run: a dead process's (or one reused by another program)
  is removed; a PostgreSQL still running on this directory (its working directory, read from
  ``/proc``) is stopped first (fast shutdown), as a second start takes the cluster over.
* Root: ``initdb`` and ``postgres`` refuse to run as root, so they run as the unprivileged
  ``postgres`` user (Debian's package creates it) and the data directory is made theirs; that
  user must be able to enter every parent directory (``PermissionError`` says which it cannot).
* Returns once the server accepts connections and database ``database`` (default ``test``)
  exists; the ``EmbeddedServer``'s URL names it (``postgresql+psycopg://postgres@127.0.0.1:PORT/test``).
  ``durable=False`` (tests) skips fsync: faster, and a crash may lose the cluster.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

from shared.embedded import EmbeddedServer, free_port

__all__ = ["postgres_bindir", "start_embedded_postgres"]

DEBIAN_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "postgres"
_TOOLS = ("initdb", "pg_ctl", "postgres")


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.name)) or (0,)


def postgres_bindir(version: str | None = None) -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``: Debian's for ``version``
    when given and installed, else Debian's newest, else the one on ``PATH``."""
    candidates = sorted((p for p in DEBIAN_ROOT.glob("*") if p.is_dir()), key=_version_key, reverse=True)
    if version:
        candidates.sort(key=lambda p: p.name != version)
    dirs = [p / "bin" for p in candidates]
    on_path = shutil.which("initdb")
    if on_path:
        dirs.append(Path(on_path).resolve().parent)
    for directory in dirs:
        if all((directory / tool).exists() for tool in _TOOLS):
            return directory
    raise FileNotFoundError("no PostgreSQL server binaries (initdb, postgres): run `make setup`")


def _owner() -> pwd.struct_passwd | None:
    """The account the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise FileNotFoundError(
            f"running as root, and there is no '{SUPERUSER}' user to run PostgreSQL as: run `make setup`"
        ) from None


def _check_reachable(path: Path, account: pwd.struct_passwd) -> None:
    """Raise ``PermissionError`` when ``account`` cannot enter a parent directory of ``path``."""
    groups = set(os.getgrouplist(account.pw_name, account.pw_gid))
    for parent in path.resolve().parents:
        st = parent.stat()
        if st.st_uid == account.pw_uid:
            bit = stat.S_IXUSR
        elif st.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            raise PermissionError(
                f"PostgreSQL runs as '{account.pw_name}', who cannot enter {parent}: "
                "use a state directory under a path that user can reach (e.g. /tmp)"
            )


def _make_theirs(path: Path, account: pwd.struct_passwd | None) -> None:
    if account is None:
        return
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)]:
            os.lchown(name, account.pw_uid, account.pw_gid)


def _as_owner(account: pwd.struct_passwd | None, cwd: Path) -> dict[str, Any]:
    """``subprocess`` arguments that run a PostgreSQL program as ``account`` (None: as ourselves)."""
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    options: dict[str, Any] = {"cwd": str(cwd), "env": env, "stdin": subprocess.DEVNULL}
    if account is not None:
        env.update(HOME=account.pw_dir, USER=account.pw_name, LOGNAME=account.pw_name)
        options.update(user=account.pw_uid, group=account.pw_gid, extra_groups=[])
    return options


def _run(argv: list[str], account: pwd.struct_passwd | None, cwd: Path, log: Path) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **_as_owner(account, cwd))
    with log.open("a") as out:
        out.write(result.stdout + result.stderr)
    if result.returncode != 0:
        raise RuntimeError(f"{Path(argv[0]).name} failed ({result.returncode}): {result.stderr.strip()[-800:]}")


def _initdb(bindir: Path, data: Path, account: pwd.struct_passwd | None, log: Path, durable: bool) -> None:
    """Make the cluster in ``<data>.initdb`` and rename it to ``data`` once initdb succeeded, so
    a killed initdb never leaves a half-made cluster where a later start would reuse it."""
    if (data / "PG_VERSION").exists():
        return
    making = data.with_name(data.name + ".initdb")
    for leftover in (data, making):  # what an interrupted run left
        if leftover.exists():
            shutil.rmtree(leftover)
    making.mkdir(parents=True, mode=0o700)
    _make_theirs(making, account)
    argv = [str(bindir / "initdb"), "-D", str(making), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8"]
    argv += ["--locale=C"] + ([] if durable else ["--no-sync"])
    _run(argv, account, making, log)
    making.rename(data)


def _serves(pid: int, data: Path) -> bool:
    """True when process ``pid`` runs with ``data`` as its working directory, as a postmaster on
    that cluster does (a PID reused by any other process, even another cluster's server, is not)."""
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")) == data
    except OSError:
        return False


def _clear_stale(bindir: Path, data: Path, account: pwd.struct_passwd | None, log: Path) -> None:
    """Handle a ``postmaster.pid`` a killed run left behind (module docstring)."""
    lock = data / "postmaster.pid"
    try:
        first = lock.read_text().split("\n", 1)[0].strip()
    except FileNotFoundError:
        return
    if first.isdigit() and _serves(int(first), data):
        _run([str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w", "-t", "30"], account, data, log)
    lock.unlink(missing_ok=True)


def _wait_ready(server: EmbeddedServer, admin_url: str, timeout: float) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            tail = server.log.read_text(errors="replace")[-1500:] if server.log.exists() else ""
            raise RuntimeError(f"PostgreSQL exited with {server.process.returncode} while starting:\n{tail}")
        try:
            with psycopg.connect(admin_url, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"PostgreSQL did not accept connections within {timeout} s") from None
            time.sleep(0.1)


def _ensure_database(admin_url: str, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def start_embedded_postgres(
    state_dir: Path,
    port: int | None = None,
    database: str = "test",
    durable: bool = True,
    timeout: float = 60.0,
) -> EmbeddedServer:
    """Start (making it the first time) the cluster under ``state_dir/postgres``; see the module
    docstring for the whole contract. The caller stops the returned server."""
    state_dir = Path(state_dir).resolve()
    data = state_dir / "postgres"
    log = state_dir / "logs" / "postgres.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    account = _owner()
    if account is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
        _check_reachable(data, account)
    version = (data / "PG_VERSION").read_text().strip() if (data / "PG_VERSION").exists() else None
    bindir = postgres_bindir(version)
    _initdb(bindir, data, account, log, durable)
    _make_theirs(data, account)
    _clear_stale(bindir, data, account, log)
    port = port or free_port()
    argv = [str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1", "-k", str(data)]
    if not durable:
        argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    with log.open("ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, **_as_owner(account, data))
    url = f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/{database}"
    server = EmbeddedServer("postgres", url, process, log, {"data_dir": str(data)}, stop_signal=signal.SIGINT)
    admin_url = f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"
    try:
        _wait_ready(server, admin_url, timeout)
        _ensure_database(admin_url, database)
    except BaseException:
        server.stop()
        raise
    return server
