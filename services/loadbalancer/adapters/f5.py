"""``PoolMembers`` on F5 BIG-IP LTM over iControl REST.

Naming: a member's name is its **node** name (the VM name); the BIG-IP member is
``<node>:<port>`` where the port is the application port, never the virtual server's. Adding a
member creates its node implicitly (with the given address, route domain as ``%N``). Removing a
member deletes its node too, in one transaction, unless another pool still references the node.
Pools are named ``name`` (in the default partition) or ``/Partition/name``; paths are escaped
as ``~Partition~name`` with ``%`` sent as ``%25``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from services.loadbalancer.adapters.f5_session import F5Error, F5Session, translate
from services.loadbalancer.model import make_member, validate_member
from shared.errors import ConfigurationError, Conflict, NotFound
from shared.messages import MemberAdmin, MemberHealth, PoolInfo, PoolMember, VirtualServerInfo

__all__ = ["F5Pools", "tilde"]

LTM = "/mgmt/tm/ltm"
_HEALTH = {
    "up": MemberHealth.UP,
    "down": MemberHealth.DOWN,
    "checking": MemberHealth.CHECKING,
    "unchecked": MemberHealth.UNCHECKED,
}
_ENABLE = {"session": "user-enabled", "state": "user-up"}
_DISABLE = {"session": "user-disabled", "state": "user-up"}
_OFFLINE = {"session": "user-disabled", "state": "user-down"}


def tilde(partition: str, name: str) -> str:
    """``~Partition~name`` for a URL path, ``%`` (route domain) escaped as ``%25``."""
    return quote(f"~{partition}~{name}", safe="~:.-_")


def _admin(item: dict[str, Any]) -> MemberAdmin:
    if item.get("state") == "user-down":
        return MemberAdmin.OFFLINE
    return MemberAdmin.DISABLED if item.get("session") == "user-disabled" else MemberAdmin.ENABLED


class F5Pools:
    """BIG-IP pools in ``partition`` (and any ``/Partition/name`` given explicitly)."""

    def __init__(self, session: F5Session, partition: str = "Common") -> None:
        self.session = session
        self.partition = partition

    def _split(self, pool: str) -> tuple[str, str]:
        if pool.startswith("/"):
            partition, _, name = pool.strip("/").rpartition("/")
            return partition or self.partition, name
        return self.partition, pool

    def _display(self, partition: str, name: str) -> str:
        return name if partition == self.partition else f"/{partition}/{name}"

    def _pool_path(self, pool: str) -> str:
        return f"{LTM}/pool/{tilde(*self._split(pool))}"

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None, **details: Any) -> dict[str, Any]:
        try:
            return await self.session.request(method, path, body)
        except F5Error as exc:
            raise translate(exc, **details) from exc

    # -- PoolReader -------------------------------------------------------------------------

    async def pools(self) -> list[PoolInfo]:
        """Every pool with its monitor and member count (one request)."""
        body = await self._call("GET", f"{LTM}/pool?expandSubcollections=true")
        out = []
        for item in body.get("items", []):
            members = (item.get("membersReference") or {}).get("items") or []
            out.append(
                PoolInfo(
                    name=self._display(item.get("partition", self.partition), item["name"]),
                    partition=item.get("partition"),
                    monitor=item.get("monitor") or None,
                    member_count=len(members),
                )
            )
        return sorted(out, key=lambda p: p.name)

    async def virtual_servers(self) -> list[VirtualServerInfo]:
        """Virtual servers; ``destination`` ``/P/127.0.0.1%2:80`` gives address and port."""
        body = await self._call("GET", f"{LTM}/virtual?$select=name,partition,destination,pool")
        out = []
        for item in body.get("items", []):
            target = str(item.get("destination", "")).rsplit("/", 1)[-1]
            separator = "." if target.count(":") > 1 else ":"  # IPv6 destinations end in .port
            address, _, port = target.rpartition(separator)
            pool = item.get("pool")
            pool_name = self._display(*self._split(pool)) if pool else None
            out.append(
                VirtualServerInfo(
                    name=item["name"],
                    address=address,
                    port=int(port) if port.isdigit() else 0,
                    pool=pool_name,
                    partition=item.get("partition"),
                )
            )
        return sorted(out, key=lambda vs: vs.name)

    async def members(self, pool: str) -> list[PoolMember]:
        """Members with admin state, monitor verdict and ``serverside.curConns``."""
        items = await self._items(pool)
        stats = await self._call("GET", f"{self._pool_path(pool)}/members/stats", pool=pool)
        connections: dict[tuple[str, int], int] = {}
        for entry in (stats.get("entries") or {}).values():
            fields = (entry.get("nestedStats") or {}).get("entries") or {}
            node = str((fields.get("nodeName") or {}).get("description", "")).rsplit("/", 1)[-1]
            port = int((fields.get("port") or {}).get("value", 0))
            connections[(node, port)] = int((fields.get("serverside.curConns") or {}).get("value", 0))
        out = []
        for item in items:
            node, port = self._node_port(item)
            admin = _admin(item)
            health = (
                MemberHealth.UNKNOWN
                if admin is MemberAdmin.OFFLINE
                else _HEALTH.get(item.get("state", ""), MemberHealth.UNKNOWN)
            )
            out.append(
                make_member(node, item.get("address", ""), port, admin, health, connections.get((node, port), 0))
            )
        return sorted(out, key=lambda m: m.name)

    # -- PoolMembers ------------------------------------------------------------------------

    async def add(self, pool: str, name: str, address: str, port: int) -> PoolMember:
        """POST the member disabled (node created implicitly); 409 on a race counts as success."""
        validate_member(name, address, port)
        existing = await self._find(pool, name)
        if existing is None:
            partition, _ = self._split(pool)
            body = {"name": f"{name}:{port}", "address": address, "partition": partition, **_DISABLE}
            try:
                await self.session.request("POST", f"{self._pool_path(pool)}/members", body)
            except F5Error as exc:
                if exc.status == 404:
                    raise ConfigurationError(f"pool {pool} does not exist", pool=pool) from exc
                if exc.status != 409 and "address" not in exc.message:
                    raise translate(exc, pool=pool, member=name) from exc
                existing = await self._find(pool, name)
                if existing is None:  # the address belongs to another node
                    raise Conflict(exc.message, pool=pool, member=name) from exc
        member = existing or await self._find(pool, name)
        if member is None:
            raise NotFound(f"member {name} vanished after being added", pool=pool, member=name)
        if (member.address, member.port) != (address, port):
            raise Conflict(f"member {name} already exists as {member.address}:{member.port}", pool=pool, member=name)
        return member

    async def enable(self, pool: str, name: str) -> None:
        """``session: user-enabled, state: user-up``."""
        await self._patch(pool, name, _ENABLE)

    async def disable(self, pool: str, name: str) -> None:
        """``session: user-disabled`` (persistent connections still arrive)."""
        await self._patch(pool, name, _DISABLE)

    async def force_offline(self, pool: str, name: str) -> None:
        """``session: user-disabled, state: user-down`` (nothing new arrives)."""
        await self._patch(pool, name, _OFFLINE)

    async def remove(self, pool: str, name: str) -> bool:
        """Delete the member, and its node in the same transaction when no pool uses it."""
        member = await self._find(pool, name)
        if member is None:
            return False
        partition, _ = self._split(pool)
        member_path = f"{self._pool_path(pool)}/members/{tilde(partition, f'{name}:{member.port}')}"
        if await self._node_shared(partition, name, pool):
            await self._call("DELETE", member_path, pool=pool, member=name)
            return True
        try:
            transaction = await self.session.request("POST", "/mgmt/tm/transaction", {})
            coordination = {"X-F5-REST-Coordination-Id": str(transaction["transId"])}
            await self.session.request("DELETE", member_path, headers=coordination)
            await self.session.request("DELETE", f"{LTM}/node/{tilde(partition, name)}", headers=coordination)
            await self.session.request(
                "PATCH", f"/mgmt/tm/transaction/{transaction['transId']}", {"state": "VALIDATING"}
            )
        except F5Error as exc:
            if "referenced by a member" not in exc.message and exc.status != 404:
                raise translate(exc, pool=pool, member=name) from exc
            # the node gained a reference meanwhile (or vanished): delete the member alone
            try:
                await self.session.request("DELETE", member_path)
            except F5Error as again:
                if again.status != 404:
                    raise translate(again, pool=pool, member=name) from again
        return True

    # -- internals --------------------------------------------------------------------------

    async def _items(self, pool: str) -> list[dict[str, Any]]:
        try:
            body = await self.session.request("GET", f"{self._pool_path(pool)}/members")
        except F5Error as exc:
            if exc.status == 404:
                raise ConfigurationError(f"pool {pool} does not exist", pool=pool) from exc
            raise translate(exc, pool=pool) from exc
        return list(body.get("items", []))

    @staticmethod
    def _node_port(item: dict[str, Any]) -> tuple[str, int]:
        node, _, port = str(item["name"]).rpartition(":")
        return node, int(port)

    async def _find(self, pool: str, name: str) -> PoolMember | None:
        for item in await self._items(pool):
            node, port = self._node_port(item)
            if node == name:
                admin = _admin(item)
                health = _HEALTH.get(item.get("state", ""), MemberHealth.UNKNOWN)
                if admin is MemberAdmin.OFFLINE:
                    health = MemberHealth.UNKNOWN
                return make_member(node, item.get("address", ""), port, admin, health)
        return None

    async def _patch(self, pool: str, name: str, body: dict[str, str]) -> None:
        member = await self._find(pool, name)
        if member is None:
            raise NotFound(f"member {name} is not in pool {pool}", pool=pool, member=name)
        partition, _ = self._split(pool)
        path = f"{self._pool_path(pool)}/members/{tilde(partition, f'{name}:{member.port}')}"
        await self._call("PATCH", path, body, pool=pool, member=name)

    async def _node_shared(self, partition: str, node: str, pool: str) -> bool:
        body = await self._call("GET", f"{LTM}/pool?expandSubcollections=true")
        own = self._split(pool)
        for item in body.get("items", []):
            if (item.get("partition"), item.get("name")) == own:
                continue
            for member in (item.get("membersReference") or {}).get("items") or []:
                if member.get("partition", partition) == partition and self._node_port(member)[0] == node:
                    return True
        return False
