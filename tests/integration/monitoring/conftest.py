"""The monitoring lab for integration tests: real Prometheus, Alertmanager and sshd, the
Grafana simulator, and lab VM agents, all on loopback with free ports under a temp directory.

The stack is started once per session (about a second); each test uses its own job, group
and agent addresses so tests never see each other's state.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.config import LabConfig
from lab.monitoring import parts
from lab.runner import Lab
from shared.testing.servers import free_port
from tests.contracts.monitoring_lab import AgentFleet, MonitoringLab


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
