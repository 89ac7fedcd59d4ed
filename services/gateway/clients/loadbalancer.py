"""The load balancer service as the gateway asks it: pools, virtual servers, members (``query.pool.*``)."""

from __future__ import annotations

from services.gateway.clients.base import BackendClient
from shared import subjects
from shared.messages import (
    ListPoolMembers,
    ListPools,
    ListVirtualServers,
    PoolMembersReply,
    PoolsReply,
    VirtualServersReply,
)

__all__ = ["LoadBalancerClient"]


class LoadBalancerClient(BackendClient):
    """Typed calls to the load balancer service; every method raises what ``BackendClient`` documents."""

    async def pools(self) -> PoolsReply:
        """Pools (F5) or backends (HAProxy)."""
        return await self._ask(subjects.QUERY_POOL_POOLS, ListPools(), PoolsReply)

    async def virtual_servers(self) -> VirtualServersReply:
        """Virtual servers (F5) or frontends (HAProxy) with their pools."""
        return await self._ask(subjects.QUERY_POOL_VIRTUAL_SERVERS, ListVirtualServers(), VirtualServersReply)

    async def members(self, pool: str) -> PoolMembersReply:
        """Members of a pool with admin state, health and connections."""
        return await self._ask(subjects.QUERY_POOL_MEMBERS, ListPoolMembers(pool=pool), PoolMembersReply)
