"""The monitoring service over real NATS: commands in, MONITORING_* events out, queries answered."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from faststream.nats import NatsRouter
from faststream.nats.annotations import NatsMessage

from services.monitoring.app import build_service
from services.monitoring.handlers import build_routers
from services.monitoring.http_sd import HttpSdServer
from services.monitoring.service import MonitoringService
from shared import subjects
from shared.bus import Bus, DeadLetterPolicy, Topology, build_broker
from shared.messages import (
    AlertRuleSpec,
    DeregisterTarget,
    GroupAlertsProvisioned,
    MonitoringFailed,
    MonitoringJobsQuery,
    MonitoringTargetsQuery,
    ProvisionGroupAlerts,
    RegisterTarget,
    ScaleInSilenceSet,
    SetScaleInSilence,
    TargetDeregistered,
    TargetRegistered,
)
from tests.contracts.monitoring_lab import AgentFleet, MonitoringLab, lab_settings

pytestmark = pytest.mark.usefixtures("js_cleanup")


class Harness:
    def __init__(self, bus: Bus, service: MonitoringService) -> None:
        self.bus = bus
        self.service = service
        self.events: list[object] = []

    async def wait(self, kind: type, timeout: float = 60.0) -> object:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for event in self.events:
                if isinstance(event, kind):
                    return event
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no {kind.__name__}; got {self.events}")
            await asyncio.sleep(0.1)


@pytest.fixture
async def harness(nats_url: str, prefix: str, monitoring_lab: MonitoringLab, tmp_path: Path) -> AsyncIterator[Harness]:
    bus = build_broker(
        nats_url,
        client_name="monitoring-test",
        topology=Topology(prefix),
        policy=DeadLetterPolicy(max_deliver=2, retry_delay_s=0.1),
    )
    async with httpx.AsyncClient(timeout=10) as client:
        service = build_service(lab_settings(monitoring_lab, tmp_path), client)
        harness = Harness(bus, service)
        for router in build_routers(bus, service):
            bus.broker.include_router(router)
        listener = NatsRouter()

        @listener.subscriber(bus.topology.subject("monitoring.>"))
        async def record(body: dict, message: NatsMessage) -> None:
            name = bus.topology.unprefixed(message.raw_message.subject)
            harness.events.append(subjects.by_name(name).model.model_validate(body))

        bus.broker.include_router(listener)
        await bus.connect()
        await bus.broker.start()
        try:
            yield harness
        finally:
            await bus.broker.stop()


async def test_register_publishes_registered_once_the_target_is_up(
    harness: Harness, agents: AgentFleet, monitoring_lab: MonitoringLab
) -> None:
    job = f"job-{uuid.uuid4().hex[:6]}"
    address = agents.start("vm-bus-1")
    command = RegisterTarget(
        activity_id="act-1", group="web", job=job, vm_name="vm-bus-1", address=address, timeout_s=30
    )
    await harness.bus.publish(subjects.CMD_MONITORING_REGISTER, command)
    event = await harness.wait(TargetRegistered)
    assert isinstance(event, TargetRegistered)
    assert (event.up, event.target, event.activity_id, event.causation_id) == (
        True,
        f"{address}:9100",
        "act-1",
        str(command.message_id),
    )
    reply = await harness.bus.request(subjects.QUERY_MONITORING_TARGETS, MonitoringTargetsQuery(job=job))
    assert [(t.vm_name, t.health) for t in reply.targets] == [("vm-bus-1", "up")]
    jobs = await harness.bus.request(subjects.QUERY_MONITORING_JOBS, MonitoringJobsQuery())
    assert jobs.jobs[job] == 1
    ((dashboard,),) = [jobs.dashboards[job]]  # the registration made the job's dashboard in Grafana
    assert dashboard.kind == "infrastructure"
    assert dashboard.url.startswith(f"{monitoring_lab.grafana_url}/d/dashboard-")
    await harness.bus.publish(
        subjects.CMD_MONITORING_DEREGISTER, DeregisterTarget(job=job, vm_name="vm-bus-1", address=address)
    )
    assert isinstance(await harness.wait(TargetDeregistered), TargetDeregistered)


async def test_a_label_outside_the_whitelist_is_a_typed_failure(harness: Harness) -> None:
    command = RegisterTarget(job="job-x", vm_name="vm", address="127.0.99.1", labels={"_sshKey": "/root/.ssh/id"})
    await harness.bus.publish(subjects.CMD_MONITORING_REGISTER, command)
    failure = await harness.wait(MonitoringFailed)
    assert isinstance(failure, MonitoringFailed)
    assert (failure.operation, failure.error_kind, failure.retryable) == ("register", "InvalidInput", False)
    assert "/root/.ssh/id" not in failure.reason


async def test_provision_then_silence_publish_their_events(harness: Harness) -> None:
    group = f"g{uuid.uuid4().hex[:6]}"
    spec = AlertRuleSpec(
        job="job-g", cpu_high=80, memory_high=80, cpu_low=20, memory_low=20, out_for_s=60, in_for_s=120
    )
    await harness.bus.publish(
        subjects.CMD_MONITORING_PROVISION_ALERTS,
        ProvisionGroupAlerts(group=group, rules=spec, webhook_url="http://127.0.0.1:8000"),
    )
    provisioned = await harness.wait(GroupAlertsProvisioned)
    assert isinstance(provisioned, GroupAlertsProvisioned)
    assert provisioned.rule_names == (f"{group}_HighResourceUsage", f"{group}_LowResourceUsage")
    await harness.bus.publish(subjects.CMD_MONITORING_SILENCE, SetScaleInSilence(group=group, active=True))
    silenced = await harness.wait(ScaleInSilenceSet)
    assert isinstance(silenced, ScaleInSilenceSet) and silenced.silence_id
    await harness.service.alerting.remove(group)
    await harness.service.alerting.set_scale_in_silence(group, False)


async def test_http_sd_serves_the_target_groups_behind_a_bearer_token(
    monitoring_lab: MonitoringLab, tmp_path: Path, agents: AgentFleet
) -> None:
    settings = lab_settings(
        monitoring_lab, tmp_path, targets_mode="http_sd", file_sd_dir=tmp_path / "sd", http_sd_token="sd-token-123"
    )
    async with httpx.AsyncClient() as client:
        service = build_service(settings, client)
        command = RegisterTarget(job="job-sd", vm_name="vm-sd", address="127.0.99.2", wait_up=False)
        await service.register(command)
        server = HttpSdServer(service.registry, settings)
        await server.start()
        try:
            url = f"http://127.0.0.1:{server.port}/targets"
            assert (await client.get(url)).status_code == 401
            response = await client.get(url, headers={"Authorization": "Bearer sd-token-123"})
        finally:
            await server.stop()
    assert response.json() == [
        {
            "targets": ["127.0.99.2:9100"],
            "labels": {"job": "job-sd", "instance": "127.0.99.2", "service": "job-sd", "vmName": "vm-sd"},
        }
    ]
