"""Commands to the load balancer service and its events."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.messages.base import Command, Event

__all__ = [
    "AddPoolMember",
    "DrainPoolMember",
    "MemberState",
    "PoolMember",
    "PoolMemberAdded",
    "PoolMemberDrained",
    "PoolMemberRemoved",
    "PoolOperationFailed",
    "PoolUpdated",
    "RemovePoolMember",
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


class PoolMember(BaseModel):
    """One member as the load balancer reports it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    address: str
    port: int
    state: MemberState
    connections: int = 0


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


class PoolOperationFailed(Event):
    """A pool command failed."""

    activity_id: str | None = None
    pool: str
    name: str
    operation: str
    reason: str
    error_kind: str
    retryable: bool = False
