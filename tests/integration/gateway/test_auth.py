"""Sessions, CSRF, API keys, roles, rate limits and the first admin, on real PostgreSQL and Redis."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import httpx

from services.gateway.app import create_app
from tests.integration.gateway.gateway_support import ADMIN_PASSWORD, Gateway, gateway_settings


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


def from_address(gateway: Gateway, address: str) -> httpx.AsyncClient:
    """A client of the gateway whose requests come from ``address``."""
    transport = httpx.ASGITransport(app=gateway.app, client=(address, 5555))
    return httpx.AsyncClient(transport=transport, base_url="http://gateway")


async def make_user(
    admin: httpx.AsyncClient, username: str, role: str, password: str = "a long enough password"
) -> int:
    response = await admin.post("/api/v1/users", json={"username": username, "password": password, "role": role})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def test_a_demoted_owners_api_key_loses_the_role_at_once(gateway: Gateway) -> None:
    admin = await gateway.login()
    ada = await make_user(admin, "ada", "admin")
    as_ada = await gateway.login("ada", "a long enough password")
    key = (await as_ada.post("/api/v1/api-keys", json={"name": "ada-ci", "role": "admin"})).json()["key"]
    bearer = {"Authorization": f"Bearer {key}"}
    assert (await gateway.client.get("/api/v1/users", headers=bearer)).status_code == 200
    assert (await admin.patch(f"/api/v1/users/{ada}", json={"role": "viewer"})).status_code == 200
    me = await gateway.client.get("/api/v1/auth/me", headers=bearer)
    assert me.json()["role"] == "viewer"
    assert (await gateway.client.get("/api/v1/users", headers=bearer)).status_code == 403


async def test_a_password_change_ends_the_users_sessions(gateway: Gateway) -> None:
    admin = await gateway.login()
    olga = await make_user(admin, "olga", "operator")
    sessions = [await gateway.login("olga", "a long enough password") for _ in range(2)]
    assert [(await s.get("/api/v1/auth/me")).status_code for s in sessions] == [200, 200]
    changed = await admin.patch(f"/api/v1/users/{olga}", json={"password": "a brand new password"})
    assert changed.status_code == 200
    assert [(await s.get("/api/v1/auth/me")).status_code for s in sessions] == [401, 401]
    assert (await admin.get("/api/v1/auth/me")).status_code == 200
    await gateway.login("olga", "a brand new password")


async def test_a_legacy_scrypt_hash_logs_in_and_is_rehashed(gateway: Gateway) -> None:
    admin = await gateway.login()
    leo = await make_user(admin, "leo", "viewer")
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(b"a long enough password", salt=salt, n=2**14, r=8, p=1, dklen=32)
    legacy = f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    gateway.state.auth.users.update(leo, password_hash=legacy)
    await gateway.login("leo", "a long enough password")
    stored = gateway.state.auth.users.get(leo).password_hash
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    await gateway.login("leo", "a long enough password")  # the new hash logs in too


async def test_spraying_user_names_from_one_address_is_limited(gateway: Gateway) -> None:
    limit = gateway.settings.login_rate_per_min
    sprayer = from_address(gateway, "127.0.0.77")
    codes = [
        (await sprayer.post("/api/v1/auth/login", json={"username": f"user{i}", "password": "x"})).status_code
        for i in range(limit + 1)
    ]
    assert codes[:limit] == [401] * limit and codes[-1] == 429
    # the limit is the address's: the admin logs in from elsewhere
    assert (
        await gateway.client.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    ).status_code == 200


async def test_a_locked_user_name_does_not_lock_other_users(gateway: Gateway) -> None:
    admin = await gateway.login()
    await make_user(admin, "vera", "viewer")
    failures = gateway.settings.login_failures_per_user
    codes = []
    for i in range(failures):  # one guess each from many addresses: the per-address limit never trips
        client = from_address(gateway, f"127.0.1.{i + 1}")
        codes.append((await client.post("/api/v1/auth/login", json={"username": "admin", "password": "x"})).status_code)
    assert codes == [401] * failures
    elsewhere = from_address(gateway, "127.0.2.1")
    locked = await elsewhere.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
    same_address = from_address(gateway, "127.0.1.1")
    vera = await same_address.post(
        "/api/v1/auth/login", json={"username": "vera", "password": "a long enough password"}
    )
    assert vera.status_code == 200
    outcomes = [e.outcome for e in gateway.state.audit_log.recent(20, action="auth.login") if e.target == "admin"]
    assert "locked" in outcomes


async def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(
    nats_url: str, redis_url: str, postgres_database: str, prefix: str, tmp_path: Path, js_cleanup: None
) -> None:
    for trusted, expected in (((), "127.0.0.9"), (("127.0.0.9",), "127.0.0.66")):
        settings = gateway_settings(nats_url, redis_url, postgres_database, prefix, tmp_path, trusted_proxies=trusted)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.9", 5555))
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                response = await client.post(
                    "/api/v1/auth/login",
                    json={"username": "admin", "password": "wrong"},
                    headers={"X-Forwarded-For": "127.0.0.66"},
                )
            assert response.status_code == 401
            assert app.state.gateway.audit_log.recent(1, action="auth.login")[0].source == expected
