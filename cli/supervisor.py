"""``vmscale run all``: the five services as child processes, restarted when they die.

* Servers: with ``NATS_URL`` / ``REDIS_URL`` unset, an embedded NATS (JetStream) and Redis are
  started under the state directory and stopped on exit; ``DATABASE_URL`` unset means one SQLite
  file per service under the state directory.
* A child that exits is restarted with exponential back-off (1 s doubling to 30 s; the back-off
  resets once a child has run for 30 s).
* SIGTERM or SIGINT stops every child (SIGTERM, then SIGKILL after ``stop_grace_s``) and the
  embedded servers; the whole stop takes well under 10 s.
* Metrics ports: each service's default, ``metrics_base_port + index`` when given, or free
  ports when it is 0 (tests).
* ``<state_dir>/run.json`` lists the children's PIDs and the URLs in use.
* Logs: each child's output goes to ``<state_dir>/logs/<service>.log``, rotated by size
  (``log_max_bytes``, ``log_keep`` files kept; ``cli.logfiles``).
* ``SCRAPE_TARGETS_FILE`` set: each service's metrics address is written there as a Prometheus
  ``file_sd`` file (job ``vmscale-self``, a ``service`` label), rewritten when a restart moves a
  port, so vmscale's own alert rules and dashboard (``shared.observability``) see every service.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cli.logfiles import RotatingLog, pump
from shared.embedded import EmbeddedServer, free_port, start_embedded_nats, start_embedded_redis
from shared.observability import scrape_targets
from shared.subjects import SERVICES

__all__ = ["Child", "Supervisor"]

_DEFAULT_METRICS_PORTS = {"inventory": 9411, "monitoring": 9412, "scaler": 9413, "loadbalancer": 9414}
"""Each service's own ``metrics_port`` default (used when ``metrics_base_port`` is not given)."""

BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 30.0
HEALTHY_RUN_S = 30.0


