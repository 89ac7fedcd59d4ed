"""The webhook's source-address allow-list: off by default, only for the Alertmanager path.

For Alertmanagers still configured like the original's receivers (no credentials) during a
switch-over (docs/migrating.md). Real NATS, Redis and PostgreSQL, a stand-in scaler.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.bus import Bus, Topology, build_broker
from testkit.gateway.fake_scaler import FakeScaler
from tests.integration.gateway.gateway_support import WEBHOOK_TOKEN, Gateway, gateway_settings

NOTIFICATION = {
    "version": "4",
    "groupKey": "{}:{}",
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "jenkins-webhook-web-out",
    "groupLabels": {},
    "commonLabels": {"service": "web"},
    "commonAnnotations": {},
    "externalURL": "http://127.0.0.1:19093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "web_HighResourceUsage", "service": "web", "severity": "warning"},
            "annotations": {},
            "startsAt": "2026-01-01T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:19090/graph",
            "fingerprint": "a1b2c3",
        }
    ],
}
CALLBACK = {"serviceName": "web", "vmName": "web-202512110930", "vmIp": "127.0.10.50", "prometheusJobName": "web"}


@pytest.fixture
async def allowing_gateway(
    nats_url: str, redis_url: str, postgres_database: str, prefix: str, tmp_path: Path, js_cleanup: None
) -> AsyncIterator[Gateway]:
    """A gateway that lets 127.0.0.9 (the test client's address) post without credentials."""
    settings = gateway_settings(
        nats_url, redis_url, postgres_database, prefix, tmp_path, webhook_allowed_sources=("127.0.0.8/31",)
    )
    app = create_app(settings)
    scaler = FakeScaler(groups={"web": True})
    scaler_bus: Bus = build_broker(nats_url, client_name="fake-scaler", topology=Topology(prefix))
    scaler_bus.broker.include_router(scaler.router(scaler_bus))
    async with app.router.lifespan_context(app):
        await scaler_bus.connect()
        await scaler_bus.broker.start()
        transport = httpx.ASGITransport(app=app, client=("127.0.0.9", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            try:
                yield Gateway(app, client, scaler, settings)
            finally:
                await scaler_bus.broker.stop()


async def test_by_default_a_receiver_without_credentials_is_refused(gateway: Gateway) -> None:
    response = await gateway.client.post("/api/webhook/autoscale/web", json=NOTIFICATION)
    assert response.status_code == 401


async def test_an_allowed_source_posts_without_credentials_and_the_setting_is_audited(
    allowing_gateway: Gateway,
) -> None:
    response = await allowing_gateway.client.post("/api/webhook/autoscale/web", json=NOTIFICATION)
    assert response.status_code == 200, response.text
    assert response.json()["published"] == 1
    await allowing_gateway.wait_alerts(1)
    (entry,) = allowing_gateway.state.audit_log.recent(action="settings.weakened")
    assert entry.target == "webhook_allowed_sources" and entry.detail["sources"] == ["127.0.0.8/31"]


async def test_wrong_credentials_from_an_allowed_source_are_still_refused(allowing_gateway: Gateway) -> None:
    headers = {"Authorization": "Bearer not-the-token"}
    response = await allowing_gateway.client.post("/api/webhook/autoscale/web", json=NOTIFICATION, headers=headers)
    assert response.status_code == 401


async def test_the_allow_list_never_opens_another_route(allowing_gateway: Gateway) -> None:
    for path in ("/api/webhook/jenkins/vm-created", "/api/webhook/jenkins/vm-deleted"):
        assert (await allowing_gateway.client.post(path, json=CALLBACK)).status_code == 401
    assert (await allowing_gateway.client.get("/api/v1/groups")).status_code == 401
    token = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
    # the token still works from an allowed address
    ok = await allowing_gateway.client.post("/api/webhook/autoscale/web", json=NOTIFICATION, headers=token)
    assert ok.status_code == 200


async def test_an_address_outside_the_list_still_needs_credentials(allowing_gateway: Gateway) -> None:
    transport = httpx.ASGITransport(app=allowing_gateway.app, client=("127.0.0.20", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as other:
        response = await other.post("/api/webhook/autoscale/web", json=NOTIFICATION)
    assert response.status_code == 401


@pytest.mark.parametrize("bad", [("0.0.0.0/0",), ("::/0",), ("not-an-address",)])
def test_an_allow_list_for_everyone_or_of_nonsense_refuses_to_start(bad: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError, match="webhook_allowed_sources"):
        GatewaySettings(webhook_allowed_sources=bad)
