"""The one port of the loadbalancer service: pool membership on F5 BIG-IP or HAProxy
(and, in the tests, the in-memory fake of ``testkit/loadbalancer/memory.py``).

Callers type against the narrowest Protocol they use: queries take a ``PoolReader``; the
membership use cases take ``PoolMembers``. Every implementation runs the same contract suite
(``tests/contracts/loadbalancer.py``).

Identity: a member is named (the VM name) and has an address (IP, F5 route domain as ``%N``)
and a port — the application port on the VM, never the virtual server's port.
"""

from __future__ import annotations

from typing import Protocol

from shared.messages import PoolInfo, PoolMember, VirtualServerInfo

__all__ = ["PoolMembers", "PoolReader"]


class PoolReader(Protocol):
    """Read-only view of a load balancer."""

    async def pools(self) -> list[PoolInfo]:
        """Every pool (F5) or backend (HAProxy), sorted by name.

        Raises ``ServiceUnavailable``/``OperationTimeout`` when the load balancer cannot be
        reached, ``Unauthorized`` when it refuses our credentials.
        """
        ...

    async def virtual_servers(self) -> list[VirtualServerInfo]:
        """Every virtual server (F5) or frontend (HAProxy) with its address, port and pool."""
        ...

    async def members(self, pool: str) -> list[PoolMember]:
        """The members of ``pool`` with admin state, health and current connections, by name.

        A pool that does not exist raises ``ConfigurationError`` — never an empty list.
        """
        ...


class PoolMembers(PoolReader, Protocol):
    """Changes pool membership. Every method blocks until the load balancer applied it."""

    async def add(self, pool: str, name: str, address: str, port: int) -> PoolMember:
        """Ensure ``name`` (``address:port``) is in ``pool``, monitored but taking no new connections.

        A new member starts *disabled* with health checks running, so it gets no traffic
        until the caller ``enable``s it (normally once health is up). Idempotent: when the
        member already exists with the same address and port it is returned unchanged.
        Raises ``Conflict`` when the name is taken by another address or port,
        ``ConfigurationError`` for a missing pool, ``InvalidInput`` for a bad name, address
        or port.
        """
        ...

    async def enable(self, pool: str, name: str) -> None:
        """Let the member take new connections (when healthy). Idempotent.

        Raises ``NotFound`` for an unknown member, ``ConfigurationError`` for a missing pool.
        """
        ...

    async def disable(self, pool: str, name: str) -> None:
        """Drain: no new connections except those of existing persistence records; open ones go on.

        Idempotent; raises like ``enable``.
        """
        ...

    async def force_offline(self, pool: str, name: str) -> None:
        """Take no new connections at all; open ones are not cut. Idempotent; raises like ``enable``."""
        ...

    async def remove(self, pool: str, name: str) -> bool:
        """Take the member offline and delete it; True when it existed, False when it was absent.

        Connections still open are not waited for (callers drain first; HAProxy ends them so
        the server can be deleted). On F5 the node is deleted too when no other pool
        references it. Raises ``ConfigurationError`` for a missing pool.
        """
        ...
