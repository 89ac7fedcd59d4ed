"""Templates, VMs with their IPs, networks, datastores, compute and folders (from inventory's cache)
and the load balancer's pools, virtual servers and members. The original's paths are aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from services.gateway.api.params import VmName
from services.gateway.deps import Admin, Operator, State, Viewer, client_address
from shared.errors import Conflict, NotFound
from shared.messages import (
    ComputeReply,
    DatastoresReply,
    FoldersReply,
    NetworksReply,
    PoolMembersReply,
    PoolsReply,
    TemplateInfo,
    VirtualServersReply,
    VmInfo,
    VmsReply,
)

__all__ = ["router"]

router = APIRouter()

# A name as the contract takes it (shared.messages.VM_NAME_PATTERN, at most VM_NAME_MAX), with the
# blanks around it the original's form trimmed.
VM_NAME = r"^\s*[A-Za-z0-9][A-Za-z0-9._-]{0,79}\s*$"


class TemplateCreate(BaseModel):
    """Turn a VM into a template (the original's form; names are trimmed and checked)."""

    vm_name: str = Field(pattern=VM_NAME)
    template_name: str = Field(pattern=VM_NAME)
    description: str = Field(default="", max_length=1000)


class Accepted(BaseModel):
    """A long operation was queued; follow it on the events stream."""

    accepted: bool = True
    operation: str
    target: str


@router.get("/api/v1/vms", response_model=VmsReply, tags=["inventory"], summary="VMs with their IPs")
async def list_vms(
    state: State,
    _: Viewer,
    name_prefix: Annotated[str | None, Query(max_length=80)] = None,
    power_state: Annotated[str | None, Query(pattern="^(poweredOn|poweredOff|suspended)$")] = None,
    has_ip: bool | None = None,
    group: Annotated[str | None, Query(max_length=63)] = None,
    limit: Annotated[int | None, Query(ge=1, le=10000)] = None,
) -> VmsReply:
    """VMs from vCenter (templates excluded), filtered."""
    return await state.inventory.vms(
        name_prefix=name_prefix, power_state=power_state, has_ip=has_ip, group=group, limit=limit
    )


@router.get("/api/v1/vms/{name}", response_model=VmInfo, tags=["inventory"], summary="One VM")
async def get_vm(name: VmName, state: State, _: Viewer) -> VmInfo:
    """One VM by name."""
    reply = await state.inventory.vm(name)
    if reply.vm is None:
        raise NotFound("no such VM", name=name)
    return reply.vm


@router.get("/api/v1/templates", response_model=list[TemplateInfo], tags=["templates"], summary="Templates")
async def list_templates(state: State, _: Viewer) -> list[TemplateInfo]:
    """Templates (vCenter's template flag, not name heuristics)."""
    return list((await state.inventory.templates()).templates)


@router.get("/api/v1/templates/{name}", response_model=TemplateInfo, tags=["templates"], summary="One template")
async def get_template(name: VmName, state: State, _: Viewer) -> TemplateInfo:
    """One template by name."""
    for template in await list_templates(state, _):
        if template.vm.name == name:
            return template
    raise NotFound("no such template", name=name)


@router.post(
    "/api/v1/templates", response_model=Accepted, status_code=202, tags=["templates"], summary="Create a template"
)
async def create_template(body: TemplateCreate, request: Request, state: State, me: Operator) -> Accepted:
    """Queue the conversion (5-10 minutes); progress arrives on the events stream."""
    await state.inventory.create_template(body.vm_name.strip(), body.template_name.strip(), body.description)
    await state.audit(me, "template.create", body.template_name, client_address(request), source_vm=body.vm_name)
    return Accepted(operation="template.create", target=body.template_name)


@router.delete(
    "/api/v1/templates/{name}",
    response_model=Accepted,
    status_code=202,
    tags=["templates"],
    summary="Delete",
    responses={409: {"description": "A group uses the template, or vmscale did not create it (without force)"}},
)
async def delete_template(
    name: VmName,
    request: Request,
    state: State,
    me: Admin,
    force: Annotated[bool, Query(description="Delete a template vmscale did not create (audited)")] = False,
) -> Accepted:
    """Queue the deletion of a template (admin).

    Refused (409) while a group uses it (change the group's template first), and for a template
    vmscale did not create unless ``force`` is given; a forced deletion is audited as such.
    """
    template = await get_template(name, state, me)  # 404 when vCenter has no such template
    groups = await state.scaler.groups()
    users = sorted(group.name for group in groups.groups if group.spec.get("template") == name)
    if users:
        raise Conflict(f"template {name!r} is used by group(s) {', '.join(users)}", name=name, groups=users)
    made_by_us = template.created_at is not None
    if not made_by_us and not force:
        raise Conflict(
            f"template {name!r} was not created by vmscale; repeat with force=true to delete it anyway",
            name=name,
        )
    await state.inventory.delete_template(name)
    await state.audit(me, "template.delete", name, client_address(request), forced=not made_by_us)
    return Accepted(operation="template.delete", target=name)


@router.get("/api/v1/networks", response_model=NetworksReply, tags=["inventory"], summary="vCenter networks")
async def networks(state: State, _: Viewer) -> NetworksReply:
    """Network names to pick from (avoids free-text VLAN typos)."""
    return await state.inventory.networks()


@router.get("/api/v1/datastores", response_model=DatastoresReply, tags=["inventory"], summary="Datastores")
async def datastores(state: State, _: Viewer) -> DatastoresReply:
    """Datastores with capacity."""
    return await state.inventory.datastores()


@router.get("/api/v1/compute", response_model=ComputeReply, tags=["inventory"], summary="Clusters, hosts, pools")
async def compute(state: State, _: Viewer) -> ComputeReply:
    """Clusters, hosts and resource pools for placement pick-lists."""
    return await state.inventory.compute()


@router.get("/api/v1/folders", response_model=FoldersReply, tags=["inventory"], summary="VM folders")
async def folders(state: State, _: Viewer) -> FoldersReply:
    """VM folders."""
    return await state.inventory.folders()


# -- load balancer ----------------------------------------------------------------------------


@router.get("/api/v1/lb/pools", response_model=PoolsReply, tags=["load balancer"], summary="Pools")
async def lb_pools(state: State, _: Viewer) -> PoolsReply:
    """Pools (F5) or backends (HAProxy)."""
    return await state.loadbalancer.pools()


@router.get("/api/v1/lb/virtual-servers", response_model=VirtualServersReply, tags=["load balancer"])
async def lb_virtual_servers(state: State, _: Viewer) -> VirtualServersReply:
    """Virtual servers (F5) or frontends (HAProxy) with their pools."""
    return await state.loadbalancer.virtual_servers()


@router.get("/api/v1/lb/pools/{pool}/members", response_model=PoolMembersReply, tags=["load balancer"])
async def lb_members(pool: str, state: State, _: Viewer) -> PoolMembersReply:
    """Members of a pool with admin state, health and connections."""
    return await state.loadbalancer.members(pool)


# -- the original's paths (``/api/templates/vms`` is registered before ``/api/templates/{id}``) --

for _path, _endpoint in (
    ("/api/vms", list_vms),
    ("/api/templates/vms", list_vms),
    ("/api/templates", list_templates),
    ("/api/templates/{name}", get_template),
    ("/api/networks", networks),
    ("/api/f5/pools", lb_pools),
    ("/api/f5/vips", lb_virtual_servers),
):
    router.add_api_route(_path, _endpoint, methods=["GET"], deprecated=True, tags=["original"])
router.add_api_route(
    "/api/templates", create_template, methods=["POST"], status_code=202, deprecated=True, tags=["original"]
)
router.add_api_route(
    "/api/templates/{name}", delete_template, methods=["DELETE"], status_code=202, deprecated=True, tags=["original"]
)