@dataclass
class Child:
    """One supervised service process."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff_s: float = BACKOFF_START_S
    restart_at: float | None = None
    restarts: int = 0
    log_max_bytes: int = 10 * 1024 * 1024
    log_keep: int = 5

    def start(self) -> None:
        """Spawn the process; its output goes to its log, rotated by size (``cli.logfiles``)."""
        log = RotatingLog(self.log, self.log_max_bytes, self.log_keep)
        read_end, write_end = os.pipe()
        try:
            self.process = subprocess.Popen(
                self.argv, env=self.env, stdout=write_end, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        except OSError:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        pump(read_end, log)
        self.started_at = time.monotonic()
        self.restart_at = None

    @property
    def pid(self) -> int | None:
        """The PID while the process runs."""
        return self.process.pid if self.process and self.process.poll() is None else None


@dataclass
class Supervisor:
    """Starts servers and services, keeps them running, stops everything on a signal."""

    state_dir: Path
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    services: Sequence[str] = SERVICES
    gateway_port: int = 6010
    metrics_base_port: int | None = None
    stop_grace_s: float = 7.0
    log_max_bytes: int = 10 * 1024 * 1024
    log_keep: int = 5
    on_ready: Callable[[Supervisor], None] | None = None
    children: list[Child] = field(default_factory=list)
    servers: list[EmbeddedServer] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    _stopping: bool = False

    def _resolve_servers(self) -> None:
        nats_url = self.env.get("NATS_URL")
        if not nats_url:
            server = start_embedded_nats(self.state_dir)
            self.servers.append(server)
            nats_url = server.url
        redis_url = self.env.get("REDIS_URL")
        if not redis_url:
            server = start_embedded_redis(self.state_dir)
            self.servers.append(server)
            redis_url = server.url
        self.urls = {"NATS_URL": nats_url, "REDIS_URL": redis_url}
        if self.env.get("DATABASE_URL"):
            self.urls["DATABASE_URL"] = self.env["DATABASE_URL"]

    def _child_env(self, service: str) -> dict[str, str]:
        env = dict(self.env)
        env.update(self.urls)
        env["STATE_DIR"] = str(self.state_dir)
        env["SERVICE_NAME"] = service
        env.setdefault("PYTHONUNBUFFERED", "1")
        if self.metrics_base_port is not None:
            offset = list(SERVICES).index(service)
            port = free_port() if self.metrics_base_port == 0 else self.metrics_base_port + offset
            env["METRICS_PORT"] = str(port)
        # every service: the gateway listens there, the scaler derives its webhook URL from it;
        # the original's names for it were read (or overridden) when the port was chosen
        env["HTTP_PORT"] = str(self.gateway_port)
        for name in ("VM_AUTOSCALING_BACKEND_PORT", "PORT"):
            env.pop(name, None)
        return env

    def metrics_addresses(self) -> dict[str, str]:
        """``service → host:port`` of each child's /metrics (the gateway serves it on its HTTP port)."""
        out: dict[str, str] = {}
        for child in self.children:
            if child.name == "gateway":
                out[child.name] = f"127.0.0.1:{self.gateway_port}"
            else:
                port = child.env.get("METRICS_PORT") or str(_DEFAULT_METRICS_PORTS.get(child.name, ""))
                if port and port != "0":
                    out[child.name] = f"127.0.0.1:{port}"
        return out

    def write_targets(self) -> None:
        """Write ``metrics_addresses`` as a ``file_sd`` file to ``SCRAPE_TARGETS_FILE`` (when set),
        atomically, so Prometheus never reads half a file."""
        path = self.env.get("SCRAPE_TARGETS_FILE")
        if not path:
            return
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(target.suffix + ".tmp")
        partial.write_text(json.dumps(scrape_targets(self.metrics_addresses()), indent=2))
        partial.replace(target)

    def _write_state(self) -> None:
        state = {
            "supervisor_pid": os.getpid(),
            "gateway_url": f"http://127.0.0.1:{self.gateway_port}",
            "urls": self.urls,
            "children": {child.name: child.pid for child in self.children},
            "servers": {server.name: server.process.pid for server in self.servers},
        }
        (self.state_dir / "run.json").write_text(json.dumps(state, indent=2))
        self.write_targets()

    def start(self) -> None:
        """Start servers and every service."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._resolve_servers()
        for service in self.services:
            child = Child(
                name=service,
                argv=[sys.executable, "-m", f"services.{service}"],
                env=self._child_env(service),
                log=self.state_dir / "logs" / f"{service}.log",
                log_max_bytes=self.log_max_bytes,
                log_keep=self.log_keep,
            )
            child.start()
            self.children.append(child)
        self._write_state()

    def poll(self) -> None:
        """Restart children that died, honouring their back-off."""
        now = time.monotonic()
        changed = False
        for child in self.children:
            if child.process is None or child.process.poll() is None:
                if child.process is not None and now - child.started_at > HEALTHY_RUN_S:
                    child.backoff_s = BACKOFF_START_S
                continue
            if child.restart_at is None:
                child.restart_at = now + child.backoff_s
                print(
                    f"vmscale: {child.name} exited with {child.process.returncode}; "
                    f"restarting in {child.backoff_s:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
            elif now >= child.restart_at:
                child.backoff_s = min(child.backoff_s * 2, BACKOFF_MAX_S)
                child.restarts += 1
                if self.metrics_base_port == 0:  # a free port picked at start may be taken by now
                    child.env["METRICS_PORT"] = str(free_port())
                child.start()
                changed = True
        if changed:
            self._write_state()

    def stop(self) -> None:
        """Stop every child, then the embedded servers."""
        self._stopping = True
        for child in self.children:
            if child.process and child.process.poll() is None:
                child.process.terminate()
        deadline = time.monotonic() + self.stop_grace_s
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        for server in reversed(self.servers):
            server.stop(timeout=2.0)
        (self.state_dir / "run.json").unlink(missing_ok=True)

    def run(self) -> int:
        """Start, supervise until SIGTERM/SIGINT, stop; returns the exit code."""
        received: list[int] = []

        def handle(signum: int, _: object) -> None:
            received.append(signum)

        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            if self.on_ready is not None:
                self.on_ready(self)
            while not received:
                self.poll()
                time.sleep(0.2)
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0
