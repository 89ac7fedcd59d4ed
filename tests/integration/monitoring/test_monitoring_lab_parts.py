"""The lab's monitoring parts start, answer and behave like the programs they stand for."""

from __future__ import annotations

import httpx

from lab.agent import get_state, set_health, set_load
from tests.contracts.monitoring_lab import AgentFleet, MonitoringLab


def test_prometheus_and_alertmanager_answer_with_the_lifecycle_api(monitoring_lab: MonitoringLab) -> None:
    assert httpx.get(f"{monitoring_lab.prometheus_url}/-/ready").status_code == 200
    assert httpx.post(f"{monitoring_lab.prometheus_url}/-/reload").status_code == 200
    assert httpx.post(f"{monitoring_lab.alertmanager_url}/-/reload").status_code == 200
    assert monitoring_lab.paths.file_sd_dir.is_dir()
    assert monitoring_lab.paths.webhook_credentials_file.stat().st_mode & 0o077 == 0


def test_grafana_simulator_requires_the_service_account_token(monitoring_lab: MonitoringLab) -> None:
    url = f"{monitoring_lab.grafana_url}/api/folders"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    token = monitoring_lab.grafana.token_file.read_text().strip()
    assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_an_agent_serves_node_metrics_that_follow_the_load_it_is_given(agents: AgentFleet) -> None:
    address = agents.start("vm-lab-1", cpu=10)
    metrics = httpx.get(f"http://{address}:9100/metrics").text
    assert 'node_cpu_seconds_total{cpu="0",mode="idle"}' in metrics
    assert "node_memory_MemAvailable_bytes" in metrics
    assert set_load(address, cpu=95, memory=50) == {"cpu": 95.0, "memory": 50.0, "healthy": True}
    assert get_state(address)["cpu"] == 95.0
    assert httpx.get(f"http://{address}:8080/").status_code == 200
    set_health(address, False)
    assert httpx.get(f"http://{address}:8080/").status_code == 503


def test_an_agent_refuses_a_load_outside_0_to_100(agents: AgentFleet) -> None:
    address = agents.start("vm-lab-2")
    response = httpx.put(f"http://{address}:9100/control/load", json={"cpu": 150})
    assert response.status_code == 400
    assert get_state(address)["cpu"] == 5.0
