"""Templates, VMs with their IPs, networks, datastores, compute and folders (from inventory's cache)
and the load balancer's pools, virtual servers and members. The original's paths are aliases."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from services.gateway.api.params import VmName
from services.gateway.backend import ask, send
from services.gateway.deps import Operator, State, Viewer, client_address
from shared import subjects
from shared.errors import NotFound
from shared.messages import (
    ComputeQuery,
    ComputeReply,
    DatastoresQuery,
    DatastoresReply,
    DeleteTemplate,
    FoldersQuery,
    FoldersReply,
    ListPoolMembers,
    ListPools,
    ListVirtualServers,
    MakeTemplate,
    NetworksQuery,
    NetworksReply,
    PoolMembersReply,
    PoolsReply,
    TemplateInfo,
    TemplatesQuery,
    TemplatesReply,
    VirtualServersReply,
    VmInfo,
    VmQuery,
    VmReply,
    VmsQuery,
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


def _timeout(state: Any) -> float:
    return float(state.settings.backend_timeout_s)


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
    query = VmsQuery(name_prefix=name_prefix, power_state=power_state, has_ip=has_ip, group=group, limit=limit)
    reply: VmsReply = await ask(state.runtime.bus, subjects.QUERY_INVENTORY_VMS, query, _timeout(state))
    return reply


@router.get("/api/v1/vms/{name}", response_model=VmInfo, tags=["inventory"], summary="One VM")
async def get_vm(name: VmName, state: State, _: Viewer) -> VmInfo:
    """One VM by name."""
    reply: VmReply = await ask(state.runtime.bus, subjects.QUERY_INVENTORY_VM, VmQuery(name=name), _timeout(state))
    if reply.vm is None:
        raise NotFound("no such VM", name=name)
    return reply.vm


@router.get("/api/v1/templates", response_model=list[TemplateInfo], tags=["templates"], summary="Templates")
async def list_templates(state: State, _: Viewer) -> list[TemplateInfo]:
    """Templates (vCenter's template flag, not name heuristics)."""
    reply: TemplatesReply = await ask(
        state.runtime.bus, subjects.QUERY_INVENTORY_TEMPLATES, TemplatesQuery(), _timeout(state)
    )
    return list(reply.templates)


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
    await send(
        state.runtime.bus,
        subjects.CMD_TEMPLATE_CREATE,
        MakeTemplate(
            source_vm=body.vm_name.strip(), template_name=body.template_name.strip(), description=body.description
        ),
    )
    await state.audit(me, "template.create", body.template_name, client_address(request), source_vm=body.vm_name)
    return Accepted(operation="template.create", target=body.template_name)


@router.delete(
    "/api/v1/templates/{name}", response_model=Accepted, status_code=202, tags=["templates"], summary="Delete"
)
async def delete_template(name: VmName, request: Request, state: State, me: Operator) -> Accepted:
    """Queue the deletion of a template."""
    await send(state.runtime.bus, subjects.CMD_TEMPLATE_DELETE, DeleteTemplate(template_name=name))
    await state.audit(me, "template.delete", name, client_address(request))
    return Accepted(operation="template.delete", target=name)


@router.get("/api/v1/networks", response_model=NetworksReply, tags=["inventory"], summary="vCenter networks")
async def networks(state: State, _: Viewer) -> NetworksReply:
    """Network names to pick from (avoids free-text VLAN typos)."""
    reply: NetworksReply = await ask(
        state.runtime.bus, subjects.QUERY_INVENTORY_NETWORKS, NetworksQuery(), _timeout(state)
    )
    return reply


@router.get("/api/v1/datastores", response_model=DatastoresReply, tags=["inventory"], summary="Datastores")
async def datastores(state: State, _: Viewer) -> DatastoresReply:
    """Datastores with capacity."""
    reply: DatastoresReply = await ask(
        state.runtime.bus, subjects.QUERY_INVENTORY_DATASTORES, DatastoresQuery(), _timeout(state)
    )
    return reply


@router.get("/api/v1/compute", response_model=ComputeReply, tags=["inventory"], summary="Clusters, hosts, pools")
async def compute(state: State, _: Viewer) -> ComputeReply:
    """Clusters, hosts and resource pools for placement pick-lists."""
    reply: ComputeReply = await ask(
        state.runtime.bus, subjects.QUERY_INVENTORY_COMPUTE, ComputeQuery(), _timeout(state)
    )
    return reply


@router.get("/api/v1/folders", response_model=FoldersReply, tags=["inventory"], summary="VM folders")
async def folders(state: State, _: Viewer) -> FoldersReply:
    """VM folders."""
    reply: FoldersReply = await ask(
        state.runtime.bus, subjects.QUERY_INVENTORY_FOLDERS, FoldersQuery(), _timeout(state)
    )
    return reply


# -- load balancer ----------------------------------------------------------------------------


@router.get("/api/v1/lb/pools", response_model=PoolsReply, tags=["load balancer"], summary="Pools")
async def lb_pools(state: State, _: Viewer) -> PoolsReply:
    """Pools (F5) or backends (HAProxy)."""
    reply: PoolsReply = await ask(state.runtime.bus, subjects.QUERY_POOL_POOLS, ListPools(), _timeout(state))
    return reply


@router.get("/api/v1/lb/virtual-servers", response_model=VirtualServersReply, tags=["load balancer"])
async def lb_virtual_servers(state: State, _: Viewer) -> VirtualServersReply:
    """Virtual servers (F5) or frontends (HAProxy) with their pools."""
    reply: VirtualServersReply = await ask(
        state.runtime.bus, subjects.QUERY_POOL_VIRTUAL_SERVERS, ListVirtualServers(), _timeout(state)
    )
    return reply


@router.get("/api/v1/lb/pools/{pool}/members", response_model=PoolMembersReply, tags=["load balancer"])
async def lb_members(pool: str, state: State, _: Viewer) -> PoolMembersReply:
    """Members of a pool with admin state, health and connections."""
    reply: PoolMembersReply = await ask(
        state.runtime.bus, subjects.QUERY_POOL_MEMBERS, ListPoolMembers(pool=pool), _timeout(state)
    )
    return reply


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
