"""Commands to the load balancer service and its events."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.messages.base import Command, Event, Query, Reply

__all__ = [
    "AddPoolMember",
    "CancelDrain",
    "DrainCancelled",
    "DrainPoolMember",
    "ListPoolMembers",
    "ListPools",
    "ListVirtualServers",
    "MemberAdmin",
    "MemberHealth",
    "MemberState",
    "PoolDriftDetected",
    "PoolInfo",
    "PoolMember",
    "PoolMemberAdded",
    "PoolMemberDrained",
    "PoolMemberRemoved",
    "PoolMembersReply",
    "PoolOperationFailed",
    "PoolUpdated",
    "PoolsReply",
    "RemovePoolMember",
    "VirtualServerInfo",
    "VirtualServersReply",
]


class MemberState(StrEnum):
    """Administrative and health state of a pool member, vendor-neutral."""

    UP = "up"
    DOWN = "down"
    CHECKING = "checking"
    DRAINING = "draining"
    DISABLED = "disabled"
    MAINTENANCE = "maintenance"
    UNKNOWN = "unknown"


class MemberAdmin(StrEnum):
    """What the operator (or vmscale) set: takes new connections, drains, or takes none."""

    ENABLED = "enabled"
    DISABLED = "disabled"
    OFFLINE = "offline"


class MemberHealth(StrEnum):
    """What the load balancer's health monitor says about the member."""

    UP = "up"
    DOWN = "down"
    CHECKING = "checking"
    UNCHECKED = "unchecked"
    UNKNOWN = "unknown"


class PoolMember(BaseModel):
    """One member as the load balancer reports it.

    ``state`` is the summary; ``admin`` and ``health`` (optional, added later) are its two
    sources, so a consumer can tell "disabled but healthy" from "enabled but down".
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    address: str
    port: int
    state: MemberState
    connections: int = 0
    admin: MemberAdmin | None = None
    health: MemberHealth | None = None


class PoolInfo(BaseModel):
    """A pool (F5) or backend (HAProxy) as the load balancer reports it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    partition: str | None = None
    monitor: str | None = None
    member_count: int = 0


class VirtualServerInfo(BaseModel):
    """A virtual server (F5) or frontend (HAProxy): where clients connect, and its pool."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    address: str
    port: int
    pool: str | None = None
    partition: str | None = None


class AddPoolMember(Command):
    """Add ``address:port`` to ``pool``; idempotent. With ``wait_healthy`` reply once it is up."""

    activity_id: str | None = None
    pool: str
    name: str
    address: str
    port: int = Field(ge=1, le=65535)
    wait_healthy: bool = True
    timeout_s: float = Field(default=120.0, gt=0)


class PoolMemberAdded(Event):
    """The member is in the pool (and healthy, when the command waited)."""

    activity_id: str | None = None
    pool: str
    name: str
    address: str
    port: int
    state: MemberState


class DrainPoolMember(Command):
    """Stop new connections, wait for current ones to end or ``timeout_s``, take it offline."""

    activity_id: str | None = None
    pool: str
    name: str
    timeout_s: float = Field(default=300.0, ge=0)


class PoolMemberDrained(Event):
    """The member takes no traffic; ``final_connections`` were still open at the end."""

    activity_id: str | None = None
    pool: str
    name: str
    final_connections: int
    drain_seconds: float


class RemovePoolMember(Command):
    """Remove the member (and its node when no other pool uses it); a missing member is success."""

    activity_id: str | None = None
    pool: str
    name: str


class PoolMemberRemoved(Event):
    """The member is gone."""

    activity_id: str | None = None
    pool: str
    name: str


class PoolUpdated(Event):
    """The full member list of a pool after a change; other teams subscribe to it."""

    pool: str
    members: tuple[PoolMember, ...]


class CancelDrain(Command):
    """Stop a drain in progress and re-enable the member."""

    activity_id: str | None = None
    pool: str
    name: str


class DrainCancelled(Event):
    """A drain was stopped and the member takes new connections again."""

    activity_id: str | None = None
    pool: str
    name: str


class PoolDriftDetected(Event):
    """The pool differs from the membership vmscale recorded.

    ``missing``: recorded members the load balancer lacks; ``unexpected``: members the load
    balancer has that vmscale never added (reported, never removed); ``mismatched``: recorded
    members whose admin state differs. ``repaired`` lists what the reconcile fixed.
    """

    pool: str
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    mismatched: tuple[str, ...] = ()
    repaired: tuple[str, ...] = ()


class ListPools(Query):
    """Which pools the load balancer has."""


class PoolsReply(Reply):
    """Answer to ``ListPools``."""

    pools: tuple[PoolInfo, ...] = ()


class ListVirtualServers(Query):
    """Which virtual servers (frontends) the load balancer has."""


class VirtualServersReply(Reply):
    """Answer to ``ListVirtualServers``."""

    virtual_servers: tuple[VirtualServerInfo, ...] = ()


class ListPoolMembers(Query):
    """The members of one pool with health and connections."""

    pool: str


class PoolMembersReply(Reply):
    """Answer to ``ListPoolMembers``; a missing pool is an error, never an empty list."""

    pool: str
    members: tuple[PoolMember, ...] = ()


class PoolOperationFailed(Event):
    """A pool command failed."""

    activity_id: str | None = None
    pool: str
    name: str
    operation: str
    reason: str
    error_kind: str
    retryable: bool = False
