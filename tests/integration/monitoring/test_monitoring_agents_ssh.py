# ruff: noqa: ASYNC240 - small local files and key generation in test set-up
"""Node Exporter over the real sshd: install, idempotent re-run, status, uninstall, checksum.

The connection errors (wrong key, changed or unknown host key, closed port) are in the SSH
contract suite, run against the lab sshd and the in-memory fake alike.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import httpx
import pytest

from services.monitoring.adapters.ssh import AsyncsshConnector
from services.monitoring.agent_specs import node_exporter_spec
from services.monitoring.agents import AgentInstaller, Artifact
from shared.errors import ConfigurationError
from shared.testing.servers import free_port
from tests.contracts.monitoring_lab import MonitoringLab

pytestmark = pytest.mark.integration

NODE_EXPORTER = Path("/usr/bin/prometheus-node-exporter")


async def probe(address: str, port: int) -> bool:
    try:
        async with httpx.AsyncClient(timeout=1.0) as client:
            return (await client.get(f"http://{address}:{port}/metrics")).status_code == 200
    except httpx.HTTPError:
        return False


def connector(lab: MonitoringLab, tmp_path: Path, key: Path | None = None, **options) -> AsyncsshConnector:
    return AsyncsshConnector(
        user=lab.sshd.user,
        key_file=key or lab.sshd.user_key,
        known_hosts=tmp_path / "known_hosts",
        port=lab.config.sshd_port,
        **options,
    )


async def test_install_then_rerun_changes_nothing_then_uninstall(monitoring_lab: MonitoringLab, tmp_path: Path) -> None:
    installer = AgentInstaller(connector(monitoring_lab, tmp_path), probe)
    spec = node_exporter_spec(PurePosixPath(tmp_path / "vm"), listen_host="127.0.0.1", port=free_port())
    artifact = Artifact(NODE_EXPORTER.read_bytes())
    try:
        first = await installer.install("127.0.0.1", spec, artifact)
        assert first.changed
        assert first.status == {
            "tool": "node_exporter",
            "installed": True,
            "mode": "supervised",
            "active": True,
            "enabled": True,
            "responding": True,
            "port": spec.port,
        }
        second = await installer.install("127.0.0.1", spec, artifact)
        assert not second.changed and second.status["responding"]
        assert (tmp_path / "known_hosts").read_text().startswith(f"[127.0.0.1]:{monitoring_lab.config.sshd_port} ")
    finally:
        gone = await installer.uninstall("127.0.0.1", spec)
    assert gone.changed
    assert not await probe("127.0.0.1", spec.port)
    assert not Path(str(spec.binary)).exists()


async def test_a_checksum_mismatch_is_refused_before_anything_is_copied(
    monitoring_lab: MonitoringLab, tmp_path: Path
) -> None:
    installer = AgentInstaller(connector(monitoring_lab, tmp_path), probe)
    spec = node_exporter_spec(PurePosixPath(tmp_path / "vm"), listen_host="127.0.0.1", port=free_port())
    with pytest.raises(ConfigurationError):
        await installer.install("127.0.0.1", spec, Artifact(b"not node exporter", sha256="0" * 64))
    assert not Path(str(spec.binary)).exists()
