"""The gateway's HTTP and heartbeat metrics: route templates, never raw paths; bounded labels."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, generate_latest

from services.gateway.heartbeats import HeartbeatBoard
from services.gateway.metrics import GatewayMetrics, HttpMetricsMiddleware
from shared.messages import ServiceHeartbeat
from testkit.clock import FakeClock
from testkit.promtool import lint_metrics


def app_with_metrics() -> tuple[FastAPI, CollectorRegistry, HeartbeatBoard, FakeClock]:
    clock = FakeClock(datetime(2026, 12, 7, 4, 0, tzinfo=UTC))
    registry = CollectorRegistry()
    board = HeartbeatBoard(clock, stale_after_s=10)
    app = FastAPI()

    @app.get("/api/v1/groups/{name}")
    async def group(name: str) -> dict[str, str]:
        return {"name": name}

    app.add_middleware(HttpMetricsMiddleware, metrics=GatewayMetrics(registry, board))
    return app, registry, board, clock


async def test_requests_are_counted_by_route_template_not_by_path() -> None:
    app, registry, _, _ = app_with_metrics()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        for name in ("web", "api", "db"):
            assert (await client.get(f"/api/v1/groups/{name}")).status_code == 200
        assert (await client.get("/no/such/path/web-20261207-0001")).status_code == 404
        assert (await client.request("BREW", "/api/v1/groups/web")).status_code == 405
    value = registry.get_sample_value
    route = "/api/v1/groups/{name}"
    assert value("vmscale_gateway_http_requests_total", {"method": "GET", "route": route, "status": "200"}) == 3.0
    assert value("vmscale_gateway_http_request_duration_seconds_count", {"method": "GET", "route": route}) == 3.0
    assert value("vmscale_gateway_http_requests_total", {"method": "GET", "route": "other", "status": "404"}) == 1.0
    text = generate_latest(registry).decode()
    assert "web-20261207-0001" not in text and 'route="/api/v1/groups/web"' not in text
    assert 'method="OTHER"' in text  # an invented method does not become a label value


def test_heartbeat_age_and_health_are_shown_per_service() -> None:
    _, registry, board, clock = app_with_metrics()
    board.record(
        ServiceHeartbeat(
            service="scaler", instance="h-1", pid=1, started_at=clock.now(), version="0", healthy=True, problems={}
        )
    )
    clock.advance(4)
    assert registry.get_sample_value("vmscale_service_heartbeat_age_seconds", {"service": "scaler"}) == 4.0
    assert registry.get_sample_value("vmscale_service_healthy", {"service": "scaler"}) == 1.0
    assert registry.get_sample_value("vmscale_service_healthy", {"service": "inventory"}) == 0.0
    clock.advance(20)
    assert registry.get_sample_value("vmscale_service_healthy", {"service": "scaler"}) == 0.0


def test_a_rejection_reason_outside_the_known_set_is_counted_as_other() -> None:
    registry = CollectorRegistry()
    metrics = GatewayMetrics(registry, HeartbeatBoard(FakeClock(), 10))
    metrics.rejected("unauthorized")
    metrics.rejected("Something; DROP TABLE")
    assert registry.get_sample_value("vmscale_alerts_rejected_total", {"reason": "unauthorized"}) == 1.0
    assert registry.get_sample_value("vmscale_alerts_rejected_total", {"reason": "other"}) == 1.0
    assert lint_metrics(generate_latest(registry).decode()) is None
