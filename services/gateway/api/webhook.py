"""``POST /api/webhook/autoscale/{group}``: the Alertmanager receiver (the original's path).

Order matters: authenticate (401) before reading anything; refuse an oversized body (413) while
reading it; validate (422); look the group up (404, recorded); publish new episodes (503 when
NATS is down, so Alertmanager retries — never 200-and-drop); answer 200 in milliseconds.
"""

from __future__ import annotations

import base64
import binascii
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
from shared.errors import InvalidInput, NotFound, ServiceUnavailable, Unauthorized, VmscaleError

__all__ = ["WebhookAccepted", "router"]

router = APIRouter(tags=["webhook"])

_PAYLOAD_SCHEMA = AlertmanagerPayload.model_json_schema()
_GROUP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class WebhookAccepted(BaseModel):
    """The answer to a notification that was taken in."""

    group: str
    published: int
    duplicates: int
    truncated: int


def _authenticate(state: GatewayState, request: Request) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    scheme = scheme.lower()
    credentials = credentials.strip()
    token = state.webhook_token
    if scheme == "bearer" and token and credentials:
        if constant_time_equals(credentials, token):
            return
    elif scheme == "basic" and credentials:
        password = state.settings.webhook_password.get_secret_value()
        try:
            user, _, given = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, given = "", ""
        secret = password or token
        user_ok = constant_time_equals(user, state.settings.webhook_username)
        if secret and constant_time_equals(given, secret) and user_ok:
            return
    raise Unauthorized("webhook credentials missing or wrong")


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


def _parse(body: bytes) -> AlertmanagerPayload:
    try:
        return AlertmanagerPayload.model_validate_json(body)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(part) for part in err["loc"]), "message": err["msg"]} for err in exc.errors()[:20]
        ]
        raise InvalidInput("not an Alertmanager v4 notification", errors=errors) from exc
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
    try:
        _authenticate(state, request)
        if not _GROUP.match(group):
            raise NotFound("no such scaling group", group=group[:128])
        await rate_limit(state, "webhook", group, state.settings.webhook_rate_per_min, fail_open=True)
        payload = _parse(await _read_body(request, state.settings.webhook_max_body_bytes))
        if not state.runtime.bus.is_connected():
            raise ServiceUnavailable("NATS is unavailable; retry later", retry_after_s=5)
        group_state = await state.directory.state(group)
        if group_state in (GroupState.UNKNOWN, GroupState.DISABLED):
            state.webhook_outcomes.labels(group_state.value).inc()
            await _record_rejection(state, request, group, group_state, payload)
            raise NotFound(f"scaling group is {group_state.value}", group=group)
        assert state.ingest is not None
        result = await state.ingest.ingest(group, payload)
    except VmscaleError as exc:
        if not isinstance(exc, NotFound):
            state.webhook_outcomes.labels(type(exc).__name__).inc()
        raise
    state.webhook_outcomes.labels("accepted").inc()
    if result.truncated:
        state.truncated_alerts.inc(result.truncated)
    return JSONResponse(
        {"group": group, "published": result.published, "duplicates": result.duplicates, "truncated": result.truncated}
    )


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
