"""Agent use cases on in-memory VMs: install, re-run, status, uninstall, systemd and
supervised modes, Promtail's host name and update, checksum refusal, batches with progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from services.monitoring.agent_ops import AgentOperations
from services.monitoring.agents import AgentInstaller
from services.monitoring.artifacts import Artifacts
from services.monitoring.errors import RemoteCommandFailed
from services.monitoring.settings import MonitoringSettings
from services.monitoring.wiring import artifact_sources
from shared.errors import ConfigurationError
from shared.messages import AgentHost, AgentProgress, AgentsInstalled, InstallAgents
from testkit.monitoring.memory import FakeVm, MemoryConnector

BINARY = b"\x7fELF node exporter stand-in"


class NoDownloads:
    async def download(self, url: str, sha256: str) -> bytes:
        raise AssertionError("artifacts come from paths here")


def operations(tmp_path: Path, vms: list[FakeVm], **settings: Any) -> tuple[AgentOperations, MemoryConnector]:
    (tmp_path / "node_exporter").write_bytes(BINARY)
    (tmp_path / "promtail").write_bytes(b"promtail stand-in")
    (tmp_path / "jmx.jar").write_bytes(b"PK jar stand-in")
    values: dict[str, Any] = {
        "state_dir": tmp_path,
        "node_exporter_artifact": tmp_path / "node_exporter",
        "promtail_artifact": tmp_path / "promtail",
        "jmx_exporter_artifact": tmp_path / "jmx.jar",
        "install_concurrency": 2,
        **settings,
    }
    config = MonitoringSettings(**values)
    connector = MemoryConnector(vms, sudo=values.get("ssh_sudo", False))
    artifacts = Artifacts(artifact_sources(config), NoDownloads(), tmp_path / "cache", max_bytes=1 << 20)
    installer = AgentInstaller(connector, connector.probe, ready_timeout_s=0.5)
    return AgentOperations(config, installer, artifacts), connector


def pids(vm: FakeVm) -> set[int]:
    return set(vm.processes)


async def test_supervised_install_copies_verifies_starts_and_a_rerun_changes_nothing(tmp_path: Path) -> None:
    vm = FakeVm("127.0.10.5")
    ops, _ = operations(tmp_path, [vm])
    first = await ops.install("node_exporter", vm.address)
    assert first.changed and first.status == {
        "tool": "node_exporter",
        "installed": True,
        "mode": "supervised",
        "active": True,
        "enabled": True,
        "responding": True,
        "port": 9100,
    }
    assert vm.files["/usr/local/bin/node_exporter"] == BINARY and vm.modes["/usr/local/bin/node_exporter"] == 0o755
    running = pids(vm)
    writes = len(vm.commands)
    second = await ops.install("node_exporter", vm.address)
    assert not second.changed and pids(vm) == running
    assert not any(cmd[0] in ("setsid", "mkdir") or cmd[:2] == ["kill", "-TERM"] for cmd in vm.commands[writes:])


async def test_a_binary_changed_on_the_vm_is_replaced_and_the_agent_restarted(tmp_path: Path) -> None:
    vm = FakeVm("127.0.10.5")
    ops, _ = operations(tmp_path, [vm])
    await ops.install("node_exporter", vm.address)
    before = pids(vm)
    vm.files["/usr/local/bin/node_exporter"] = b"tampered"
    again = await ops.install("node_exporter", vm.address)
    assert again.changed and vm.files["/usr/local/bin/node_exporter"] == BINARY
    assert pids(vm).isdisjoint(before) and vm.listening(9100)


async def test_uninstall_stops_the_agent_and_removes_its_files(tmp_path: Path) -> None:
    vm = FakeVm("127.0.10.5")
    ops, _ = operations(tmp_path, [vm])
    await ops.install("node_exporter", vm.address)
    gone = await ops.installer.uninstall(vm.address, ops.spec("node_exporter"))
    assert gone.changed and vm.processes == {}
    assert not [f for f in vm.files if "node_exporter" in f]
    assert not (await ops.installer.uninstall(vm.address, ops.spec("node_exporter"))).changed
    status = await ops.installer.status(vm.address, ops.spec("node_exporter"))
    assert (status["installed"], status["active"], status["responding"]) == (False, False, False)


async def test_the_systemd_branch_writes_the_unit_enables_and_restarts_only_on_change(tmp_path: Path) -> None:
    vm = FakeVm("127.0.10.6", systemd=True)
    ops, _ = operations(tmp_path, [vm])
    first = await ops.install("node_exporter", vm.address)
    assert first.changed and first.status["mode"] == "systemd" and first.status["active"] and first.status["enabled"]
    unit = vm.files["/etc/systemd/system/node_exporter.service"].decode()
    assert "ExecStart=/usr/local/bin/node_exporter --web.listen-address=:9100\n" in unit
    assert ["systemctl", "daemon-reload"] in vm.commands and ["systemctl", "enable", "node_exporter"] in vm.commands
    mark = len(vm.commands)
    running = pids(vm)
    second = await ops.install("node_exporter", vm.address)
    acting = [cmd for cmd in vm.commands[mark:] if cmd[0] == "systemctl" and not cmd[1].startswith("is-")]
    assert not second.changed and pids(vm) == running
    assert acting == [["systemctl", "start", "node_exporter"]]
    await ops.installer.uninstall(vm.address, ops.spec("node_exporter"))
    assert "/etc/systemd/system/node_exporter.service" not in vm.files and vm.processes == {}
    assert "node_exporter" not in vm.enabled


async def test_promtail_is_rendered_with_the_vms_own_hostname_and_updated_by_the_same_renderer(
    tmp_path: Path,
) -> None:
    vm = FakeVm("127.0.10.7", hostname="web-202601011200")
    ops, connector = operations(tmp_path, [vm], loki_url="http://127.0.0.1:3100/loki/api/v1/push")
    first = await ops.install("promtail", vm.address)
    config = yaml.safe_load(vm.files["/etc/promtail/config.yml"])
    labels = [sc["labels"] for job in config["scrape_configs"] for sc in job["static_configs"]]
    assert first.changed and {label["hostname"] for label in labels} == {"web-202601011200"}
    running = pids(vm)
    updated_ops, _ = operations(tmp_path, [vm], loki_url="http://127.0.0.2:3100/loki/api/v1/push")
    updated_ops.installer = AgentInstaller(connector, connector.probe, ready_timeout_s=0.5)
    update = await updated_ops.install("promtail", vm.address)
    config = yaml.safe_load(vm.files["/etc/promtail/config.yml"])
    labels = [sc["labels"] for job in config["scrape_configs"] for sc in job["static_configs"]]
    assert update.changed and config["clients"] == [{"url": "http://127.0.0.2:3100/loki/api/v1/push"}]
    assert {label["hostname"] for label in labels} == {"web-202601011200"} and pids(vm).isdisjoint(running)
    assert not (await updated_ops.install("promtail", vm.address)).changed


async def test_a_checksum_mismatch_refuses_before_any_connection(tmp_path: Path) -> None:
    vm = FakeVm("127.0.10.8")
    ops, connector = operations(tmp_path, [vm], node_exporter_sha256="0" * 64)
    with pytest.raises(ConfigurationError):
        await ops.install("node_exporter", vm.address)
    assert connector.connections == 0 and "/usr/local/bin/node_exporter" not in vm.files


async def test_the_jmx_exporter_jar_and_config_are_installed_and_it_serves_on_its_port(tmp_path: Path) -> None:
    vm = FakeVm("127.0.10.9")
    ops, _ = operations(tmp_path, [vm], jmx_exporter_port=9405, jmx_target_port=7199)
    result = await ops.install("jmx_exporter", vm.address)
    assert result.status["responding"] and result.status["port"] == 9405
    assert vm.files["/opt/jmx_exporter/jmx_prometheus_httpserver.jar"] == b"PK jar stand-in"
    assert yaml.safe_load(vm.files["/etc/jmx_exporter/config.yml"])["hostPort"] == "127.0.0.1:7199"
    assert not vm.listening(7199)


async def test_with_sudo_files_are_staged_and_installed_and_a_refused_sudo_fails(tmp_path: Path) -> None:
    vm = FakeVm("127.0.10.10")
    ops, _ = operations(tmp_path, [vm], ssh_sudo=True)
    await ops.install("node_exporter", vm.address)
    installs = [cmd for cmd in vm.commands if cmd[:3] == ["sudo", "-n", "install"]]
    renames = [cmd[-2:] for cmd in vm.commands if cmd[:3] == ["sudo", "-n", "mv"]]
    # every file appears whole: installed under another name beside it, then renamed onto it
    assert installs and [cmd[-1] for cmd in installs] == [source for source, _ in renames]
    assert "/usr/local/bin/node_exporter" in {target for _, target in renames}
    assert not [f for f in vm.files if f.startswith("/tmp/vmscale-") or ".vmscale-" in f]
    locked = FakeVm("127.0.10.11", sudo=False)
    ops, _ = operations(tmp_path, [locked], ssh_sudo=True)
    with pytest.raises(RemoteCommandFailed):
        await ops.install("node_exporter", locked.address)


async def test_a_batch_reports_each_host_classified_and_stays_within_its_bound(tmp_path: Path) -> None:
    good = [FakeVm(f"127.0.20.{n}", latency_s=0.001) for n in range(1, 6)]
    locked = FakeVm("127.0.20.9", authorized={"someone-else"})
    ops, connector = operations(tmp_path, [*good, locked])
    hosts = [AgentHost(vm_name=f"vm-{vm.address}", address=vm.address) for vm in [*good, locked]]
    hosts.append(AgentHost(vm_name="vm-gone", address="127.0.20.99"))
    events = [event async for event in ops.run_batch(InstallAgents(hosts=tuple(hosts)))]
    progress = [e for e in events if isinstance(e, AgentProgress)]
    summary = events[-1]
    assert isinstance(summary, AgentsInstalled) and len(progress) == 7
    kinds = {e.vm_name: e.error_kind for e in progress if not e.ok}
    assert kinds == {"vm-127.0.20.9": "authentication", "vm-gone": "unreachable"}
    assert sorted(summary.succeeded) == sorted(f"vm-{vm.address}" for vm in good)
    assert len({e.message_id for e in progress}) == 7 and all(e.batch_id == summary.batch_id for e in progress)
    assert connector.peak_open == 2
    status = [e async for e in ops.run_batch(InstallAgents(action="status", hosts=tuple(hosts[:2])))]
    assert all(e.status["installed"] for e in status if isinstance(e, AgentProgress))
