"""The use cases over the in-memory adapters: events, idempotency, dashboards, annotations."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.monitoring.agents import AgentInstaller
from services.monitoring.alerting import Alerting
from services.monitoring.artifacts import Artifacts
from services.monitoring.domain import RouteOptions, RuleOptions
from services.monitoring.registry import TargetRegistry
from services.monitoring.service import MonitoringService
from services.monitoring.settings import MonitoringSettings
from shared.errors import InvalidInput
from shared.messages import (
    AlertRuleSpec,
    DeleteJob,
    DeregisterTarget,
    InstallAgents,
    ProvisionGroupAlerts,
    RegisterTarget,
    RemoveGroupAlerts,
    SetScaleInSilence,
)
from testkit.clock import FakeClock
from testkit.monitoring.memory import MemoryAlertmanager, MemoryChecker, MemoryDashboards, MemoryPrometheus, MemoryStore


class NoDownloads:
    async def download(self, url: str, sha256: str) -> bytes:
        raise AssertionError("no downloads in this test")


class NoHosts:
    def __init__(self) -> None:
        self.forgotten: list[str] = []

    async def connect(self, host: str, port: int | None = None):
        raise AssertionError("no SSH in this test")

    async def forget(self, host: str) -> int:
        self.forgotten.append(host)
        return 0


@pytest.fixture
def parts(clock: FakeClock, tmp_path: Path) -> dict:
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

    async def probe(address: str, port: int) -> bool:
        return False

    service = MonitoringService(
        MonitoringSettings(register_poll_interval_s=0.01),
        TargetRegistry(file_sd, prometheus),
        alerting,
        dashboards,
        AgentInstaller(hosts := NoHosts(), probe),
        Artifacts({}, NoDownloads(), tmp_path / "artifacts", max_bytes=1 << 20),
    )
    return {
        "service": service,
        "dashboards": dashboards,
        "file_sd": file_sd,
        "prometheus": prometheus,
        "hosts": hosts,
    }


async def test_register_reports_up_and_creates_the_jobs_dashboard_once(parts: dict) -> None:
    service: MonitoringService = parts["service"]
    command = RegisterTarget(activity_id="a1", group="web", job="web", vm_name="web-1", address="127.0.10.5")
    event = await service.register(command)
    again = await service.register(command)
    assert (event.up, event.target, event.activity_id) == (True, "127.0.10.5:9100", "a1")
    assert again.message_id == event.message_id
    assert list(parts["dashboards"].dashboards) == ["dashboard-web"]
    assert parts["prometheus"].reloads == 0


async def test_each_job_links_the_dashboards_grafana_has_for_it(parts: dict) -> None:
    service: MonitoringService = parts["service"]
    await service.register(RegisterTarget(job="web", vm_name="web-1", address="127.0.10.5", wait_up=False))
    await service.register(RegisterTarget(job="batch", vm_name="batch-1", address="127.0.10.6", wait_up=False))
    await parts["dashboards"].delete("dashboard-batch")  # someone removed it in Grafana
    links = await service.dashboard_links(["web", "batch"])
    assert list(links) == ["web"]
    ((link,),) = links.values()
    assert (link.kind, link.title, link.url) == ("infrastructure", "web monitoring", "/d/dashboard-web")


async def test_deregister_forgets_the_addresss_host_keys_for_the_next_vm_given_it(parts: dict) -> None:
    service: MonitoringService = parts["service"]
    await service.register(RegisterTarget(job="web", vm_name="web-1", address="127.0.10.5", wait_up=False))
    assert parts["hosts"].forgotten == []
    await service.deregister(DeregisterTarget(job="web", vm_name="web-1", address="127.0.10.5"))
    assert parts["hosts"].forgotten == ["127.0.10.5"]


async def test_delete_job_removes_the_file_and_the_dashboard(parts: dict) -> None:
    service: MonitoringService = parts["service"]
    await service.register(RegisterTarget(job="web", vm_name="web-1", address="127.0.10.5", wait_up=False))
    deleted = await service.delete_job(DeleteJob(job="web"))
    assert deleted.existed and parts["file_sd"].files == {} and parts["dashboards"].dashboards == {}


async def test_provision_silence_and_remove_alerts(parts: dict) -> None:
    service: MonitoringService = parts["service"]
    spec = AlertRuleSpec(job="web", cpu_high=80, memory_high=80, cpu_low=30, memory_low=30, out_for_s=60, in_for_s=120)
    provisioned = await service.provision(ProvisionGroupAlerts(group="web", rules=spec, webhook_url="http://gw:8000"))
    assert provisioned.rule_names == ("web_HighResourceUsage", "web_LowResourceUsage")
    silenced = await service.silence(SetScaleInSilence(group="web", active=True))
    assert silenced.silence_id
    await service.remove_alerts(RemoveGroupAlerts(group="web"))
    assert await service.alerting.silences() == []
    assert await service.alerting.routes() == []


async def test_an_empty_agent_batch_is_refused(parts: dict) -> None:
    service: MonitoringService = parts["service"]
    with pytest.raises(InvalidInput):
        async for _ in service.install_agents(InstallAgents(hosts=())):
            pass


async def test_activities_become_annotations(parts: dict) -> None:
    await parts["service"].annotate("web", "scale_out of web started", ["scale_out", "started"])
    assert parts["dashboards"].annotations[0]["tags"] == ["vmscale", "web", "scale_out", "started"]
