"""Scaling groups: CRUD, enable/disable, manual scaling, suspend/resume, instances, YAML export/import.

Everything is answered by the scaler over ``query.scaler.*``; the original's
``/api/autoscaling/configs`` paths are kept as aliases.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

import yaml
from fastapi import APIRouter, Body, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.gateway.api.params import GroupName, VmName
from services.gateway.backend import ask
from services.gateway.deps import Admin, Operator, State, Viewer, client_address, rate_limit
from services.gateway.errors import PayloadTooLarge
from services.gateway.openapi import RATE_LIMITED
from shared import subjects
from shared.errors import InvalidInput
from shared.messages import (
    DeleteGroup,
    DetachInstance,
    DryRunGroup,
    DryRunReply,
    GetGroup,
    GroupReply,
    GroupsReply,
    GroupView,
    InstanceReply,
    InstancesReply,
    ListGroups,
    ListInstances,
    ManualScale,
    OperationReply,
    ProtectInstance,
    SaveGroup,
    ScaleReply,
    SetGroupEnabled,
    SetSuspendedProcesses,
    ValidateGroup,
    ValidationReply,
)

__all__ = ["router"]

router = APIRouter(tags=["groups"])

Process = Literal["scale_out", "scale_in", "alerts", "target_tracking", "scheduled", "launch", "terminate", "pool"]
PROCESSES: tuple[str, ...] = get_args(Process)


class ScaleRequest(BaseModel):
    """Manual scaling: a desired capacity or a change by ``delta``."""

    desired: int | None = Field(default=None, ge=0, le=1000, strict=True)
    delta: int | None = Field(default=None, ge=-100, le=100, strict=True)
    honor_cooldown: bool = Field(default=False, strict=True)


class ProcessesRequest(BaseModel):
    """Processes to suspend or resume."""

    processes: list[Process] = Field(min_length=1, max_length=len(PROCESSES))


class ImportResult(BaseModel):
    """What an import did, per group."""

    created: list[str] = []
    updated: list[str] = []


def _timeout(state: Any) -> float:
    return float(state.settings.backend_timeout_s)


async def _groups(state: Any) -> GroupsReply:
    reply: GroupsReply = await ask(state.runtime.bus, subjects.QUERY_SCALER_GROUPS, ListGroups(), _timeout(state))
    return reply


@router.get("/api/v1/groups", response_model=list[GroupView], summary="List scaling groups")
async def list_groups(state: State, _: Viewer) -> list[GroupView]:
    """Every group with its size and status."""
    return list((await _groups(state)).groups)


@router.get("/api/v1/groups/{name}", response_model=GroupReply, summary="One group: instances, activities, drift")
async def get_group(name: GroupName, state: State, _: Viewer) -> GroupReply:
    """A group with its instances, recent activities and drift."""
    reply: GroupReply = await ask(state.runtime.bus, subjects.QUERY_SCALER_GROUP, GetGroup(name=name), _timeout(state))
    return reply


async def _save(state: Any, spec: dict[str, Any], create: bool, actor: str) -> GroupReply:
    reply: GroupReply = await ask(
        state.runtime.bus,
        subjects.QUERY_SCALER_SAVE_GROUP,
        SaveGroup(spec=spec, create=create, actor=actor),
        _timeout(state),
    )
    state.directory.forget(str(spec.get("name", "")) or None)
    return reply


@router.post("/api/v1/groups/validate", response_model=ValidationReply, summary="Check settings without saving")
async def validate_group(
    state: State, _: Operator, spec: Annotated[dict[str, Any], Body(examples=[{"name": "web"}])]
) -> ValidationReply:
    """The MUST validations, the flapping lint, and whether job, template and pool exist.

    200 with ``problems`` listed (empty when the settings can be saved and enabled)."""
    reply: ValidationReply = await ask(
        state.runtime.bus, subjects.QUERY_SCALER_VALIDATE, ValidateGroup(spec=spec), _timeout(state)
    )
    return reply


@router.post("/api/v1/groups/{name}/dry-run", response_model=DryRunReply, summary="What would happen now, and why")
async def dry_run_group(name: GroupName, state: State, _: Viewer) -> DryRunReply:
    """Each trigger's decision (scale-out alert, scale-in alert, target tracking) with the values
    it sees now — computed by the scaler's own decision code, but nothing is stored or started."""
    reply: DryRunReply = await ask(
        state.runtime.bus, subjects.QUERY_SCALER_DRY_RUN, DryRunGroup(name=name), _timeout(state)
    )
    return reply


@router.post("/api/v1/groups", response_model=GroupReply, status_code=201, summary="Create a group")
async def create_group(
    request: Request, state: State, me: Admin, spec: Annotated[dict[str, Any], Body(examples=[{"name": "web"}])]
) -> GroupReply:
    """Create a group from its settings (the scaler validates them; 422 lists the reasons)."""
    reply = await _save(state, spec, True, me.name)
    await state.audit(me, "group.create", str(spec.get("name", "")), client_address(request))
    return reply


