"""The Alertmanager webhook against real NATS, Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from services.gateway.webhook.ingest import episode_key
from shared.messages import ScaleDirection, deterministic_id
from tests.integration.gateway.gateway_support import WEBHOOK_TOKEN, Gateway

AUTH = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
ZERO = "0001-01-01T00:00:00Z"


def alert(
    name: str = "web_HighResourceUsage", fingerprint: str = "a1b2c3", starts: str = "2026-01-01T10:00:00Z", **kw: Any
) -> dict[str, Any]:
    status = kw.pop("status", "firing")
    return {
        "status": status,
        "labels": {"alertname": name, "service": "web", "severity": "warning", **kw.pop("labels", {})},
        "annotations": {"summary": "cpu high"},
        "startsAt": starts,
        "endsAt": kw.pop("ends", ZERO if status == "firing" else "2026-01-01T10:05:00Z"),
        "generatorURL": "http://127.0.0.1:19090/graph",
        "fingerprint": fingerprint,
        **kw,
    }


def notification(*alerts: dict[str, Any], **kw: Any) -> dict[str, Any]:
    body = {
        "version": "4",
        "groupKey": '{}:{alertname="web_HighResourceUsage"}',
        "truncatedAlerts": 0,
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "receiver": "jenkins-webhook-web-out",
        "groupLabels": {"alertname": "web_HighResourceUsage"},
        "commonLabels": {"service": "web"},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:19093",
        "alerts": list(alerts),
    }
    body.update(kw)
    return body


async def post(gw: Gateway, body: Any, group: str = "web", headers: dict[str, str] | None = None):
    return await gw.client.post(
        f"/api/webhook/autoscale/{group}", json=body, headers=AUTH if headers is None else headers
    )


async def settle() -> None:
    await asyncio.sleep(0.3)


async def test_the_same_firing_group_five_times_publishes_one_episode_and_answers_200_each_time(
    gateway: Gateway,
) -> None:
    body = notification(alert())
    codes = [(await post(gateway, body)).status_code for _ in range(5)]
    assert codes == [200] * 5
    await gateway.wait_alerts(1)
    await settle()
    assert len(gateway.scaler.fired) == 1
    event = gateway.scaler.fired[0]
    assert event.group == "web" and event.direction is ScaleDirection.OUT and event.fingerprint == "a1b2c3"
    assert event.message_id == deterministic_id("alert", episode_key("web", gateway_alert(body)))


def gateway_alert(body: dict[str, Any]):
    from services.gateway.webhook.model import AlertmanagerPayload

    return AlertmanagerPayload.model_validate(body).alerts[0]


async def test_concurrent_duplicates_still_store_one_event(gateway: Gateway) -> None:
    body = notification(alert(fingerprint="ccc"))
    responses = await asyncio.gather(*(post(gateway, body) for _ in range(8)))
    assert {r.status_code for r in responses} == {200}
    await gateway.wait_alerts(1)
    await settle()
    assert len(gateway.scaler.fired) == 1


async def test_a_repeat_is_dropped_but_a_new_episode_after_a_resolve_is_published(gateway: Gateway) -> None:
    first = notification(alert(starts="2026-01-01T10:00:00Z"))
    assert (await post(gateway, first)).json()["published"] == 1
    repeat = await post(gateway, first)
    assert repeat.json() == {"group": "web", "published": 0, "duplicates": 1, "truncated": 0}
    await post(gateway, notification(alert(status="resolved", starts="2026-01-01T10:00:00Z")))
    again = await post(gateway, notification(alert(starts="2026-01-01T11:00:00Z")))
    assert again.json()["published"] == 1
    await gateway.wait_alerts(3)
    await settle()
    assert [e.starts_at.hour for e in gateway.scaler.fired] == [10, 11]
    assert len(gateway.scaler.resolved) == 1


async def test_resolved_alerts_never_become_fired_events(gateway: Gateway) -> None:
    response = await post(gateway, notification(alert(status="resolved")))
    assert response.status_code == 200
    await gateway.wait_alerts(1)
    await settle()
    assert gateway.scaler.fired == []
    assert gateway.scaler.resolved[0].ends_at.minute == 5


async def test_a_mixed_group_publishes_the_firing_alert_as_fired_and_the_other_as_resolved(gateway: Gateway) -> None:
    body = notification(alert(fingerprint="f1"), alert(fingerprint="f2", status="resolved"))
    assert (await post(gateway, body)).json()["published"] == 2
    await gateway.wait_alerts(2)
    assert [e.fingerprint for e in gateway.scaler.fired] == ["f1"]
    assert [e.fingerprint for e in gateway.scaler.resolved] == ["f2"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        json.dumps(notification(alert(), version="3")).encode(),
        json.dumps({k: v for k, v in notification(alert()).items() if k != "alerts"}).encode(),
        json.dumps(notification(alert(starts="yesterday"))).encode(),
        json.dumps(notification(alert(starts="2026-01-01"))).encode(),
        json.dumps(notification(alert(), alerts=[])).encode(),
    ],
    ids=["malformed-json", "wrong-version", "missing-alerts", "non-rfc3339-startsAt", "date-only", "empty-alerts"],
)
async def test_a_bad_payload_is_422_and_nothing_is_published(gateway: Gateway, body: bytes) -> None:
    response = await gateway.client.post(
        "/api/webhook/autoscale/web", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 422
    await settle()
    assert gateway.scaler.fired == [] and gateway.scaler.resolved == []


async def test_unknown_fields_from_newer_alertmanagers_are_accepted(gateway: Gateway) -> None:
    body = notification(
        alert(extra_alert_field=True), notification_reason="repeat", routeLabels={"team": "infra"}, novel={"a": 1}
    )
    assert (await post(gateway, body)).status_code == 200
    await gateway.wait_alerts(1)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        ({"Authorization": "Bearer wrong-token"}, "wrong"),
        ({"Authorization": f"Token {WEBHOOK_TOKEN}"}, "unknown_scheme"),
        ({"Authorization": "Basic " + base64.b64encode(b"alertmanager:nope").decode()}, "wrong"),
        ({"Authorization": "Bearer "}, "missing"),
    ],
    ids=["missing", "wrong-token", "wrong-scheme", "wrong-basic", "empty-bearer"],
)
async def test_missing_or_wrong_credentials_are_401_before_the_body_is_read_counted_and_audited(
    gateway: Gateway, headers: dict[str, str], reason: str
) -> None:
    # The body is not even JSON: a 401 (not 422) proves it was never parsed.
    response = await gateway.client.post("/api/webhook/autoscale/web", content=b"\x00garbage", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    counted = gateway.state.registry.get_sample_value("vmscale_alerts_rejected_total", {"reason": "unauthorized"})
    assert counted == 1.0
    entries = gateway.state.audit_log.recent(10, action="webhook.unauthorized")
    assert [(e.actor, e.target, e.source, e.outcome) for e in entries] == [
        ("unauthenticated", "/api/webhook/autoscale/web", "127.0.0.9", reason)
    ]
    presented = headers.get("Authorization", "").partition(" ")[2].strip()
    assert WEBHOOK_TOKEN not in repr(entries) and (not presented or presented not in repr(entries))


async def test_a_jenkins_callback_without_credentials_is_audited_with_its_path(gateway: Gateway) -> None:
    body = {"serviceName": "web", "vmName": "web-202601011000", "vmIp": "127.0.10.9", "prometheusJobName": "web"}
    response = await gateway.client.post("/api/webhook/jenkins/vm-created", json=body)
    assert response.status_code == 401
    entries = gateway.state.audit_log.recent(10, action="webhook.unauthorized")
    assert [(e.target, e.source, e.outcome) for e in entries] == [
        ("/api/webhook/jenkins/vm-created", "127.0.0.9", "missing")
    ]


async def test_basic_auth_with_the_token_as_password_is_accepted(gateway: Gateway) -> None:
    basic = "Basic " + base64.b64encode(f"alertmanager:{WEBHOOK_TOKEN}".encode()).decode()
    assert (await post(gateway, notification(alert()), headers={"Authorization": basic})).status_code == 200


async def test_a_body_over_the_limit_is_413(gateway: Gateway) -> None:
    limit = gateway.settings.webhook_max_body_bytes
    big = notification(alert(annotations={"summary": "x" * (limit + 10)}))
    response = await post(gateway, big)
    assert response.status_code == 413

    async def chunks():
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    streamed = await gateway.client.post("/api/webhook/autoscale/web", content=chunks(), headers=AUTH)
    assert streamed.status_code == 413


async def test_truncated_alerts_are_processed_and_counted(gateway: Gateway) -> None:
    response = await post(gateway, notification(alert(), truncatedAlerts=7))
    assert response.status_code == 200 and response.json()["truncated"] == 7
    metric = gateway.state.registry.get_sample_value("vmscale_gateway_webhook_truncated_alerts_total")
    assert metric == 7.0


async def test_a_regex_escaped_receiver_arrives_unescaped(gateway: Gateway) -> None:
    await post(gateway, notification(alert(), receiver=r"jenkins-webhook-scale\.out\(web\)"))
    await gateway.wait_alerts(1)
    assert gateway.scaler.fired[0].receiver == "jenkins-webhook-scale.out(web)"


@pytest.mark.parametrize("group", ["nosuch", "batch"], ids=["unknown", "disabled"])
async def test_an_unknown_or_disabled_group_is_404_and_the_attempt_is_recorded(gateway: Gateway, group: str) -> None:
    response = await post(gateway, notification(alert(name=f"{group}_HighResourceUsage")), group=group)
    assert response.status_code == 404
    assert response.json()["group"] == group
    await settle()
    assert gateway.scaler.fired == []
    entries = gateway.state.audit_log.recent(10, action="webhook.rejected")
    assert [(e.target, e.outcome, e.actor) for e in entries] == [
        (group, "unknown" if group == "nosuch" else "disabled", "alertmanager")
    ]


async def test_when_nats_is_down_the_webhook_answers_503_and_a_retry_after_recovery_publishes(
    gateway: Gateway,
) -> None:
    body = notification(alert(fingerprint="down"))
    broker = gateway.state.runtime.bus.broker
    connection = broker.config.connection_state.connection
    await connection.close()
    response = await post(gateway, body)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    await connection.connect(servers=[gateway.settings.nats_url])
    await gateway.state.runtime.bus.ensure_streams()
    retried = await post(gateway, body)
    assert retried.status_code == 200 and retried.json()["published"] == 1
    await gateway.wait_alerts(1)


async def test_unknown_alertnames_are_passed_on_without_a_direction(gateway: Gateway) -> None:
    await post(gateway, notification(alert(name="DiskFull")))
    await gateway.wait_alerts(1)
    assert gateway.scaler.fired[0].direction is None
    await post(gateway, notification(alert(name="web_LowResourceUsage", fingerprint="low")))
    await gateway.wait_alerts(2)
    assert gateway.scaler.fired[1].direction is ScaleDirection.IN
