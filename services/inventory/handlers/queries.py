"""Responders for ``query.inventory.*``, answered from the cache."""

from __future__ import annotations

import asyncio

from faststream.nats import NatsRouter

from services.inventory.service import InventoryService
from shared import subjects
from shared.bus import Bus
from shared.messages import (
    ComputeQuery,
    ComputeReply,
    DatastoresQuery,
    DatastoresReply,
    FoldersQuery,
    FoldersReply,
    InventoryStatusQuery,
    InventoryStatusReply,
    NetworksQuery,
    NetworksReply,
    TemplatesQuery,
    TemplatesReply,
    VmQuery,
    VmReply,
    VmsQuery,
    VmsReply,
)

__all__ = ["build_query_router"]

SERVICE = "inventory"


def build_query_router(bus: Bus, service: InventoryService) -> NatsRouter:
    """The request/reply handlers of the inventory."""
    router = NatsRouter()

    @bus.responder(router, subjects.QUERY_INVENTORY_VMS, SERVICE)
    async def vms(query: VmsQuery) -> VmsReply:
        return service.queries.vms(query)

    @bus.responder(router, subjects.QUERY_INVENTORY_VM, SERVICE)
    async def vm(query: VmQuery) -> VmReply:
        return service.queries.vm(query)

    @bus.responder(router, subjects.QUERY_INVENTORY_TEMPLATES, SERVICE)
    async def templates(query: TemplatesQuery) -> TemplatesReply:
        metadata = await asyncio.to_thread(service.queries.store.templates)
        return service.queries.templates(query, metadata)

    @bus.responder(router, subjects.QUERY_INVENTORY_NETWORKS, SERVICE)
    async def networks(query: NetworksQuery) -> NetworksReply:
        return service.queries.networks(query)

    @bus.responder(router, subjects.QUERY_INVENTORY_DATASTORES, SERVICE)
    async def datastores(query: DatastoresQuery) -> DatastoresReply:
        return service.queries.datastores(query)

    @bus.responder(router, subjects.QUERY_INVENTORY_COMPUTE, SERVICE)
    async def compute(query: ComputeQuery) -> ComputeReply:
        return service.queries.compute(query)

    @bus.responder(router, subjects.QUERY_INVENTORY_FOLDERS, SERVICE)
    async def folders(query: FoldersQuery) -> FoldersReply:
        return service.queries.folders(query)

    @bus.responder(router, subjects.QUERY_INVENTORY_STATUS, SERVICE)
    async def status(query: InventoryStatusQuery) -> InventoryStatusReply:
        return service.queries.status_reply(query)

    return router
