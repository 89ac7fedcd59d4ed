"""asyncssh against the lab's OpenSSH server honours the SSH ports' contract (as the fake does)."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from services.monitoring.adapters.ssh import AsyncsshConnector
from services.monitoring.ports import HostConnector
from shared.embedded import free_port
from tests.contracts.monitoring_lab import MonitoringLab
from tests.contracts.monitoring_ssh import HostConnectorContract


class TestAsyncsshConnector(HostConnectorContract):
    @pytest.fixture(autouse=True)
    def lab(self, monitoring_lab: MonitoringLab, tmp_path: Path) -> None:
        self.the_lab = monitoring_lab
        self.dir = tmp_path
        self.port = monitoring_lab.config.sshd_port
        self.closed_port = free_port()

    @pytest.fixture
    def scratch(self, tmp_path: Path) -> PurePosixPath:
        (tmp_path / "scratch").mkdir()
        return PurePosixPath(tmp_path / "scratch")

    def connector(self, **options: Any) -> HostConnector:
        key = self.the_lab.sshd.user_key
        if options.pop("wrong_key", False):
            key = self.dir / "wrong_key"
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        return AsyncsshConnector(
            user=self.the_lab.sshd.user,
            key_file=key,
            known_hosts=self.dir / "known_hosts",
            port=self.port,
            connect_timeout=5.0,
            **options,
        )

    def forge_recorded_key(self, connector: HostConnector) -> None:
        assert isinstance(connector, AsyncsshConnector)
        other = self.dir / f"other_host_key_{uuid.uuid4().hex[:8]}"  # a new key each time
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
        algorithm, blob = Path(f"{other}.pub").read_text().split()[:2]
        connector.known_hosts.write_text(f"[{self.address}]:{self.port} {algorithm} {blob}\n")
