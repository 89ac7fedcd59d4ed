"""Against the real Prometheus and Alertmanager: registration, alert rules and routes."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
import yaml

from lab.agent import set_load
from services.monitoring.adapters.alertmanager import AlertmanagerHttp
from services.monitoring.adapters.flock import LOCKS_DIR
from services.monitoring.adapters.prometheus import PrometheusHttp
from services.monitoring.domain import Target
from services.monitoring.wiring import Monitoring, build_monitoring
from shared.embedded import free_port
from shared.errors import ConfigurationError, InvalidInput, ServiceUnavailable
from shared.messages import AlertRuleSpec
from tests.contracts.monitoring_lab import AgentFleet, MonitoringLab, lab_settings


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 40.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.5)


async def prometheus_alerts(monitoring: Monitoring, name: str) -> list[dict]:
    return [a for a in await monitoring.prometheus.alerts() if a["labels"].get("alertname") == name]


async def test_a_registered_lab_vm_is_scraped_and_reported_up(monitoring: Monitoring, agents: AgentFleet) -> None:
    job = unique("job-")
    address = agents.start("vm-reg-1")
    outcome = await monitoring.registry.add(Target.build(job, address, 9100, {"group": "g"}, vm_name="vm-reg-1"))
    assert outcome.created
    health = await monitoring.registry.wait_up(job, f"{address}:9100", timeout_s=30, poll_s=0.5)
    assert (health.health, health.instance, health.vm_name) == ("up", address, "vm-reg-1")
    assert monitoring.prometheus.reloads == 0


async def test_concurrent_registrations_never_corrupt_a_job_file(
    monitoring: Monitoring, monitoring_lab: MonitoringLab
) -> None:
    job = unique("bulk-")
    targets = [Target.build(job, f"127.0.250.{n}", 9100, {}, vm_name=f"vm-{n}") for n in range(1, 61)]
    await asyncio.gather(*(monitoring.registry.add(t) for t in targets))
    document = json.loads((monitoring_lab.paths.file_sd_dir / f"{job}.json").read_text())
    assert sorted(g["targets"][0] for g in document) == sorted(t.key for t in targets)
    # no temporary file left behind (the replicas' lock directory is meant to stay)
    leftovers = monitoring_lab.paths.file_sd_dir.iterdir()
    assert not [p for p in leftovers if p.name.startswith(".") and p.name != LOCKS_DIR]
    await monitoring.registry.delete_job(job)


def spec(job: str, **changes: float) -> AlertRuleSpec:
    values = {"cpu_high": 80, "memory_high": 80, "cpu_low": 30, "memory_low": 30, "out_for_s": 1, "in_for_s": 2}
    values.update(changes)
    return AlertRuleSpec(job=job, **values)  # type: ignore[arg-type]


async def test_high_cpu_fires_the_alert_and_alertmanager_posts_it_with_the_bearer_token(
    monitoring: Monitoring, monitoring_lab: MonitoringLab, agents: AgentFleet, receiver
) -> None:
    group, job = unique("hot"), unique("job-hot-")
    quiet, busy = agents.start("vm-hot-1"), agents.start("vm-hot-2")
    for n, address in enumerate((quiet, busy)):
        await monitoring.registry.add(Target.build(job, address, 9100, {"group": group}, vm_name=f"vm-hot-{n}"))
    await monitoring.alerting.provision(group, spec(job), receiver.url, 300, config_id="cfg-hot")
    set_load(busy, cpu=95)

    async def posted() -> bool:
        return any(path.endswith(f"/api/webhook/autoscale/{group}") for path, _, _ in receiver.calls)

    await eventually(posted, what="webhook call")
    path, headers, body = next(c for c in receiver.calls if c[0].endswith(group))
    token = monitoring_lab.paths.webhook_credentials_file.read_text().strip()
    assert headers["Authorization"] == f"Bearer {token}"
    assert token not in path
    assert body["receiver"] == f"jenkins-webhook-{group}-out"
    labels = body["alerts"][0]["labels"]
    assert labels["alertname"] == f"{group}_HighResourceUsage"
    assert (labels["service"], labels["autoscaleConfigId"], labels["severity"], labels["instance"]) == (
        group,
        "cfg-hot",
        "warning",
        "all",
    )
    await monitoring.alerting.remove(group)


async def test_low_usage_fires_only_when_every_instance_is_below_both_thresholds(
    monitoring: Monitoring, agents: AgentFleet
) -> None:
    group, job = unique("cold"), unique("job-cold-")
    idle, warm = agents.start("vm-cold-1", cpu=5), agents.start("vm-cold-2", cpu=50)
    for n, address in enumerate((idle, warm)):
        await monitoring.registry.add(Target.build(job, address, 9100, {"group": group}, vm_name=f"vm-cold-{n}"))
        await monitoring.registry.wait_up(job, f"{address}:9100", timeout_s=30, poll_s=0.5)
    await monitoring.alerting.provision(group, spec(job), "http://127.0.0.1:9", 300)
    low = f"{group}_LowResourceUsage"

    async def rule_evaluated_with_data() -> bool:
        for rule_group in await monitoring.alerting.rules():
            if rule_group["name"] == f"{group}-autoscale":
                return all(r.get("lastEvaluation", "").startswith("2") for r in rule_group["rules"])
        return False

    await eventually(rule_evaluated_with_data, what="rule evaluation")
    await asyncio.sleep(8)  # rate window 5 s + for 2 s: long enough for a wrong rule to fire
    assert await prometheus_alerts(monitoring, low) == []
    set_load(warm, cpu=5)

    async def firing() -> bool:
        return any(a["state"] == "firing" for a in await prometheus_alerts(monitoring, low))

    await eventually(firing, what="LowResourceUsage firing")
    (alert,) = await prometheus_alerts(monitoring, low)
    assert alert["labels"]["scaleAction"] == "scale-in"
    await monitoring.alerting.remove(group)


async def test_a_rule_file_promtool_rejects_is_never_installed(
    monitoring_lab: MonitoringLab, tmp_path, http: httpx.AsyncClient
) -> None:
    monitoring = build_monitoring(lab_settings(monitoring_lab, tmp_path, rate_window="5 minutes"), http)
    group = unique("bad")
    with pytest.raises(InvalidInput) as caught:
        await monitoring.alerting.provision(group, spec("job-x"), "http://127.0.0.1:9", 300)
    assert "promtool" in str(caught.value)
    assert not (monitoring_lab.paths.rules_dir / f"{group}.yml").exists()
    assert group not in monitoring_lab.paths.alertmanager_config.read_text()


async def test_a_failing_alertmanager_reload_keeps_the_old_configuration(
    monitoring_lab: MonitoringLab, tmp_path, http: httpx.AsyncClient
) -> None:
    settings = lab_settings(monitoring_lab, tmp_path, webhook_ca_file=str(tmp_path / "missing-ca.pem"))
    monitoring = build_monitoring(settings, http)
    group = unique("ca")
    before = monitoring_lab.paths.alertmanager_config.read_bytes()
    with pytest.raises(ConfigurationError):
        await monitoring.alerting.provision(group, spec("job-ca"), "https://127.0.0.1:9", 300)
    assert monitoring_lab.paths.alertmanager_config.read_bytes() == before
    assert not (monitoring_lab.paths.rules_dir / f"{group}.yml").exists()
    status = (await http.get(f"{monitoring_lab.alertmanager_url}/api/v2/status")).json()
    assert group not in status["config"]["original"]
    assert (await http.post(f"{monitoring_lab.alertmanager_url}/-/reload")).status_code == 200
    assert yaml.safe_load(before) == yaml.safe_load(monitoring_lab.paths.alertmanager_config.read_text())


async def test_usage_follows_each_agents_load_as_the_dashboard_charts_it(
    monitoring: Monitoring, agents: AgentFleet
) -> None:
    job = unique("job-use-")
    busy, calm = agents.start("vm-use-1", cpu=90), agents.start("vm-use-2", cpu=10)
    for n, address in enumerate((busy, calm)):
        await monitoring.registry.add(Target.build(job, address, 9100, {"group": "g"}, vm_name=f"vm-use-{n}"))
        await monitoring.registry.wait_up(job, f"{address}:9100", timeout_s=30, poll_s=0.5)

    async def charted() -> bool:
        usage = await monitoring.registry.usage(job, minutes=1, step_s=1, rate_window="5s")
        latest = {instance: kinds.get("cpu", ())[-1:] for instance, kinds in usage.items()}
        return bool(latest.get(busy)) and bool(latest.get(calm)) and latest[busy][0][1] > 70 and latest[calm][0][1] < 30

    await eventually(charted, what="CPU series that follow the load")
    usage = await monitoring.registry.usage(job, minutes=1, step_s=1, rate_window="5s")
    assert set(usage) == {busy, calm}
    assert all(kinds.get("memory") for kinds in usage.values())


async def test_prometheus_and_alertmanager_answer_the_health_ping(monitoring: Monitoring) -> None:
    await monitoring.prometheus.ping()
    await monitoring.alertmanager.ping()


async def test_the_health_ping_to_a_closed_port_is_service_unavailable(http: httpx.AsyncClient) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceUnavailable):
        await PrometheusHttp(http, closed).ping()
    with pytest.raises(ServiceUnavailable):
        await AlertmanagerHttp(http, closed).ping()
