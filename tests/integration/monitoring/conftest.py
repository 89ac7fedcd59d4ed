"""The monitoring lab for integration tests: real Prometheus, Alertmanager and sshd, the
Grafana simulator, and lab VM agents, all on loopback with free ports under a temp directory.

The stack is started once per session (about a second); each test uses its own job, group
and agent addresses so tests never see each other's state.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from lab.config import LabConfig
from lab.monitoring import parts
from lab.runner import Lab
from services.monitoring.settings import MonitoringSettings
from services.monitoring.wiring import Monitoring, build_monitoring
from shared.embedded import free_port
from tests.contracts.monitoring_lab import AgentFleet, MonitoringLab, lab_settings


@pytest.fixture(scope="session")
def monitoring_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MonitoringLab]:
    """Prometheus, Alertmanager, sshd and the Grafana simulator for the whole session."""
    root = tmp_path_factory.mktemp("monitoring-lab").resolve()
    config = LabConfig(
        lab_dir=root,
        prometheus_port=free_port(),
        alertmanager_port=free_port(),
        grafana_port=free_port(),
        sshd_port=free_port(),
    )
    lab = Lab(root, parts(config))
    lab.up()
    try:
        yield MonitoringLab(config, lab)
    finally:
        lab.down()


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[AgentFleet]:
    """Lab VM agents of this test, stopped afterwards."""
    fleet = AgentFleet(tmp_path, [])
    try:
        yield fleet
    finally:
        fleet.stop_all()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the adapters under test."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


@pytest.fixture
def settings(monitoring_lab: MonitoringLab, tmp_path: Path) -> MonitoringSettings:
    """Monitoring settings for the lab, with this test's own state directory."""
    return lab_settings(monitoring_lab, tmp_path)


@pytest.fixture
def monitoring(settings: MonitoringSettings, http: httpx.AsyncClient) -> Monitoring:
    """The service's parts wired against the lab."""
    return build_monitoring(settings, http)


class Receiver:
    """A webhook receiver standing in for the gateway: records each POST's headers and body."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str], dict]] = []
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                calls.append((self.path, dict(self.headers), json.loads(body or b"{}")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """The test's webhook receiver."""
    hook = Receiver()
    try:
        yield hook
    finally:
        hook.close()