@router.put("/api/v1/groups/{name}", response_model=GroupReply, summary="Replace a group's settings")
async def update_group(
    name: GroupName, request: Request, state: State, me: Admin, spec: Annotated[dict[str, Any], Body()]
) -> GroupReply:
    """Replace the settings; thresholds re-render the alert rules."""
    if spec.get("name", name) != name:
        raise InvalidInput("the name in the body differs from the path", field="name")
    reply = await _save(state, {**spec, "name": name}, False, me.name)
    await state.audit(me, "group.update", name, client_address(request), fields=sorted(spec))
    return reply


@router.delete("/api/v1/groups/{name}", response_model=OperationReply, summary="Delete a group (its VMs stay)")
async def delete_group(name: GroupName, request: Request, state: State, me: Admin) -> OperationReply:
    """Delete a group: its alerts, routes and silences go; its VMs stay."""
    reply: OperationReply = await ask(
        state.runtime.bus, subjects.QUERY_SCALER_DELETE_GROUP, DeleteGroup(name=name, actor=me.name), _timeout(state)
    )
    state.directory.forget(name)
    await state.audit(me, "group.delete", name, client_address(request))
    return reply


async def _set_enabled(name: str, enabled: bool, request: Request, state: Any, me: Any) -> GroupReply:
    reply: GroupReply = await ask(
        state.runtime.bus,
        subjects.QUERY_SCALER_SET_ENABLED,
        SetGroupEnabled(name=name, enabled=enabled, actor=me.name),
        _timeout(state),
    )
    state.directory.forget(name)
    await state.audit(me, "group.enable" if enabled else "group.disable", name, client_address(request))
    return reply


@router.post("/api/v1/groups/{name}/enable", response_model=GroupReply, summary="Enable: provision alerts")
async def enable_group(name: GroupName, request: Request, state: State, me: Operator) -> GroupReply:
    """Enable the group (the scaler checks job, template and pool, then provisions alerts)."""
    return await _set_enabled(name, True, request, state, me)


@router.post("/api/v1/groups/{name}/disable", response_model=GroupReply, summary="Disable: remove alerts")
async def disable_group(name: GroupName, request: Request, state: State, me: Operator) -> GroupReply:
    """Disable the group (alerts, routes and silences are removed)."""
    return await _set_enabled(name, False, request, state, me)


@router.post(
    "/api/v1/groups/{name}/scale",
    response_model=ScaleReply,
    summary="Manual scaling (rate-limited)",
    responses=RATE_LIMITED,
)
async def scale_group(name: GroupName, body: ScaleRequest, request: Request, state: State, me: Operator) -> ScaleReply:
    """Set a desired capacity or change it by ``delta``; the scaler still enforces min/max."""
    if (body.desired is None) == (body.delta is None):
        raise InvalidInput("give exactly one of desired and delta", field="desired")
    await rate_limit(state, "scale", f"{me.name}:{name}", state.settings.scale_rate_per_min)
    reply: ScaleReply = await ask(
        state.runtime.bus,
        subjects.QUERY_SCALER_SCALE,
        ManualScale(
            group=name, desired=body.desired, delta=body.delta, honor_cooldown=body.honor_cooldown, actor=me.name
        ),
        _timeout(state),
    )
    await state.audit(me, "group.scale", name, client_address(request), desired=body.desired, delta=body.delta)
    return reply


async def _suspend(
    name: str, body: ProcessesRequest, suspend: bool, request: Request, state: Any, me: Any
) -> GroupReply:
    processes = tuple(body.processes)
    query = SetSuspendedProcesses(
        group=name, suspend=processes if suspend else (), resume=() if suspend else processes, actor=me.name
    )
    reply: GroupReply = await ask(state.runtime.bus, subjects.QUERY_SCALER_SUSPEND, query, _timeout(state))
    action = "group.suspend" if suspend else "group.resume"
    await state.audit(me, action, name, client_address(request), processes=list(processes))
    return reply


@router.post("/api/v1/groups/{name}/suspend", response_model=GroupReply, summary="Suspend processes")
async def suspend(name: GroupName, body: ProcessesRequest, request: Request, state: State, me: Operator) -> GroupReply:
    """Suspend scaling processes (launch, terminate, alert processing, pool registration, ...)."""
    return await _suspend(name, body, True, request, state, me)


@router.post("/api/v1/groups/{name}/resume", response_model=GroupReply, summary="Resume processes")
async def resume(name: GroupName, body: ProcessesRequest, request: Request, state: State, me: Operator) -> GroupReply:
    """Resume suspended processes."""
    return await _suspend(name, body, False, request, state, me)


@router.get("/api/v1/groups/{name}/instances", response_model=InstancesReply, summary="Instances of a group")
async def instances(name: GroupName, state: State, _: Viewer, include_terminated: bool = False) -> InstancesReply:
    """The group's instances."""
    reply: InstancesReply = await ask(
        state.runtime.bus,
        subjects.QUERY_SCALER_INSTANCES,
        ListInstances(group=name, include_terminated=include_terminated),
        _timeout(state),
    )
    return reply


