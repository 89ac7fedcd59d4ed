"""Request/reply handlers for ``query.pool.*``: pools, virtual servers, members with health."""

from __future__ import annotations

from faststream.nats import NatsRouter

from services.loadbalancer.handlers.commands import SERVICE
from services.loadbalancer.ports import PoolReader
from shared import subjects
from shared.bus import Bus
from shared.errors import ConfigurationError, VmscaleError, kind_of
from shared.messages import (
    ListPoolMembers,
    ListPools,
    ListVirtualServers,
    PoolMembersReply,
    PoolsReply,
    VirtualServersReply,
)

__all__ = ["query_router"]


def query_router(bus: Bus, reader: PoolReader) -> NatsRouter:
    """The three pool queries; failures answer with ``error``/``error_kind`` set."""
    router = NatsRouter()

    @bus.responder(router, subjects.QUERY_POOL_POOLS, SERVICE)
    async def pools(query: ListPools) -> PoolsReply:
        try:
            return PoolsReply(pools=tuple(await reader.pools()), **query.caused_by(query))
        except VmscaleError as exc:
            return PoolsReply(error=str(exc), error_kind=kind_of(exc), **query.caused_by(query))

    @bus.responder(router, subjects.QUERY_POOL_VIRTUAL_SERVERS, SERVICE)
    async def virtual_servers(query: ListVirtualServers) -> VirtualServersReply:
        try:
            found = await reader.virtual_servers()
            return VirtualServersReply(virtual_servers=tuple(found), **query.caused_by(query))
        except VmscaleError as exc:
            return VirtualServersReply(error=str(exc), error_kind=kind_of(exc), **query.caused_by(query))

    @bus.responder(router, subjects.QUERY_POOL_MEMBERS, SERVICE)
    async def members(query: ListPoolMembers) -> PoolMembersReply:
        try:
            found = await reader.members(query.pool)
            return PoolMembersReply(pool=query.pool, members=tuple(found), **query.caused_by(query))
        except ConfigurationError as exc:
            # A missing pool is a configuration error to a command that needs it; to a question
            # about that pool it is simply not there.
            kind = "NotFound" if exc.details.get("pool") == query.pool else kind_of(exc)
            return PoolMembersReply(pool=query.pool, error=str(exc), error_kind=kind, **query.caused_by(query))
        except VmscaleError as exc:
            return PoolMembersReply(pool=query.pool, error=str(exc), error_kind=kind_of(exc), **query.caused_by(query))

    return router
