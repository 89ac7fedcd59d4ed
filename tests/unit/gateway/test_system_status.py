"""The system status page's external systems, from each owning service's health answer."""

from __future__ import annotations

from services.gateway.api.status import external_systems
from shared.messages import HealthReply


def test_each_reported_system_carries_its_state_latency_and_what_is_wrong() -> None:
    reply = HealthReply(
        service="monitoring",
        healthy=True,
        checks={"nats": "ok", "prometheus": "ok", "alertmanager": "alertmanager is unreachable: ConnectError"},
        latency_ms={"prometheus": 3.2, "alertmanager": 0.4},
        external=["alertmanager", "prometheus"],
    )
    systems = {s.name: s for s in external_systems("monitoring", reply)}
    assert systems["prometheus"].state == "ok" and systems["prometheus"].latency_ms == 3.2
    assert systems["prometheus"].detail is None and systems["prometheus"].owner == "monitoring"
    assert systems["alertmanager"].state == "failing"
    assert systems["alertmanager"].detail == "alertmanager is unreachable: ConnectError"
    # Grafana is optional: a monitoring service that does not drive one says so
    assert systems["grafana"].state == "not configured" and systems["grafana"].latency_ms is None
    assert "nats" not in systems  # the service's own plumbing is not an external system


def test_a_service_that_did_not_answer_leaves_its_systems_unknown() -> None:
    systems = external_systems("inventory", None)
    assert [(s.name, s.state, s.detail) for s in systems] == [("vcenter", "unknown", "inventory did not answer")]


def test_a_scaler_without_jenkins_reports_it_not_configured() -> None:
    reply = HealthReply(service="scaler", healthy=True, checks={"nats": "ok", "redis": "ok"})
    assert [(s.name, s.state) for s in external_systems("scaler", reply)] == [("jenkins", "not configured")]
