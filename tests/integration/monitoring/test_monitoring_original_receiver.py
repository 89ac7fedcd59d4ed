"""An Alertmanager receiver of the original's shape, before and after vmscale takes it over.

Real Alertmanager (the lab's), the real gateway served over loopback HTTP on real NATS, Redis
and PostgreSQL, a stand-in scaler on the bus. The original's receiver
(`jenkins-webhook-<svc>-out`, no credentials; docs/original-system.md §7.2) is refused by the
gateway (401, counted and audited); enabling the group in vmscale rewrites that receiver to send the
webhook token (``credentials_file``), and the same alert then reaches the scaler.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import uvicorn
import yaml

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from services.monitoring.wiring import Monitoring
from shared.bus import Topology, build_broker
from shared.embedded import free_port
from shared.messages import AlertRuleSpec
from testkit.gateway.fake_scaler import FakeScaler
from tests.contracts.monitoring_lab import MonitoringLab

pytestmark = pytest.mark.usefixtures("js_cleanup")


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.2)


class Served:
    """The gateway over real HTTP, and the stand-in scaler it publishes to."""

    def __init__(self, url: str, app: object, scaler: FakeScaler) -> None:
        self.url, self.app, self.scaler = url, app, scaler

    def outcome(self, name: str) -> float:
        registry = self.app.state.gateway.registry  # type: ignore[attr-defined]
        return registry.get_sample_value("vmscale_gateway_webhook_total", {"outcome": name}) or 0.0


@pytest.fixture
async def served(
    monitoring_lab: MonitoringLab,
    nats_url: str,
    redis_url: str,
    postgres_database: str,
    prefix: str,
    tmp_path: Path,
    group: str,
) -> AsyncIterator[Served]:
    token = monitoring_lab.paths.webhook_credentials_file.read_text().strip()
    settings = GatewaySettings(
        nats_url=nats_url,
        redis_url=redis_url,
        database_url=postgres_database,
        subject_prefix=prefix,
        state_dir=tmp_path,
        webhook_token=token,
        initial_admin_password="correct horse battery staple",
        group_cache_ttl_s=0.0,
    )
    app = create_app(settings)
    scaler = FakeScaler(groups={group: True})
    bus = build_broker(nats_url, client_name="fake-scaler", topology=Topology(prefix))
    bus.broker.include_router(scaler.router(bus))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None))
    async with app.router.lifespan_context(app):
        await bus.connect()
        await bus.broker.start()
        task = asyncio.create_task(server.serve())
        try:
            await eventually(lambda: asyncio.sleep(0, result=server.started), "the gateway serving", 10)
            yield Served(f"http://127.0.0.1:{port}", app, scaler)
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, timeout=10)
            await bus.broker.stop()


@pytest.fixture
def group() -> str:
    return f"Orig-{uuid.uuid4().hex[:6]}"


def install_original_receiver(lab: MonitoringLab, group: str, gateway_url: str) -> None:
    """What the original wrote into alertmanager.yml for a service (no credentials)."""
    path = lab.paths.alertmanager_config
    config = yaml.safe_load(path.read_text())
    receiver = f"jenkins-webhook-{group}-out"
    route = {
        "match": {"service": group, "alertname": f"{group}_HighResourceUsage"},
        "receiver": receiver,
        "group_wait": "1s",
        "group_interval": "1s",
        "repeat_interval": "1h",
    }
    config["route"]["routes"] = [route, *(config["route"].get("routes") or [])]
    config["receivers"].append(
        {
            "name": receiver,
            "webhook_configs": [
                {"url": f"{gateway_url}/api/webhook/autoscale/{group}", "send_resolved": False, "http_config": {}}
            ],
        }
    )
    path.write_text(yaml.safe_dump(config, sort_keys=False))


async def test_the_original_receiver_is_refused_until_vmscale_rewrites_it_with_the_token(
    monitoring: Monitoring, monitoring_lab: MonitoringLab, served: Served, group: str
) -> None:
    am = monitoring_lab.alertmanager_url
    async with httpx.AsyncClient(timeout=10) as http:
        install_original_receiver(monitoring_lab, group, served.url)
        assert (await http.post(f"{am}/-/reload")).status_code == 200
        refused_before = served.outcome("Unauthorized")
        alert = {
            "labels": {
                "alertname": f"{group}_HighResourceUsage",
                "service": group,
                "severity": "warning",
                "instance": "all",
                "autoscaleConfigId": "config-1734100000000",
            },
            "annotations": {"summary": "high resource usage"},
        }
        assert (await http.post(f"{am}/api/v2/alerts", json=[alert])).status_code == 200

        async def refused() -> bool:
            return served.outcome("Unauthorized") > refused_before

        await eventually(refused, "the original receiver's unauthenticated post refused")
        assert served.scaler.fired == []
        audit = served.app.state.gateway.audit_log.recent(10, action="webhook.unauthorized")  # type: ignore[attr-defined]
        assert (f"/api/webhook/autoscale/{group}", "missing") in {(e.target, e.outcome) for e in audit}

        rules = AlertRuleSpec(
            job=f"job-{group.lower()}", cpu_high=80, memory_high=80, cpu_low=30, memory_low=30, out_for_s=1, in_for_s=2
        )
        await monitoring.alerting.provision(group, rules, served.url, 300, config_id="config-1734100000000")
        try:
            written = yaml.safe_load(monitoring_lab.paths.alertmanager_config.read_text())
            names = [r["name"] for r in written["receivers"]]
            # the original's receiver (the service name as it was) is replaced, not left beside ours
            assert f"jenkins-webhook-{group}-out" not in names
            assert [r for r in written["route"]["routes"] if r.get("match", {}).get("service") == group] == []
            (receiver,) = [r for r in written["receivers"] if r["name"] == f"jenkins-webhook-{group.lower()}-out"]
            (hook,) = receiver["webhook_configs"]
            assert hook["url"] == f"{served.url}/api/webhook/autoscale/{group}"
            assert hook["http_config"]["authorization"]["credentials_file"] == str(
                monitoring_lab.paths.webhook_credentials_file
            )

            async def decided() -> bool:
                return any(event.group == group for event in served.scaler.fired)

            await eventually(decided, "the rewritten receiver's alert reaching the scaler")
            (event,) = [e for e in served.scaler.fired if e.group == group]
            assert event.alertname == f"{group}_HighResourceUsage"
        finally:
            await monitoring.alerting.remove(group)
