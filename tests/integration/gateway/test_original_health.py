"""``GET /health`` answers as the original backend did, for monitors that still call it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.gateway.gateway_support import Gateway


async def test_health_answers_the_original_shape_without_credentials(gateway: Gateway) -> None:
    before = datetime.now(UTC)
    response = await gateway.client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "timestamp"} and body["status"] == "ok"
    # JavaScript's toISOString(): milliseconds and a Z
    assert len(body["timestamp"]) == 24 and body["timestamp"].endswith("Z")
    stamp = datetime.strptime(body["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert before - timedelta(milliseconds=1) <= stamp <= datetime.now(UTC)
