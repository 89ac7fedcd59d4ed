"""Inventory as the gateway asks it: VMs, templates and vCenter objects from its cache
(``query.inventory.*``), and the template commands (``cmd.template.*``)."""

from __future__ import annotations

from services.gateway.clients.base import BackendClient
from shared import subjects
from shared.messages import (
    ComputeQuery,
    ComputeReply,
    DatastoresQuery,
    DatastoresReply,
    DeleteTemplate,
    FoldersQuery,
    FoldersReply,
    InventoryStatusQuery,
    InventoryStatusReply,
    MakeTemplate,
    NetworksQuery,
    NetworksReply,
    TemplatesQuery,
    TemplatesReply,
    VmQuery,
    VmReply,
    VmsQuery,
    VmsReply,
)

__all__ = ["InventoryClient"]


class InventoryClient(BackendClient):
    """Typed calls to inventory; every method raises what ``BackendClient`` documents."""

    async def vms(
        self,
        *,
        name_prefix: str | None = None,
        power_state: str | None = None,
        has_ip: bool | None = None,
        group: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> VmsReply:
        """One page of VMs (templates excluded), filtered; ask again from ``next_offset``."""
        query = VmsQuery(
            name_prefix=name_prefix, power_state=power_state, has_ip=has_ip, group=group, limit=limit, offset=offset
        )
        return await self._ask(subjects.QUERY_INVENTORY_VMS, query, VmsReply)

    async def vm(self, name: str) -> VmReply:
        """One VM by name (``vm`` is None when there is none)."""
        return await self._ask(subjects.QUERY_INVENTORY_VM, VmQuery(name=name), VmReply)

    async def templates(self) -> TemplatesReply:
        """Every template."""
        return await self._ask(subjects.QUERY_INVENTORY_TEMPLATES, TemplatesQuery(), TemplatesReply)

    async def networks(self) -> NetworksReply:
        """vCenter networks."""
        return await self._ask(subjects.QUERY_INVENTORY_NETWORKS, NetworksQuery(), NetworksReply)

    async def datastores(self) -> DatastoresReply:
        """Datastores with their space."""
        return await self._ask(subjects.QUERY_INVENTORY_DATASTORES, DatastoresQuery(), DatastoresReply)

    async def compute(self) -> ComputeReply:
        """Clusters, hosts and resource pools."""
        return await self._ask(subjects.QUERY_INVENTORY_COMPUTE, ComputeQuery(), ComputeReply)

    async def folders(self) -> FoldersReply:
        """VM folders."""
        return await self._ask(subjects.QUERY_INVENTORY_FOLDERS, FoldersQuery(), FoldersReply)

    async def status(self) -> InventoryStatusReply:
        """Inventory's connection to vCenter."""
        return await self._ask(subjects.QUERY_INVENTORY_STATUS, InventoryStatusQuery(), InventoryStatusReply)

    async def create_template(self, source_vm: str, template_name: str, description: str) -> None:
        """Queue turning ``source_vm`` into a template (progress arrives as events)."""
        command = MakeTemplate(source_vm=source_vm, template_name=template_name, description=description)
        await self._send(subjects.CMD_TEMPLATE_CREATE, command)

    async def delete_template(self, template_name: str) -> None:
        """Queue the deletion of a template."""
        await self._send(subjects.CMD_TEMPLATE_DELETE, DeleteTemplate(template_name=template_name))