async def _protect(name: str, vm: str, protected: bool, request: Request, state: Any, me: Any) -> InstanceReply:
    reply: InstanceReply = await ask(
        state.runtime.bus,
        subjects.QUERY_SCALER_PROTECT,
        ProtectInstance(group=name, vm_name=vm, protected=protected, actor=me.name),
        _timeout(state),
    )
    await state.audit(me, "instance.protect" if protected else "instance.unprotect", vm, client_address(request))
    return reply


@router.post("/api/v1/groups/{name}/instances/{vm}/protect", response_model=InstanceReply, summary="Protect")
async def protect(name: GroupName, vm: VmName, request: Request, state: State, me: Operator) -> InstanceReply:
    """Protect an instance from scale-in."""
    return await _protect(name, vm, True, request, state, me)


@router.post(
    "/api/v1/groups/{name}/instances/{vm}/detach", response_model=InstanceReply, summary="Detach (the VM stays)"
)
async def detach_instance(name: GroupName, vm: VmName, request: Request, state: State, me: Admin) -> InstanceReply:
    """Take a VM out of the group: it keeps running, in the pool and in Prometheus; vmscale stops
    counting and managing it, and its address leaves the IP pool."""
    query = DetachInstance(group=name, vm_name=vm, actor=me.name)
    reply: InstanceReply = await ask(state.runtime.bus, subjects.QUERY_SCALER_DETACH, query, _timeout(state))
    await state.audit(me, "instance.detach", f"{name}/{vm}", client_address(request))
    state.directory.forget(name)
    return reply


@router.post("/api/v1/groups/{name}/instances/{vm}/unprotect", response_model=InstanceReply, summary="Unprotect")
async def unprotect(name: GroupName, vm: VmName, request: Request, state: State, me: Operator) -> InstanceReply:
    """Lift the protection."""
    return await _protect(name, vm, False, request, state, me)


# -- YAML export / import ---------------------------------------------------------------------


@router.get(
    "/api/v1/export/groups",
    response_class=Response,
    responses={200: {"content": {"application/yaml": {}}}},
    summary="Export every group's settings as YAML",
)
async def export_groups(state: State, _: Viewer) -> Response:
    """A YAML document ``groups: [...]`` that ``import`` accepts back."""
    specs = [{**group.spec, "name": group.name} for group in (await _groups(state)).groups]
    text = yaml.safe_dump({"groups": specs}, sort_keys=False, allow_unicode=True)
    return Response(
        text, media_type="application/yaml", headers={"Content-Disposition": "attachment; filename=groups.yaml"}
    )


@router.post(
    "/api/v1/import/groups",
    response_model=ImportResult,
    openapi_extra={"requestBody": {"content": {"application/yaml": {"schema": {"type": "string"}}}, "required": True}},
    summary="Import groups from YAML (create or replace)",
)
async def import_groups(request: Request, state: State, me: Admin) -> ImportResult:
    """Create or replace each group of the document; stops at the first group the scaler refuses."""
    body = await request.body()
    if len(body) > 1_048_576:
        raise PayloadTooLarge("the document exceeds 1 MiB")
    try:
        document = yaml.safe_load(body.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInput("not a YAML document") from exc
    specs = document.get("groups") if isinstance(document, dict) else None
    if not isinstance(specs, list) or not all(isinstance(spec, dict) and spec.get("name") for spec in specs):
        raise InvalidInput("expected 'groups:' with a list of group settings, each with a name", field="groups")
    existing = {group.name for group in (await _groups(state)).groups}
    result = ImportResult()
    for spec in specs:
        create = spec["name"] not in existing
        await _save(state, spec, create, me.name)
        (result.created if create else result.updated).append(str(spec["name"]))
    await state.audit(me, "group.import", ",".join(result.created + result.updated)[:255], client_address(request))
    return result


# -- the original's paths ---------------------------------------------------------------------

router.add_api_route("/api/autoscaling/configs", list_groups, methods=["GET"], deprecated=True, tags=["original"])
router.add_api_route(
    "/api/autoscaling/configs", create_group, methods=["POST"], status_code=201, deprecated=True, tags=["original"]
)
router.add_api_route("/api/autoscaling/configs/{name}", get_group, methods=["GET"], deprecated=True, tags=["original"])
router.add_api_route(
    "/api/autoscaling/configs/{name}", update_group, methods=["PUT"], deprecated=True, tags=["original"]
)
router.add_api_route(
    "/api/autoscaling/configs/{name}", delete_group, methods=["DELETE"], deprecated=True, tags=["original"]
)
router.add_api_route(
    "/api/autoscaling/configs/{name}/enable", enable_group, methods=["POST"], deprecated=True, tags=["original"]
)
router.add_api_route(
    "/api/autoscaling/configs/{name}/disable", disable_group, methods=["POST"], deprecated=True, tags=["original"]
)
