"""The whole system in the lab: lab parts, the five services, and an API client.

Used by ``make run`` (the demo) and by the end-to-end tests. Everything binds loopback; ports
are the lab's defaults for the demo and free ports for tests, so both can run side by side.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx

from lab.config import CONFIG_ENV, LabConfig, lab_config_file
from lab.environment import admin_password_file, service_env
from lab.parts import all_parts
from lab.runner import Lab
from shared.embedded import free_port

__all__ = ["ApiClient", "Demo", "System", "admin_api_key", "free_lab_config", "readiness", "wait_until"]

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.25) -> T:
    """Poll ``predicate`` until it returns something truthy; raise with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (httpx.HTTPError, OSError, ValueError, KeyError) as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last  # type: ignore[no-any-return]
        time.sleep(interval)
    raise TimeoutError(f"{what}: not reached within {timeout:.0f} s (last: {last!r})")


def free_lab_config(lab_dir: Path, vm_network: str = "127.0.20.0/24") -> LabConfig:
    """A lab configuration on free ports (for tests running beside a demo)."""
    ports = {
        name: free_port()
        for name in (
            "vcsim_port",
            "prometheus_port",
            "alertmanager_port",
            "grafana_port",
            "haproxy_stats_port",
            "haproxy_frontend_port",
            "jenkins_port",
            "sshd_port",
            "agent_port",
            "app_port",
            "node_exporter_port",
        )
    }
    f5 = free_port()
    while not _free(f5 + 1):
        f5 = free_port()
    return replace(LabConfig(lab_dir=lab_dir, vm_network=vm_network, f5_port=f5), **ports)  # type: ignore[arg-type]


def _free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def admin_api_key(url: str, password_file: Path, purpose: str) -> str:
    """Log in as the initial admin and create an admin API key named after ``purpose``."""
    password = password_file.read_text().strip()
    with httpx.Client(base_url=url, timeout=30, trust_env=False) as http:
        login = http.post("/api/v1/auth/login", json={"username": "admin", "password": password})
        login.raise_for_status()
        csrf = http.cookies.get("vmscale_csrf") or login.json().get("csrf_token", "")
        created = http.post(
            "/api/v1/api-keys",
            json={"name": f"{purpose}-{int(time.time() * 1000)}", "role": "admin"},
            headers={"X-CSRF-Token": csrf},
        )
        created.raise_for_status()
        return str(created.json()["key"])


def readiness(url: str) -> dict[str, Any] | None:
    """The gateway's /readyz body when it says ready, else None."""
    response = httpx.get(f"{url}/readyz", timeout=3, trust_env=False)
    return response.json() if response.status_code == 200 else None


class ApiClient:
    """The gateway's REST API with an admin API key; raises on 4xx/5xx unless told not to."""

    def __init__(self, base_url: str, key: str) -> None:
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30.0, trust_env=False
        )

    def call(self, method: str, path: str, *, expect: int | tuple[int, ...] | None = None, **kwargs: Any) -> Any:
        """One request; the JSON body (or None)."""
        response = self.http.request(method, path, **kwargs)
        wanted = (expect,) if isinstance(expect, int) else expect
        if (wanted and response.status_code not in wanted) or (not wanted and response.status_code >= 400):
            raise AssertionError(f"{method} {path} → {response.status_code}: {response.text[:2000]}")
        return response.json() if response.content and "json" in response.headers.get("content-type", "") else None

    def get(self, path: str, **kwargs: Any) -> Any:
        """GET."""
        return self.call("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        """POST JSON."""
        return self.call("POST", path, json=body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        """PUT JSON."""
        return self.call("PUT", path, json=body, **kwargs)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()


@dataclass
class System:
    """The lab plus ``vmscale run all`` against it."""

    config: LabConfig
    state_dir: Path
    env: dict[str, str]
    gateway_port: int
    load_balancer: Literal["haproxy", "f5"] = "haproxy"
    lab: Lab = field(init=False)
    process: subprocess.Popen[bytes] | None = None
    api: ApiClient | None = None

    def __post_init__(self) -> None:
        self.lab = Lab(self.config.lab_dir, all_parts(self.config))

    @property
    def url(self) -> str:
        """The gateway's base URL."""
        return f"http://127.0.0.1:{self.gateway_port}"

    def services_env(self) -> dict[str, str]:
        """The environment the services run with."""
        env = {**os.environ, **self.env}
        env.update(service_env(self.config, gateway_url=self.url, load_balancer=self.load_balancer))
        return env

    def start(self) -> None:
        """Start the lab, then the services; wait until /readyz says ready; get an API key."""
        self.lab.up()
        self.start_services()
        self.api = ApiClient(self.url, self._admin_key())

    def start_services(self) -> None:
        """``vmscale run all`` as a child process (its own process group)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = (self.state_dir / "supervisor.log").open("ab")
        argv = [
            sys.executable,
            "-m",
            "cli",
            "run",
            "all",
            "--state-dir",
            str(self.state_dir),
            "--gateway-port",
            str(self.gateway_port),
            "--metrics-base-port",
            "0",
        ]
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=self.services_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_until(self.ready, 120, "every service ready")

    def ready(self) -> dict[str, Any] | None:
        """The /readyz body when ready."""
        return readiness(self.url)

    def _admin_key(self) -> str:
        return admin_api_key(self.url, admin_password_file(self.config), "e2e")

    def pids(self) -> dict[str, int]:
        """PIDs of the running services."""
        state = json.loads((self.state_dir / "run.json").read_text())
        return {name: pid for name, pid in state["children"].items() if pid}

    def stop_services(self) -> None:
        """SIGTERM the supervisor and wait."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def stop(self) -> None:
        """Stop services and lab."""
        if self.api is not None:
            self.api.close()
        self.stop_services()
        self.lab.down()

    def with_load_balancer(self, load_balancer: Literal["haproxy", "f5"]) -> System:
        """A copy of this system's description using another load balancer."""
        return replace(self, load_balancer=load_balancer)


@dataclass
class Demo(System):
    """``make run`` itself (``vmscale run all --demo``) on this config's ports: the command
    starts the lab, embedded NATS and Redis and one SQLite file per service under the state
    directory, and creates the demo group. ``env`` is laid over ours; NATS, Redis and database
    URLs are left out, as on a newcomer's machine. Stopped as Ctrl-C stops it: SIGINT to the
    command's process group (the lab parts run in groups of their own and are stopped by it)."""

    def start(self) -> None:
        """Run the demo command; wait until /readyz says ready; get an API key."""
        self.start_services()
        self.api = ApiClient(self.url, self._admin_key())

    def start_services(self) -> None:
        """``vmscale run all --demo`` as a child process in its own process group."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        settings = lab_config_file(self.config, self.state_dir.parent / "demo-lab.json")
        env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "REDIS_URL", "DATABASE_URL")}
        env.update({**self.env, CONFIG_ENV: str(settings)})
        log = (self.state_dir.parent / "demo.log").open("ab")
        argv = [sys.executable, "-m", "cli", "run", "all", "--demo", "--state-dir", str(self.state_dir)]
        argv += ["--gateway-port", str(self.gateway_port), "--metrics-base-port", "0"]
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_until(self.ready, 180, "the demo ready")

    def stop_services(self) -> None:
        """Ctrl-C: SIGINT to the command and its services; SIGKILL after 30 s."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
