# ruff: noqa: ASYNC240 - small local files and key generation in test set-up
"""Node Exporter over the real sshd: install, idempotent re-run, status, uninstall, checksum;
as root (chosen explicitly) and as vmscale's default, a non-root login that uses sudo.

The connection errors (wrong key, changed or unknown host key, closed port) are in the SSH
contract suite, run against the lab sshd and the in-memory fake alike.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path, PurePosixPath

import httpx
import pytest

from services.monitoring.adapters.ssh import AsyncsshConnector
from services.monitoring.agent_specs import node_exporter_spec
from services.monitoring.agents import AgentInstaller, Artifact
from shared.embedded import free_port
from shared.errors import ConfigurationError
from tests.contracts.monitoring_lab import MonitoringLab

NODE_EXPORTER = Path("/usr/bin/prometheus-node-exporter")


async def probe(address: str, port: int) -> bool:
    try:
        async with httpx.AsyncClient(timeout=1.0) as client:
            return (await client.get(f"http://{address}:{port}/metrics")).status_code == 200
    except httpx.HTTPError:
        return False


def connector(
    lab: MonitoringLab, tmp_path: Path, key: Path | None = None, user: str | None = None, **options
) -> AsyncsshConnector:
    return AsyncsshConnector(
        user=user or lab.sshd.user,
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


async def test_the_default_non_root_login_installs_through_sudo_and_the_files_are_roots(
    monitoring_lab: MonitoringLab, tmp_path: Path
) -> None:
    user = monitoring_lab.sshd.sudo_user
    installer = AgentInstaller(connector(monitoring_lab, tmp_path, user=user, sudo=True), probe)
    spec = node_exporter_spec(PurePosixPath(tmp_path / "vm"), listen_host="127.0.0.1", port=free_port())
    artifact = Artifact(NODE_EXPORTER.read_bytes())
    try:
        first = await installer.install("127.0.0.1", spec, artifact)
        assert first.changed and first.status["active"] and first.status["responding"]
        assert not (await installer.install("127.0.0.1", spec, artifact)).changed
        binary = Path(str(spec.binary))
        assert (binary.stat().st_uid, binary.stat().st_mode & 0o777) == (0, 0o755)
    finally:
        gone = await installer.uninstall("127.0.0.1", spec)
    assert gone.changed and not Path(str(spec.binary)).exists()
    assert not await probe("127.0.0.1", spec.port)


async def test_a_file_replaced_through_sudo_is_never_seen_half_written(
    monitoring_lab: MonitoringLab, tmp_path: Path
) -> None:
    """Two VMs of the lab share one file system, and an agent binary is replaced while the other
    host's installer hashes it: every reader sees the old file or the new one, never a part of one
    and never none (an e2e batch failed web-1 with "does not match its checksum" this way)."""
    conn = connector(monitoring_lab, tmp_path, user=monitoring_lab.sshd.sudo_user, sudo=True)
    target = tmp_path / "vm" / "agent.bin"
    target.parent.mkdir(mode=0o755)
    tmp_path.chmod(0o755)
    old, new = NODE_EXPORTER.read_bytes(), NODE_EXPORTER.read_bytes()[::-1]
    host = await conn.connect("127.0.0.1")
    try:
        await host.put(old, str(target), 0o755)
        writing = asyncio.ensure_future(host.put(new, str(target), 0o755))
        seen: set[str] = set()
        while not writing.done():
            try:
                seen.add(hashlib.sha256(target.read_bytes()).hexdigest())
            except FileNotFoundError:
                seen.add("missing")
            await asyncio.sleep(0)
        await writing
    finally:
        await host.close()
    assert target.read_bytes() == new
    assert seen <= {hashlib.sha256(old).hexdigest(), hashlib.sha256(new).hexdigest()}, f"{len(seen)} versions seen"
    assert not [p.name for p in target.parent.iterdir() if p.name != "agent.bin"]
