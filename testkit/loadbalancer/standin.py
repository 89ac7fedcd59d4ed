"""The load-balancer stand-in: the members it adds, drains and removes are the members its queries list.

Commands (the scaler's ``cmd.pool.*``) answer with the load balancer's events; queries (the
gateway's and the scaler's ``query.pool.*``) answer from the same ``members`` and ``pools``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from faststream.nats import NatsRouter

from shared import subjects
from shared.bus import Bus
from shared.messages import (
    AddPoolMember,
    DrainPoolMember,
    ListPoolMembers,
    ListPools,
    ListVirtualServers,
    MemberAdmin,
    MemberHealth,
    MemberState,
    PoolInfo,
    PoolMember,
    PoolMemberAdded,
    PoolMemberDrained,
    PoolMemberRemoved,
    PoolMembersReply,
    PoolOperationFailed,
    PoolsReply,
    RemovePoolMember,
    VirtualServerInfo,
    VirtualServersReply,
)
from testkit.standin import Reply, Script, StandIn, failure_kind

__all__ = ["LoadbalancerStandIn", "pool_member"]


def pool_member(name: str, address: str, port: int, state: MemberState) -> PoolMember:
    """A member as the load balancer lists it: enabled unless disabled (drained), health up."""
    admin = MemberAdmin.DISABLED if state is MemberState.DISABLED else MemberAdmin.ENABLED
    return PoolMember(name=name, address=address, port=port, state=state, admin=admin, health=MemberHealth.UP)


@dataclass
class LoadbalancerStandIn(StandIn):
    """The load balancer in memory.

    ``members``: (pool, member name) → (address, port, state); ``pools``: the pools that exist
    (a pool whose last member left still exists).
    """

    service: ClassVar[str] = "loadbalancer"
    operations: ClassVar[dict[str, str]] = {
        subjects.CMD_POOL_ADD.name: "pool_add",
        subjects.CMD_POOL_DRAIN.name: "pool_drain",
        subjects.CMD_POOL_REMOVE.name: "pool_remove",
    }

    members: dict[tuple[str, str], tuple[str, int, MemberState]] = field(default_factory=dict)
    pools: set[str] = field(default_factory=set)
    virtual_servers: tuple[VirtualServerInfo, ...] = ()

    def pool_names(self) -> list[str]:
        """Every pool, sorted."""
        return sorted(self.pools | {pool for pool, _ in self.members})

    def members_of(self, pool: str) -> tuple[PoolMember, ...]:
        """``pool``'s members as the load balancer lists them."""
        return tuple(
            pool_member(name, address, port, state)
            for (in_pool, name), (address, port, state) in self.members.items()
            if in_pool == pool
        )

    # -- commands -------------------------------------------------------------------------------

    def _failure(self, operation: str, message: Any, script: Script) -> Reply:
        event = PoolOperationFailed(
            activity_id=getattr(message, "activity_id", None),
            pool=message.pool,
            name=message.name,
            operation=operation.removeprefix("pool_"),
            reason=script.reason,
            error_kind=failure_kind(script),
            retryable=script.retryable,
            **message.caused_by(message),
        )
        return subjects.POOL_OPERATION_FAILED, event

    def _pool_add(self, cmd: AddPoolMember) -> list[Reply]:
        self.pools.add(cmd.pool)
        self.members[(cmd.pool, cmd.name)] = (cmd.address, cmd.port, MemberState.UP)
        event = PoolMemberAdded(
            activity_id=cmd.activity_id,
            pool=cmd.pool,
            name=cmd.name,
            address=cmd.address,
            port=cmd.port,
            state=MemberState.UP,
        )
        return [(subjects.POOL_MEMBER_ADDED, event)]

    def _pool_drain(self, cmd: DrainPoolMember) -> list[Reply]:
        member = self.members.get((cmd.pool, cmd.name))
        if member is None:
            failed = PoolOperationFailed(
                activity_id=cmd.activity_id,
                pool=cmd.pool,
                name=cmd.name,
                operation="drain",
                reason="member not found",
                error_kind="NotFound",
            )
            return [(subjects.POOL_OPERATION_FAILED, failed)]
        self.members[(cmd.pool, cmd.name)] = (member[0], member[1], MemberState.DISABLED)
        event = PoolMemberDrained(
            activity_id=cmd.activity_id, pool=cmd.pool, name=cmd.name, final_connections=0, drain_seconds=0.0
        )
        return [(subjects.POOL_MEMBER_DRAINED, event)]

    def _pool_remove(self, cmd: RemovePoolMember) -> list[Reply]:
        self.members.pop((cmd.pool, cmd.name), None)
        event = PoolMemberRemoved(activity_id=cmd.activity_id, pool=cmd.pool, name=cmd.name)
        return [(subjects.POOL_MEMBER_REMOVED, event)]

    # -- queries --------------------------------------------------------------------------------

    def external_checks(self) -> dict[str, str]:
        return {"f5": "ok"}

    def add_queries(self, router: NatsRouter, bus: Bus) -> None:
        self._add_health(router, bus)

        @bus.responder(router, subjects.QUERY_POOL_POOLS, "loadbalancer")
        async def pools(query: ListPools) -> PoolsReply:
            return PoolsReply(
                pools=tuple(PoolInfo(name=name, member_count=len(self.members_of(name))) for name in self.pool_names())
            )

        @bus.responder(router, subjects.QUERY_POOL_MEMBERS, "loadbalancer")
        async def members(query: ListPoolMembers) -> PoolMembersReply:
            # as the load balancer: a missing pool is not found, never an empty list
            if query.pool not in self.pool_names():
                error = f"pool {query.pool} does not exist"
                return PoolMembersReply(pool=query.pool, error=error, error_kind="NotFound")
            return PoolMembersReply(pool=query.pool, members=self.members_of(query.pool))

        @bus.responder(router, subjects.QUERY_POOL_VIRTUAL_SERVERS, "loadbalancer")
        async def vips(query: ListVirtualServers) -> VirtualServersReply:
            return VirtualServersReply(virtual_servers=self.virtual_servers)
