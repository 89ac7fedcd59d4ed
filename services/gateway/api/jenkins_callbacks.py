"""``POST /api/webhook/jenkins/vm-created`` and ``/vm-deleted``: the original's pipeline callbacks.

The original's Jenkins jobs report each VM they created or deleted (docs/original-system.md §10.3, §11.3)
with ``{serviceName, vmName, vmIp, prometheusJobName, f5PoolName?, f5VipPort?}``. While they
still run beside vmscale (docs/migrating.md), the gateway takes those calls in: authenticated
as the Alertmanager webhook is (401), 400 when one of the four required fields is missing (as
the original), then the scaler adopts the VM into the group (``serviceName``) or marks it gone,
over the bus. Both are idempotent and every accepted call is audited. The answer keeps the
original's shape and adds what vmscale did (``outcome``, ``changed``).
"""

from __future__ import annotations

import json
from ipaddress import IPv4Address
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.gateway.api.webhook import authenticate_webhook, read_limited_body
from services.gateway.deps import client_address
from services.gateway.errors import BadRequest, Problem
from services.gateway.state import GatewayState
from shared.errors import NotFound

__all__ = ["JenkinsCallbackAnswer", "router"]

router = APIRouter(tags=["webhook"])

REQUIRED = ("serviceName", "vmName", "vmIp", "prometheusJobName")
MAX_BODY_BYTES = 65_536


class JenkinsCallbackAnswer(BaseModel):
    """The original's answer, plus what vmscale did."""

    success: bool
    message: str
    serviceName: str
    vmName: str
    vmIp: str
    prometheusJobName: str
    outcome: str
    changed: bool


def _fields(body: bytes) -> dict[str, str]:
    """The four required fields, trimmed; ``BadRequest`` naming what is missing or wrong."""
    try:
        data: Any = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    values = {name: data.get(name) for name in REQUIRED}
    missing = [name for name, value in values.items() if not isinstance(value, str | int) or not str(value).strip()]
    if missing:
        raise BadRequest(f"{', '.join(REQUIRED)} are required", fields=tuple((name, "required") for name in missing))
    fields = {name: str(value).strip() for name, value in values.items()}
    try:
        IPv4Address(fields["vmIp"])
    except ValueError as exc:
        raise BadRequest("vmIp is not an IPv4 address", fields=(("vmIp", "not an IPv4 address"),)) from exc
    if len(fields["vmName"]) > 80 or len(fields["serviceName"]) > 128:
        raise BadRequest("vmName or serviceName is too long", fields=(("vmName", "at most 80 characters"),))
    return fields


async def _callback(request: Request, event: str) -> JSONResponse:
    state: GatewayState = request.app.state.gateway
    await authenticate_webhook(state, request)
    fields = _fields(await read_limited_body(request, MAX_BODY_BYTES))
    group, vm_name, address = fields["serviceName"], fields["vmName"], fields["vmIp"]
    source = client_address(request)
    try:
        if event == "vm-created":
            reply = await state.scaler.adopt(group, vm_name, address, job=fields["prometheusJobName"])
        else:
            reply = await state.scaler.mark_gone(group, vm_name, address)
    except NotFound:
        await state.audit("jenkins", f"jenkins.{event}", group, source, outcome="unknown-group", vm_name=vm_name)
        raise
    await state.audit(
        "jenkins", f"jenkins.{event}", group, source, outcome=reply.outcome, vm_name=vm_name, vm_ip=address
    )
    verb = "adopted" if event == "vm-created" else "marked gone"
    message = f"{vm_name} {verb}" if reply.changed else f"{vm_name}: nothing to do ({reply.outcome})"
    answer = JenkinsCallbackAnswer(
        success=True, message=message, outcome=reply.outcome, changed=reply.changed, **fields
    )
    return JSONResponse(answer.model_dump())


_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "serviceName, vmName, vmIp or prometheusJobName missing or invalid"},
    401: {"model": Problem, "description": "missing or wrong credentials (the webhook's)"},
    404: {"model": Problem, "description": "no group of that serviceName"},
    409: {"model": Problem, "description": "vmscale is itself creating or removing that VM"},
    413: {"model": Problem, "description": "body too large"},
}


@router.post(
    "/api/webhook/jenkins/vm-created",
    summary="The original's scale-out callback: adopt a VM its Jenkins pipeline created",
    response_model=JenkinsCallbackAnswer,
    responses=_RESPONSES,
)
async def vm_created(request: Request) -> JSONResponse:
    """Adopt the VM into the group as an autoscaled instance (no-op if vmscale manages it)."""
    return await _callback(request, "vm-created")


@router.post(
    "/api/webhook/jenkins/vm-deleted",
    summary="The original's scale-in callback: mark a VM its Jenkins pipeline deleted as gone",
    response_model=JenkinsCallbackAnswer,
    responses=_RESPONSES,
)
async def vm_deleted(request: Request) -> JSONResponse:
    """Terminate the VM's instance and release its address (no-op if already gone)."""
    return await _callback(request, "vm-deleted")
