"""The gateway's /metrics over a real gateway (NATS, Redis, PostgreSQL): the webhook's alerts
received, deduplicated and rejected, requests by route template, and promtool's lint."""

from __future__ import annotations

import asyncio

from prometheus_client.parser import text_string_to_metric_families

from testkit.promtool import lint_metrics
from tests.integration.gateway.gateway_support import Gateway
from tests.integration.gateway.test_webhook import AUTH, alert, notification, post


async def test_the_webhook_counts_received_deduplicated_and_rejected_alerts(gateway: Gateway) -> None:
    body = notification(alert(fingerprint="m1"))
    assert (await post(gateway, body)).status_code == 200
    assert (await post(gateway, body)).json()["duplicates"] == 1
    assert (await post(gateway, body, headers={"Authorization": "Bearer wrong"})).status_code == 401
    assert (await post(gateway, body, group="nosuch")).status_code == 404
    assert (await post(gateway, body, group="batch")).status_code == 404
    assert (await gateway.client.post("/api/webhook/autoscale/web", content=b"{no", headers=AUTH)).status_code == 422
    text = (await gateway.client.get("/metrics")).text
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples[("vmscale_alerts_received_total", (("status", "firing"),))] == 2.0
    assert samples[("vmscale_alerts_deduplicated_total", ())] == 1.0
    for reason in ("unauthorized", "unknown_group", "disabled_group", "invalid"):
        assert samples[("vmscale_alerts_rejected_total", (("reason", reason),))] == 1.0, reason
    route = (("method", "POST"), ("route", "/api/webhook/autoscale/{group}"), ("status", "200"))
    assert samples[("vmscale_gateway_http_requests_total", route)] == 2.0
    assert "nosuch" not in text  # an unknown group never becomes a label value


async def test_promtool_accepts_the_gateway_exposition(gateway: Gateway) -> None:
    await post(gateway, notification(alert(fingerprint="m2")))
    text = (await gateway.client.get("/metrics")).text
    assert await asyncio.to_thread(lint_metrics, text) is None
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"vmscale_service_up", "vmscale_bus_published", "vmscale_service_heartbeat_age_seconds"} <= names
