"""Sessions, CSRF, API keys, roles, rate limits and the first admin, on real PostgreSQL and Redis."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from gateway_support import ADMIN_PASSWORD, Gateway, gateway_settings

from services.gateway.app import create_app

pytestmark = pytest.mark.integration


async def test_login_sets_an_httponly_strict_session_cookie_and_returns_a_csrf_token(gateway: Gateway) -> None:
    response = await gateway.client.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 200
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("vmscale_session="))
    assert "HttpOnly" in session and "SameSite=strict" in session
    csrf = next(c for c in cookies if c.startswith("vmscale_csrf="))
    assert "HttpOnly" not in csrf
    assert response.json()["role"] == "admin"
    assert ADMIN_PASSWORD not in response.text


async def test_a_wrong_password_is_401_and_audited(gateway: Gateway) -> None:
    response = await gateway.client.post("/api/v1/auth/login", json={"username": "admin", "password": "nope"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    denied = gateway.state.audit_log.recent(5, action="auth.login")
    assert denied[0].outcome == "denied" and denied[0].source == "127.0.0.9"


async def test_an_unsafe_request_with_a_session_needs_the_csrf_header(gateway: Gateway) -> None:
    admin = await gateway.login()
    body = {"username": "olga", "password": "a long enough password", "role": "operator"}
    without = await admin.post("/api/v1/users", json=body, headers={"X-CSRF-Token": ""})
    assert without.status_code == 403
    wrong = await admin.post("/api/v1/users", json=body, headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    ok = await admin.post("/api/v1/users", json=body)
    assert ok.status_code == 201 and ok.json()["role"] == "operator"
    assert "password" not in ok.json()


async def test_roles_viewer_cannot_manage_users_and_admin_can(gateway: Gateway) -> None:
    admin = await gateway.login()
    await admin.post("/api/v1/users", json={"username": "vera", "password": "viewer password 1", "role": "viewer"})
    viewer = await gateway.login("vera", "viewer password 1")
    assert (await viewer.get("/api/v1/auth/me")).json()["role"] == "viewer"
    assert (await viewer.get("/api/v1/users")).status_code == 403
    assert (await viewer.post("/api/v1/users", json={})).status_code == 403
    assert (await admin.get("/api/v1/users")).status_code == 200


async def test_an_api_key_works_until_revoked_and_is_only_shown_once(gateway: Gateway) -> None:
    admin = await gateway.login()
    created = await admin.post("/api/v1/api-keys", json={"name": "ci", "role": "operator"})
    assert created.status_code == 201
    key = created.json()["key"]
    listed = (await admin.get("/api/v1/api-keys")).text
    assert key not in listed and created.json()["prefix"] in listed
    bearer = {"Authorization": f"Bearer {key}"}
    me = await gateway.client.get("/api/v1/auth/me", headers=bearer)
    assert me.json() == {"name": "key:ci", "role": "operator", "via": "api_key", "csrf_token": None}
    assert (await gateway.client.get("/api/v1/users", headers=bearer)).status_code == 403
    revoked = await admin.post(f"/api/v1/api-keys/{created.json()['id']}/revoke")
    assert revoked.json()["revoked"] is True
    assert (await gateway.client.get("/api/v1/auth/me", headers=bearer)).status_code == 401


async def test_no_credentials_is_401_and_garbage_credentials_too(gateway: Gateway) -> None:
    assert (await gateway.client.get("/api/v1/auth/me")).status_code == 401
    bad = await gateway.client.get("/api/v1/auth/me", headers={"Authorization": "Bearer vms_deadbeef_nope"})
    assert bad.status_code == 401
    assert (
        await gateway.client.get("/api/v1/auth/me", headers={"Cookie": "vmscale_session=forged"})
    ).status_code == 401


async def test_logins_are_rate_limited_per_address_and_name(gateway: Gateway) -> None:
    limit = gateway.settings.login_rate_per_min
    codes = [
        (await gateway.client.post("/api/v1/auth/login", json={"username": "ghost", "password": "x"})).status_code
        for _ in range(limit + 2)
    ]
    assert codes[:limit] == [401] * limit and codes[-1] == 429
    last = await gateway.client.post("/api/v1/auth/login", json={"username": "ghost", "password": "x"})
    assert int(last.headers["retry-after"]) >= 1


async def test_logout_ends_the_session(gateway: Gateway) -> None:
    admin = await gateway.login()
    assert (await admin.post("/api/v1/auth/logout")).status_code == 204
    assert (await admin.get("/api/v1/auth/me")).status_code == 401


async def test_an_admin_cannot_lock_itself_out(gateway: Gateway) -> None:
    admin = await gateway.login()
    me = next(u for u in (await admin.get("/api/v1/users")).json() if u["username"] == "admin")
    assert (await admin.patch(f"/api/v1/users/{me['id']}", json={"role": "viewer"})).status_code == 409
    assert (await admin.delete(f"/api/v1/users/{me['id']}")).status_code == 403


async def test_without_a_configured_password_the_first_admin_gets_a_generated_one_in_a_private_file(
    nats_url: str, redis_url: str, postgres_database: str, prefix: str, tmp_path: Path, js_cleanup: None
) -> None:
    settings = gateway_settings(nats_url, redis_url, postgres_database, prefix, tmp_path)
    settings = settings.model_copy(update={"initial_admin_password": settings.initial_admin_password.__class__("")})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        password_file = tmp_path / "initial-admin-password"
        assert oct(password_file.stat().st_mode & 0o777) == "0o600"
        password = password_file.read_text().strip()
        assert len(password) >= 24
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
        response = await client.post("/api/v1/auth/login", json={"username": "admin", "password": password})
        assert response.status_code == 200
