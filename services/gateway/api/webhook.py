"""``POST /api/webhook/autoscale/{group}``: the Alertmanager receiver (the original's path).

Order matters: authenticate (401, audited) before reading anything; refuse an oversized body
(413) while reading it; validate (422); look the group up (404, recorded); publish new episodes
(503 when NATS is down, so Alertmanager retries — never 200-and-drop); answer 200 in milliseconds.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from services.gateway.auth.secrets import constant_time_equals
from services.gateway.deps import client_address, rate_limit
from services.gateway.errors import PayloadTooLarge, Problem
from services.gateway.state import GatewayState
from services.gateway.webhook.directory import GroupState
from services.gateway.webhook.model import AlertmanagerPayload
from shared.errors import (
    InvalidInput,
    NotFound,
    RateLimited,
    RetryableError,
    ServiceUnavailable,
    Unauthorized,
    VmscaleError,
)
from shared.problems import field_errors

__all__ = ["WebhookAccepted", "authenticate_webhook", "read_limited_body", "router"]

router = APIRouter(tags=["webhook"])

_GROUP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class WebhookAccepted(BaseModel):
    """The answer to a notification that was taken in."""

    group: str
    published: int
    duplicates: int
    truncated: int


def _refusal(state: GatewayState, request: Request) -> str | None:
    """Why the request's credentials are refused (``missing``, ``unknown_scheme``,
    ``wrong``), or None when they are good. Bearer: the token; Basic: the
    configured user with the webhook password (the token when none is set)."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    scheme = scheme.lower()
    credentials = credentials.strip()
    if scheme not in ("bearer", "basic"):
        return "missing" if not header.strip() else "unknown_scheme"
    if not credentials:
        return "missing"
    token = state.webhook_token
    if scheme == "bearer":
        return None if token and constant_time_equals(credentials, token) else "wrong"
    password = state.settings.webhook_password.get_secret_value()
    try:
        user, _, given = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        user, given = "", ""
    secret = password or token
    user_ok = constant_time_equals(user, state.settings.webhook_username)
    if secret and constant_time_equals(given, secret) and user_ok:
        return None
    return "wrong"


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _source_allowed(state: GatewayState, request: Request) -> bool:
    """No credentials sent, from an address of ``webhook_allowed_sources`` (off by default)."""
    allowed = state.settings.webhook_allowed_sources
    if not allowed or request.headers.get("authorization"):
        return False
    try:
        source = ipaddress.ip_address(client_address(request))
    except ValueError:
        return False
    return any(source in ipaddress.ip_network(cidr, strict=False) for cidr in allowed)


async def authenticate_webhook(state: GatewayState, request: Request) -> None:
    """The webhook's authentication, shared with the Jenkins callbacks: ``Unauthorized`` when
    the credentials are missing or wrong, once the attempt is audited (``webhook.unauthorized``:
    source address, path and why; never what was presented)."""
    reason = _refusal(state, request)
    if reason is None:
        return
    source = client_address(request)
    try:
        # a source sending wrong credentials in a loop is audited up to the webhook's own rate
        # per minute (each refusal is still counted in the metrics); beyond it, nothing is written
        await rate_limit(state, "webhook-refused", source, state.settings.webhook_rate_per_min, fail_open=True)
        await state.audit("unauthenticated", "webhook.unauthorized", request.url.path, source, outcome=reason)
    except (RateLimited, ServiceUnavailable):
        pass  # the 401 stands
    raise Unauthorized("webhook credentials missing or wrong")


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) beyond ``limit`` bytes while it is read."""
    return await _read_body(request, limit)


def _parse(body: bytes) -> AlertmanagerPayload:
    try:
        return AlertmanagerPayload.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidInput("not an Alertmanager v4 notification", errors=field_errors(exc, limit=20)) from exc
    except (ValueError, json.JSONDecodeError) as exc:
        raise InvalidInput("the body is not JSON") from exc


@router.post(
    "/api/webhook/autoscale/{group}",
    summary="Alertmanager webhook receiver (v4 payload)",
    response_model=WebhookAccepted,
    responses={
        401: {"model": Problem, "description": "missing or wrong credentials"},
        404: {"model": Problem, "description": "unknown or disabled group (the attempt is recorded)"},
        413: {"model": Problem, "description": "body too large"},
        422: {"model": Problem, "description": "not an Alertmanager v4 notification"},
        429: {"model": Problem, "description": "rate limited"},
        503: {"model": Problem, "description": "NATS unavailable; Alertmanager retries"},
    },
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": AlertmanagerPayload.model_json_schema()}}}
    },
)
async def alertmanager_webhook(group: str, request: Request) -> JSONResponse:
    """Take in an Alertmanager notification for ``group`` and publish its new alert episodes."""
    state: GatewayState = request.app.state.gateway
    rejection = "unknown_group"
    try:
        if not _source_allowed(state, request):  # the allow-list is for this route only
            await authenticate_webhook(state, request)
        if not _GROUP.match(group):
            raise NotFound("no such scaling group", group=group[:128])
        await rate_limit(state, "webhook", group, state.settings.webhook_rate_per_min, fail_open=True)
        payload = _parse(await _read_body(request, state.settings.webhook_max_body_bytes))
        if not state.runtime.bus.is_connected():
            raise ServiceUnavailable("NATS is unavailable; retry later", retry_after_s=5)
        group_state = await state.directory.state(group)
        if group_state in (GroupState.UNKNOWN, GroupState.DISABLED):
            rejection = f"{group_state.value}_group"
            state.webhook_outcomes.labels(group_state.value).inc()
            await _record_rejection(state, request, group, group_state, payload)
            raise NotFound(f"scaling group is {group_state.value}", group=group)
        assert state.ingest is not None
        result = await state.ingest.ingest(group, payload)
    except VmscaleError as exc:
        if not isinstance(exc, NotFound):
            state.webhook_outcomes.labels(type(exc).__name__).inc()
        state.metrics.rejected(rejection if isinstance(exc, NotFound) else _rejection(exc))
        raise
    state.webhook_outcomes.labels("accepted").inc()
    for alert in payload.alerts:
        state.metrics.alerts_received.labels(alert.status).inc()
    if result.duplicates:
        state.metrics.alerts_deduplicated.inc(result.duplicates)
    if result.truncated:
        state.truncated_alerts.inc(result.truncated)
    return JSONResponse(
        {"group": group, "published": result.published, "duplicates": result.duplicates, "truncated": result.truncated}
    )


def _rejection(exc: VmscaleError) -> str:
    """The ``vmscale_alerts_rejected_total`` reason of a refused notification."""
    if isinstance(exc, Unauthorized):
        return "unauthorized"
    if isinstance(exc, PayloadTooLarge):
        return "too_large"
    if isinstance(exc, InvalidInput):
        return "invalid"
    if isinstance(exc, RateLimited):
        return "rate_limited"
    if isinstance(exc, RetryableError):
        return "unavailable"
    return "other"


async def _record_rejection(
    state: GatewayState, request: Request, group: str, group_state: GroupState, payload: AlertmanagerPayload
) -> None:
    try:
        await state.audit(
            "alertmanager",
            "webhook.rejected",
            group,
            client_address(request),
            outcome=group_state.value,
            alerts=len(payload.alerts),
            alertnames=sorted({alert.labels.get("alertname", "") for alert in payload.alerts})[:10],
        )
    except ServiceUnavailable:
        pass  # the 404 stands; the metric above still counted it
