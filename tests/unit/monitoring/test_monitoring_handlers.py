"""The monitoring handlers under FastStream's ``TestNatsBroker`` (STYLE rule 13): commands in,
the events they publish asserted, queries answered; the use cases run on the in-memory adapters
and in-memory VMs. The same routers run over real NATS in tests/integration/monitoring."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from faststream.nats import NatsRouter, TestNatsBroker
from faststream.nats.annotations import NatsMessage

from services.monitoring.agents import AgentInstaller
from services.monitoring.alerting import Alerting
from services.monitoring.artifacts import Artifacts
from services.monitoring.domain import RouteOptions, RuleOptions
from services.monitoring.handlers import build_routers
from services.monitoring.registry import TargetRegistry
from services.monitoring.service import MonitoringService
from services.monitoring.settings import MonitoringSettings
from services.monitoring.wiring import artifact_sources
from shared import subjects
from shared.bus import Bus, Topology, build_broker
from shared.messages import (
    AgentHost,
    AgentProgress,
    AgentsInstalled,
    AlertRuleSpec,
    DeleteJob,
    DeregisterTarget,
    GroupAlertsProvisioned,
    InstallAgents,
    JmxExporterRegistered,
    JobDeleted,
    MonitoringFailed,
    MonitoringJobsQuery,
    MonitoringTargetsQuery,
    ProvisionGroupAlerts,
    RegisterJmxExporter,
    RegisterTarget,
    ScaleInSilenceSet,
    SetScaleInSilence,
    TargetDeregistered,
    TargetRegistered,
)
from testkit.clock import FakeClock
from testkit.monitoring.memory import (
    FakeVm,
    MemoryAlertmanager,
    MemoryChecker,
    MemoryConnector,
    MemoryDashboards,
    MemoryPrometheus,
    MemoryStore,
)


class NoDownloads:
    async def download(self, url: str, sha256: str) -> bytes:
        raise AssertionError("artifacts come from paths here")


@dataclass
class World:
    bus: Bus
    vms: list[FakeVm]
    file_sd: MemoryStore
    dashboards: MemoryDashboards
    published: list[tuple[str, Any]] = field(default_factory=list)

    def of(self, kind: type) -> list[Any]:
        return [event for _, event in self.published if isinstance(event, kind)]


def build(tmp_path: Path, clock: FakeClock, **overrides: Any) -> World:
    (tmp_path / "node_exporter").write_bytes(b"\x7fELF node exporter")
    (tmp_path / "jmx.jar").write_bytes(b"PK jar")
    settings = MonitoringSettings(
        state_dir=tmp_path,
        register_poll_interval_s=0.01,
        node_exporter_artifact=tmp_path / "node_exporter",
        jmx_exporter_artifact=tmp_path / "jmx.jar",
        **overrides,
    )
    file_sd, rules, am = MemoryStore(), MemoryStore(), MemoryStore()
    am.files["alertmanager.yml"] = yaml.safe_dump(
        {"route": {"receiver": "ops"}, "receivers": [{"name": "ops"}]}
    ).encode()
    prometheus = MemoryPrometheus(file_sd=file_sd, rules=rules)
    dashboards = MemoryDashboards()
    alerting = Alerting(
        rules=rules,
        am_config=am,
        am_config_name="alertmanager.yml",
        prometheus=prometheus,
        alertmanager=MemoryAlertmanager(clock),
        checker=MemoryChecker(),
        rule_options=RuleOptions(),
        route_options=RouteOptions(),
        clock=clock,
    )
    vms = [FakeVm(f"127.0.30.{n}", hostname=f"vm-{n}") for n in (1, 2, 3)]
    connector = MemoryConnector(vms)
    artifacts = Artifacts(artifact_sources(settings), NoDownloads(), tmp_path / "cache", max_bytes=1 << 20)
    service = MonitoringService(
        settings,
        TargetRegistry(file_sd, prometheus),
        alerting,
        dashboards,
        AgentInstaller(connector, connector.probe, ready_timeout_s=0.5),
        artifacts,
    )
    bus = build_broker("nats://127.0.0.1:4222", client_name="monitoring-unit", topology=Topology("unit"))
    world = World(bus, vms, file_sd, dashboards)
    for router in build_routers(bus, service):
        bus.broker.include_router(router)
    recorder = NatsRouter()

    @recorder.subscriber(bus.topology.subject("monitoring.>"), stream=bus.topology.events)
    async def record(body: dict[str, Any], message: NatsMessage) -> None:
        name = bus.topology.unprefixed(message.raw_message.subject)
        world.published.append((name, subjects.by_name(name).model.model_validate(body)))

    bus.broker.include_router(recorder)
    return world


@pytest.fixture
async def world(tmp_path: Path, clock: FakeClock) -> AsyncIterator[World]:
    world = build(tmp_path, clock)
    async with TestNatsBroker(world.bus.broker):
        yield world


async def test_register_publishes_registered_and_a_query_sees_the_target(world: World) -> None:
    command = RegisterTarget(activity_id="a1", group="web", job="web", vm_name="web-1", address="127.0.30.1")
    await world.bus.publish(subjects.CMD_MONITORING_REGISTER, command)
    [event] = world.of(TargetRegistered)
    assert (event.up, event.target, event.activity_id, event.causation_id) == (
        True,
        "127.0.30.1:9100",
        "a1",
        str(command.message_id),
    )
    jobs = await world.bus.request(subjects.QUERY_MONITORING_JOBS, MonitoringJobsQuery())
    targets = await world.bus.request(subjects.QUERY_MONITORING_TARGETS, MonitoringTargetsQuery(job="web"))
    assert jobs.jobs == {"web": 1} and [(t.vm_name, t.health) for t in targets.targets] == [("web-1", "up")]
    await world.bus.publish(
        subjects.CMD_MONITORING_DEREGISTER, DeregisterTarget(job="web", vm_name="web-1", address="127.0.30.1")
    )
    await world.bus.publish(subjects.CMD_MONITORING_DELETE_JOB, DeleteJob(job="web"))
    assert [e.target for e in world.of(TargetDeregistered)] == ["127.0.30.1:9100"]
    assert [e.existed for e in world.of(JobDeleted)] == [True] and world.dashboards.dashboards == {}


async def test_an_invalid_command_publishes_a_typed_failure_and_nothing_else(world: World) -> None:
    command = RegisterTarget(job="web", vm_name="vm", address="127.0.30.1", labels={"_sshKey": "/root/.ssh/id"})
    await world.bus.publish(subjects.CMD_MONITORING_REGISTER, command)
    [failure] = world.of(MonitoringFailed)
    assert (failure.operation, failure.error_kind, failure.retryable) == ("register", "InvalidInput", False)
    assert "/root/.ssh/id" not in failure.reason and world.of(TargetRegistered) == []
    assert world.file_sd.files == {}


async def test_register_jmx_installs_the_exporter_registers_its_own_job_and_the_jvm_dashboard(world: World) -> None:
    command = RegisterJmxExporter(
        activity_id="a2", job="orders-jmx", vm_name="orders-1", address="127.0.30.2", install_exporter=True
    )
    await world.bus.publish(subjects.CMD_MONITORING_REGISTER_JMX, command)
    [event] = world.of(JmxExporterRegistered)
    assert (event.up, event.target, event.dashboard_uid) == (True, "127.0.30.2:9404", "dashboard-orders-jmx-jvm")
    assert world.vms[1].listening(9404) and "/opt/jmx_exporter/jmx_prometheus_httpserver.jar" in world.vms[1].files
    panels = world.dashboards.dashboards["dashboard-orders-jmx-jvm"]["panels"]
    assert [p["title"] for p in panels][:2] == ["Heap usage", "Heap"]
    labels = yaml.safe_load(world.file_sd.files["orders-jmx.json"])[0]["labels"]
    assert labels == {"job": "orders-jmx", "instance": "127.0.30.2", "service": "jmx-exporter", "vmName": "orders-1"}
    assert world.of(TargetRegistered) == []


async def test_an_agent_batch_publishes_progress_per_host_then_the_summary(world: World) -> None:
    hosts = (
        AgentHost(vm_name="vm-1", address="127.0.30.1"),
        AgentHost(vm_name="vm-2", address="127.0.30.2"),
        AgentHost(vm_name="vm-gone", address="127.0.30.99"),
    )
    command = InstallAgents(tool="node_exporter", hosts=hosts)
    await world.bus.publish(subjects.CMD_MONITORING_INSTALL_AGENTS, command)
    progress = world.of(AgentProgress)
    [summary] = world.of(AgentsInstalled)
    assert sorted((p.vm_name, p.ok, p.error_kind) for p in progress) == [
        ("vm-1", True, None),
        ("vm-2", True, None),
        ("vm-gone", False, "unreachable"),
    ]
    assert [name for name, _ in world.published][-1] == subjects.MONITORING_AGENTS_INSTALLED.name
    assert (sorted(summary.succeeded), summary.failed, summary.batch_id) == (
        ["vm-1", "vm-2"],
        ("vm-gone",),
        str(command.message_id),
    )
    assert all(p.causation_id == str(command.message_id) for p in progress)


async def test_a_batch_with_a_bad_artifact_checksum_fails_before_touching_any_host(
    tmp_path: Path, clock: FakeClock
) -> None:
    world = build(tmp_path, clock, node_exporter_sha256="0" * 64)
    async with TestNatsBroker(world.bus.broker):
        hosts = (AgentHost(vm_name="vm-1", address="127.0.30.1"),)
        await world.bus.publish(subjects.CMD_MONITORING_INSTALL_AGENTS, InstallAgents(hosts=hosts))
    [failure] = world.of(MonitoringFailed)
    assert (failure.operation, failure.error_kind, failure.retryable) == ("install_agents", "ConfigurationError", False)
    assert world.of(AgentProgress) == [] and world.vms[0].commands == []


async def test_provision_and_silence_publish_their_events(world: World) -> None:
    spec = AlertRuleSpec(job="web", cpu_high=80, memory_high=80, cpu_low=20, memory_low=20, out_for_s=60, in_for_s=120)
    provision = ProvisionGroupAlerts(group="web", rules=spec, webhook_url="http://127.0.0.1:8000")
    await world.bus.publish(subjects.CMD_MONITORING_PROVISION_ALERTS, provision)
    await world.bus.publish(subjects.CMD_MONITORING_SILENCE, SetScaleInSilence(group="web", active=True))
    [provisioned] = world.of(GroupAlertsProvisioned)
    [silenced] = world.of(ScaleInSilenceSet)
    assert provisioned.rule_names == ("web_HighResourceUsage", "web_LowResourceUsage")
    assert silenced.active and silenced.silence_id
