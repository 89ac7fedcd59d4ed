"""Scaling groups: CRUD, enable/disable, manual scaling, suspend/resume, instances, YAML export/import.

Everything is answered by the scaler over ``query.scaler.*``; the original's
``/api/autoscaling/configs`` paths are kept as aliases.

Hook targets and parameters are secrets (``shared.redaction``): only admins (who may change them)
see them; everyone else, and every YAML export, gets them masked. A masked value that comes back
in a replace or an import keeps the stored value it stands for.
"""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Body, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.gateway.api.params import GroupName, VmName
from services.gateway.auth.model import Principal, Role
from services.gateway.deps import Admin, Operator, State, Viewer, client_address, rate_limit
from services.gateway.errors import PayloadTooLarge
from services.gateway.group_health import SCALING_PROCESSES, ScalingProcess
from services.gateway.openapi import RATE_LIMITED
from shared.errors import InvalidInput
from shared.messages import (
    DryRunReply,
    GroupReply,
    GroupsReply,
    GroupView,
    InstanceReply,
    InstancesReply,
    OperationReply,
    ScaleReply,
    ValidationReply,
)
from shared.redaction import HOOK_FIELDS, MASK, mask_hooks, restore_hooks

__all__ = ["router"]

router = APIRouter(tags=["groups"])

Process = ScalingProcess
PROCESSES: tuple[str, ...] = SCALING_PROCESSES


class ScaleRequest(BaseModel):
    """Manual scaling: a desired capacity or a change by ``delta``, with the operator's reason."""

    desired: int | None = Field(default=None, ge=0, le=1000, strict=True)
    delta: int | None = Field(default=None, ge=-100, le=100, strict=True)
    honor_cooldown: bool = Field(default=False, strict=True)
    reason: str = Field(default="", max_length=200, description="why, in the operator's words (kept in the audit log)")


class ProcessesRequest(BaseModel):
    """Processes to suspend or resume."""

    processes: list[Process] = Field(min_length=1, max_length=len(PROCESSES))


class ImportResult(BaseModel):
    """What an import did, per group."""

    created: list[str] = []
    updated: list[str] = []


def _masked_view(group: GroupView) -> GroupView:
    return group.model_copy(update={"spec": mask_hooks(group.spec)})


def _shown(reply: GroupReply, me: Principal) -> GroupReply:
    """The reply as ``me`` may see it: hooks masked below admin."""
    if me.role.allows(Role.ADMIN) or reply.group is None:
        return reply
    return reply.model_copy(update={"group": _masked_view(reply.group)})


def _no_masked_hooks(spec: dict[str, Any]) -> None:
    """422 for a hook that still holds a masked value (nothing stored to stand for)."""
    for name in HOOK_FIELDS:
        hook = spec.get(name)
        if isinstance(hook, dict) and (
            str(hook.get("target", "")).endswith(MASK) or MASK in (hook.get("parameters") or {}).values()
        ):
            raise InvalidInput(f"{name} holds a masked value; give the real target and parameters", field=name)


async def _stored_spec(state: Any, name: str) -> dict[str, Any] | None:
    reply = await state.scaler.group(name)
    return dict(reply.group.spec) if reply.group is not None else None


async def _groups(state: Any) -> GroupsReply:
    reply: GroupsReply = await state.scaler.groups()
    return reply


@router.get("/api/v1/groups", response_model=list[GroupView], summary="List scaling groups")
async def list_groups(state: State, me: Viewer) -> list[GroupView]:
    """Every group with its size and status (hooks masked below admin)."""
    groups = (await _groups(state)).groups
    return list(groups) if me.role.allows(Role.ADMIN) else [_masked_view(group) for group in groups]


@router.get("/api/v1/groups/{name}", response_model=GroupReply, summary="One group: instances, activities, drift")
async def get_group(name: GroupName, state: State, me: Viewer) -> GroupReply:
    """A group with its instances, recent activities and drift (hooks masked below admin)."""
    return _shown(await state.scaler.group(name), me)


async def _save(state: Any, spec: dict[str, Any], create: bool, actor: str) -> GroupReply:
    reply: GroupReply = await state.scaler.save_group(spec, create=create, actor=actor)
    state.directory.forget(str(spec.get("name", "")) or None)
    return reply


@router.post("/api/v1/groups/validate", response_model=ValidationReply, summary="Check settings without saving")
async def validate_group(
    state: State, _: Operator, spec: Annotated[dict[str, Any], Body(examples=[{"name": "web"}])]
) -> ValidationReply:
    """The MUST validations, the flapping lint, and whether job, template and pool exist.

    200 with ``problems`` listed (empty when the settings can be saved and enabled)."""
    return await state.scaler.validate(spec)


@router.post("/api/v1/groups/{name}/dry-run", response_model=DryRunReply, summary="What would happen now, and why")
async def dry_run_group(name: GroupName, state: State, _: Viewer) -> DryRunReply:
    """Each trigger's decision (scale-out alert, scale-in alert, target tracking) with the values
    it sees now — computed by the scaler's own decision code, but nothing is stored or started."""
    return await state.scaler.dry_run(name)


