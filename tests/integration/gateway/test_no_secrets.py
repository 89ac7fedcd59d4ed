"""No secret appears in any response or log line: passwords, the webhook
token, API keys and session tokens are exercised, then every captured byte is grepped."""

from __future__ import annotations

import logging

import pytest

from tests.integration.gateway.gateway_support import ADMIN_PASSWORD, WEBHOOK_TOKEN, Gateway


async def test_no_secret_reaches_a_response_or_a_log_line(
    gateway: Gateway, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    bodies: list[str] = []
    user_password = "operator secret password 7"

    admin = await gateway.login()
    login_response = await gateway.client.post(
        "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
    )
    session_token = login_response.cookies["vmscale_session"]
    bodies.append(login_response.text)
    created = await admin.post(
        "/api/v1/users", json={"username": "olga", "password": user_password, "role": "operator"}
    )
    bodies.append(created.text)
    key_response = await admin.post("/api/v1/api-keys", json={"name": "ci", "role": "viewer"})
    api_key = key_response.json()["key"]
    bearer = {"Authorization": f"Bearer {api_key}"}
    for method, path in [
        ("GET", "/api/v1/users"),
        ("GET", "/api/v1/api-keys"),
        ("GET", "/api/v1/audit"),
        ("GET", "/api/v1/events"),
        ("GET", "/readyz"),
        ("GET", "/api/openapi.json"),
        ("GET", "/api/v1/system/status"),
    ]:
        bodies.append((await admin.request(method, path)).text)
    bodies.append((await gateway.client.get("/api/v1/auth/me", headers=bearer)).text)
    wrong = await gateway.client.post("/api/v1/auth/login", json={"username": "olga", "password": user_password + "x"})
    bodies.append(wrong.text)
    webhook = await gateway.client.post(
        "/api/webhook/autoscale/web", content=b"{}", headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}x"}
    )
    bodies.append(webhook.text)
    bodies.append((await gateway.client.get("/metrics")).text)

    captured = capfd.readouterr()
    haystack = "\n".join([*bodies, caplog.text, captured.out, captured.err])
    for secret in (ADMIN_PASSWORD, user_password, WEBHOOK_TOKEN, api_key, session_token):
        assert secret not in haystack
    # the audit trail was written for these changes, without the secrets
    actions = {entry.action for entry in gateway.state.audit_log.recent(50)}
    assert {"user.create", "api_key.create", "auth.login"} <= actions
