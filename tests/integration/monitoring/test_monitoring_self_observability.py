"""vmscale watching itself in the lab: the lab's real Prometheus loads vmscale's own alert rules
and scrapes vmscale's services from the targets file ``vmscale run all`` writes; a rolled-back
scale-out and a dead service raise their alerts (Prometheus' own alerts API shows them); the
monitoring service provisions vmscale's dashboard into the Grafana simulator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, start_http_server

from services.monitoring.own_dashboard import provision_own_dashboard
from services.monitoring.wiring import Monitoring
from services.scaler.metrics import ScalerMetrics
from shared import subjects
from shared.embedded import free_port
from shared.messages import ActivityKind, ActivityRolledBack
from shared.observability import DASHBOARD_UID, SCRAPE_JOB, scrape_targets
from tests.contracts.monitoring_lab import MonitoringLab


@pytest.fixture
def scaler_exposition() -> Iterator[tuple[str, ScalerMetrics]]:
    """A scaler's metric families served on loopback, as its metrics port serves them."""
    registry = CollectorRegistry()
    metrics = ScalerMetrics(registry)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield f"127.0.0.1:{port}", metrics
    finally:
        server.shutdown()
        thread.join(5)


async def poll(http: httpx.AsyncClient, url: str, check: Any, what: str, timeout: float = 45.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = (await http.get(url)).json()["data"]
        found = check(last)
        if found:
            return found
        await asyncio.sleep(0.5)
    raise AssertionError(f"{what}: last answer {json.dumps(last)[:2000]}")


async def test_the_lab_prometheus_loads_vmscales_rules(monitoring_lab: MonitoringLab, http: httpx.AsyncClient) -> None:
    def loaded(data: dict[str, Any]) -> list[str]:
        groups = [g for g in data["groups"] if g["name"] == "vmscale-self"]
        return [rule["name"] for group in groups for rule in group["rules"]]

    names = await poll(http, f"{monitoring_lab.prometheus_url}/api/v1/rules", loaded, "vmscale's rule group")
    assert "VmscaleActivityRolledBack" in names and "VmscaleServiceDown" in names


async def test_a_rolled_back_scale_out_and_a_dead_service_fire_their_alerts(
    monitoring_lab: MonitoringLab, http: httpx.AsyncClient, scaler_exposition: tuple[str, ScalerMetrics]
) -> None:
    address, metrics = scaler_exposition
    targets = monitoring_lab.paths.prometheus_dir / "self_sd" / "vmscale.json"
    dead = f"127.0.0.1:{free_port()}"  # a service that was killed: nothing listens
    targets.write_text(json.dumps(scrape_targets({"scaler": address, "inventory": dead})))
    try:

        def scraped(data: dict[str, Any]) -> bool:
            jobs = {(t["labels"].get("job"), t["labels"].get("service"), t["health"]) for t in data["activeTargets"]}
            return (SCRAPE_JOB, "scaler", "up") in jobs and (SCRAPE_JOB, "inventory", "down") in jobs

        await poll(http, f"{monitoring_lab.prometheus_url}/api/v1/targets", scraped, "both targets scraped")
        metrics.observe(
            subjects.ACTIVITY_ROLLED_BACK,
            ActivityRolledBack(
                activity_id="act-1",
                group="web",
                kind=ActivityKind.SCALE_OUT,
                failed_step="register_monitoring",
                reason="rolled_back: monitoring failed",
                duration_s=12.0,
            ),
        )

        def firing(data: dict[str, Any]) -> set[tuple[str, str]] | None:
            found = {
                (alert["labels"]["alertname"], alert["labels"].get("group") or alert["labels"].get("service", ""))
                for alert in data["alerts"]
                if alert["state"] == "firing"
            }
            wanted = {("VmscaleActivityRolledBack", "web"), ("VmscaleServiceDown", "inventory")}
            return found if wanted <= found else None

        found = await poll(http, f"{monitoring_lab.prometheus_url}/api/v1/alerts", firing, "the two alerts firing")
        assert ("VmscaleServiceDown", "scaler") not in found
    finally:
        targets.unlink(missing_ok=True)


async def test_the_monitoring_service_provisions_vmscales_dashboard_into_grafana(
    monitoring: Monitoring, monitoring_lab: MonitoringLab, http: httpx.AsyncClient
) -> None:
    assert monitoring.dashboards is not None
    url = await provision_own_dashboard(monitoring.dashboards, "prometheus")
    assert DASHBOARD_UID in url
    listed = await monitoring.dashboards.listed()
    assert listed[DASHBOARD_UID][0] == "vmscale"
    token = monitoring_lab.grafana.token_file.read_text().strip()
    stored = await http.get(
        f"{monitoring_lab.grafana_url}/api/dashboards/uid/{DASHBOARD_UID}", headers={"Authorization": f"Bearer {token}"}
    )
    assert stored.status_code == 200
    assert len(stored.json()["dashboard"]["panels"]) >= 15