@router.post("/api/v1/groups", response_model=GroupReply, status_code=201, summary="Create a group")
async def create_group(
    request: Request, state: State, me: Admin, spec: Annotated[dict[str, Any], Body(examples=[{"name": "web"}])]
) -> GroupReply:
    """Create a group from its settings (the scaler validates them; 422 lists the reasons)."""
    _no_masked_hooks(spec)
    reply = await _save(state, spec, True, me.name)
    await state.audit(me, "group.create", str(spec.get("name", "")), client_address(request))
    return reply


@router.put("/api/v1/groups/{name}", response_model=GroupReply, summary="Replace a group's settings")
async def update_group(
    name: GroupName, request: Request, state: State, me: Admin, spec: Annotated[dict[str, Any], Body()]
) -> GroupReply:
    """Replace the settings; thresholds re-render the alert rules. A body without ``enabled``
    keeps the group's current state (enabling and disabling are explicit: a settings edit never
    stops a group by leaving the field out)."""
    if spec.get("name", name) != name:
        raise InvalidInput("the name in the body differs from the path", field="name")
    given = sorted(spec)
    stored = await _stored_spec(state, name)
    if "enabled" not in spec and stored is not None:
        spec = {**spec, "enabled": stored.get("enabled", False)}
    restored = restore_hooks({**spec, "name": name}, stored)
    _no_masked_hooks(restored)
    reply = await _save(state, restored, False, me.name)
    await state.audit(me, "group.update", name, client_address(request), fields=given)
    return reply


@router.delete("/api/v1/groups/{name}", response_model=OperationReply, summary="Delete a group (its VMs stay)")
async def delete_group(name: GroupName, request: Request, state: State, me: Admin) -> OperationReply:
    """Delete a group: its alerts, routes and silences go; its VMs stay."""
    reply = await state.scaler.delete_group(name, actor=me.name)
    state.directory.forget(name)
    await state.audit(me, "group.delete", name, client_address(request))
    return reply


async def _set_enabled(name: str, enabled: bool, request: Request, state: Any, me: Any) -> GroupReply:
    reply: GroupReply = await state.scaler.set_enabled(name, enabled, actor=me.name)
    state.directory.forget(name)
    await state.audit(me, "group.enable" if enabled else "group.disable", name, client_address(request))
    return _shown(reply, me)


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
    reply = await state.scaler.scale(
        name, desired=body.desired, delta=body.delta, honor_cooldown=body.honor_cooldown, actor=me.name
    )
    await state.audit(
        me, "group.scale", name, client_address(request), desired=body.desired, delta=body.delta, reason=body.reason
    )
    return reply


async def _suspend(
    name: str, body: ProcessesRequest, suspend: bool, request: Request, state: Any, me: Any
) -> GroupReply:
    processes = tuple(body.processes)
    reply: GroupReply = await state.scaler.suspend(
        name, suspend=processes if suspend else (), resume=() if suspend else processes, actor=me.name
    )
    action = "group.suspend" if suspend else "group.resume"
    await state.audit(me, action, name, client_address(request), processes=list(processes))
    return _shown(reply, me)


@router.post("/api/v1/groups/{name}/suspend", response_model=GroupReply, summary="Suspend processes")
async def suspend(name: GroupName, body: ProcessesRequest, request: Request, state: State, me: Operator) -> GroupReply:
    """Suspend scaling processes (``GET /api/v1/scaling-processes`` lists them)."""
    return await _suspend(name, body, True, request, state, me)


@router.post("/api/v1/groups/{name}/resume", response_model=GroupReply, summary="Resume processes")
async def resume(name: GroupName, body: ProcessesRequest, request: Request, state: State, me: Operator) -> GroupReply:
    """Resume suspended processes."""
    return await _suspend(name, body, False, request, state, me)


@router.get("/api/v1/groups/{name}/instances", response_model=InstancesReply, summary="Instances of a group")
async def instances(name: GroupName, state: State, _: Viewer, include_terminated: bool = False) -> InstancesReply:
    """The group's instances."""
    return await state.scaler.instances(name, include_terminated=include_terminated)


async def _protect(name: str, vm: str, protected: bool, request: Request, state: Any, me: Any) -> InstanceReply:
    reply: InstanceReply = await state.scaler.protect(name, vm, protected, actor=me.name)
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
    reply = await state.scaler.detach(name, vm, actor=me.name)
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
    """A YAML document ``groups: [...]`` that ``import`` accepts back; hooks are masked (an
    import of the document keeps the stored hooks)."""
    specs = [mask_hooks({**group.spec, "name": group.name}) for group in (await _groups(state)).groups]
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
    existing = {group.name: dict(group.spec) for group in (await _groups(state)).groups}
    result = ImportResult()
    for given in specs:
        create = given["name"] not in existing
        spec = restore_hooks(given, existing.get(given["name"]))
        _no_masked_hooks(spec)
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
