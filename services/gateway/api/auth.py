"""Log in and out, who am I; users and API keys (admin); the audit log."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from services.gateway.api.params import RowId
from services.gateway.auth.model import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from services.gateway.auth.service import csrf_for, key_public, user_public
from services.gateway.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Admin,
    Operator,
    State,
    Viewer,
    client_address,
    rate_limit,
)
from services.gateway.errors import Forbidden
from services.gateway.openapi import RATE_LIMITED
from shared.errors import NotFound, RateLimited, Unauthorized

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["auth"])


class LoginRequest(BaseModel):
    """User name and password (sent in the body, never in the URL)."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class Me(BaseModel):
    """The caller."""

    name: str
    role: str
    via: str
    csrf_token: str | None = None


class AuditEntryPublic(BaseModel):
    """One audit record."""

    id: int | None
    at: datetime
    actor: str
    action: str
    target: str
    source: str
    outcome: str
    detail: dict[str, object]


@router.post(
    "/auth/login",
    response_model=Me,
    summary="Log in; sets an HttpOnly session cookie",
    responses={401: {"description": "Wrong username or password, or a disabled user"}, **RATE_LIMITED},
)
async def login(body: LoginRequest, request: Request, response: Response, state: State) -> Me:
    """Open a session. The session cookie is HttpOnly and SameSite=Strict; the CSRF token is
    returned in the body and in a readable cookie, and must come back in ``X-CSRF-Token``."""
    source = client_address(request)
    name = body.username.lower()
    settings = state.settings
    # Checked before the password is hashed (19 MiB of Argon2id each): the whole gateway, then the
    # source address (spraying many names from one place), then the name (guessing one
    # password from many places; locks that name only, with a growing back-off).
    await rate_limit(state, "login-total", "all", settings.login_total_per_min)
    await rate_limit(state, "login", source, settings.login_rate_per_min)
    if state.lockouts is not None and (wait := await state.lockouts.locked(name)) is not None:
        await state.audit(name[:64], "auth.login", name[:64], source, "locked")
        raise RateLimited("this user name is locked after failed logins; try again later", retry_after_s=wait)
    try:
        result = await asyncio.to_thread(state.auth.login, body.username, body.password)
    except Unauthorized:
        await state.audit(name[:64], "auth.login", name[:64], source, "denied")
        if state.lockouts is not None:
            await state.lockouts.failed(name, settings.login_failures_per_user, settings.login_lockout_s)
        raise
    if state.lockouts is not None:
        await state.lockouts.succeeded(name)
    secure = state.settings.secure_cookies
    response.set_cookie(
        SESSION_COOKIE, result.token, max_age=result.expires_in_s, httponly=True, samesite="strict", secure=secure
    )
    response.set_cookie(
        CSRF_COOKIE, result.csrf, max_age=result.expires_in_s, httponly=False, samesite="strict", secure=secure
    )
    await state.audit(result.user.username, "auth.login", result.user.username, source)
    return Me(name=result.user.username, role=result.user.role.value, via="session", csrf_token=result.csrf)


@router.post("/auth/logout", status_code=204, summary="End the session")
async def logout(request: Request, response: Response, state: State, me: Viewer) -> Response:
    """Forget the session and clear the cookies."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await asyncio.to_thread(state.auth.logout, token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    await state.audit(me, "auth.logout", me.name, client_address(request))
    return response


@router.get("/auth/me", response_model=Me, summary="Who is calling")
async def whoami(request: Request, me: Viewer) -> Me:
    """The caller's name and role (and, for a session, its CSRF token)."""
    token = request.cookies.get(SESSION_COOKIE)
    csrf = csrf_for(token) if token and me.via == "session" else None
    return Me(name=me.name, role=me.role.value, via=me.via, csrf_token=csrf)


# -- users (admin) ----------------------------------------------------------------------------


@router.get("/users", response_model=list[UserPublic], tags=["users"], summary="List users")
async def list_users(state: State, _: Admin) -> list[UserPublic]:
    """Every user (never a password hash)."""
    return [user_public(user) for user in await asyncio.to_thread(state.auth.users.list)]


@router.post("/users", response_model=UserPublic, status_code=201, tags=["users"], summary="Create a user")
async def create_user(body: UserCreate, request: Request, state: State, me: Admin) -> UserPublic:
    """A new user; the password is hashed (Argon2id) and never shown again."""
    user = await asyncio.to_thread(state.auth.create_user, body)
    await state.audit(me, "user.create", user.username, client_address(request), role=user.role.value)
    return user


@router.patch("/users/{user_id}", response_model=UserPublic, tags=["users"], summary="Change a user")
async def update_user(user_id: RowId, body: UserUpdate, request: Request, state: State, me: Admin) -> UserPublic:
    """Change role, disable, or set a new password; each of these ends the user's sessions (all but
    yours, when you change yourself)."""
    own = request.cookies.get(SESSION_COOKIE) if me.via == "session" else None
    user = await asyncio.to_thread(state.auth.update_user, user_id, body, me, own)
    changed = sorted(key for key, value in body.model_dump().items() if value is not None)
    await state.audit(me, "user.update", user.username, client_address(request), fields=changed)
    return user


@router.delete("/users/{user_id}", status_code=204, tags=["users"], summary="Delete a user")
async def delete_user(user_id: RowId, request: Request, state: State, me: Admin) -> Response:
    """Remove a user with its sessions and keys (not yourself)."""
    if me.user_id == user_id:
        raise Forbidden("you cannot delete your own account")
    user = await asyncio.to_thread(state.auth.users.get, user_id)
    if user is None:
        raise NotFound("no such user", name=str(user_id))
    await asyncio.to_thread(state.auth.users.delete, user_id)
    await state.audit(me, "user.delete", user.username, client_address(request))
    return Response(status_code=204)


# -- API keys ---------------------------------------------------------------------------------


@router.get("/api-keys", response_model=list[ApiKeyPublic], tags=["api-keys"], summary="List API keys")
async def list_keys(state: State, _: Admin) -> list[ApiKeyPublic]:
    """Every key, by prefix only."""
    return [key_public(key) for key in await asyncio.to_thread(state.auth.keys.list)]


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201, tags=["api-keys"], summary="Create a key")
async def create_key(body: ApiKeyCreate, request: Request, state: State, me: Admin) -> ApiKeyCreated:
    """A new key; the full key is in this response only, and stored as a hash."""
    created = await asyncio.to_thread(state.auth.create_key, body, me)
    await state.audit(me, "api_key.create", created.name, client_address(request), role=created.role.value)
    return created


@router.post("/api-keys/{key_id}/revoke", response_model=ApiKeyPublic, tags=["api-keys"], summary="Revoke a key")
async def revoke_key(key_id: RowId, request: Request, state: State, me: Admin) -> ApiKeyPublic:
    """Revoke a key at once (idempotent)."""
    key = key_public(await asyncio.to_thread(state.auth.keys.revoke, key_id))
    await state.audit(me, "api_key.revoke", key.name, client_address(request))
    return key


# -- audit ------------------------------------------------------------------------------------


@router.get("/audit", response_model=list[AuditEntryPublic], tags=["audit"], summary="The audit log, newest first")
async def audit_log(
    state: State,
    _: Operator,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> list[AuditEntryPublic]:
    """Who changed what, when, from where."""
    entries = await asyncio.to_thread(state.audit_log.recent, limit, actor, action)
    return [AuditEntryPublic(**entry.__dict__) for entry in entries]
