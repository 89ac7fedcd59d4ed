"""``PoolMembers`` on HAProxy through its runtime API (Debian's 2.6 and later).

Backends are pools, frontends are virtual servers, servers are members. A member is added with
``add server`` (it starts in maintenance), gets health checks (``enable health``) and is put in
``drain``: checks run but no new connections arrive until ``enable`` (``state ready``). That is
the health gate — a server leaving maintenance straight to ``ready`` would take traffic before
its first check. ``del server`` only works from maintenance, so ``remove`` goes through it and
ends leftover sessions first. Every change is also written to the configuration file, so a
reload keeps the members.
"""

from __future__ import annotations

import asyncio

from services.loadbalancer.adapters.haproxy_config import ConfigFile, PersistedServer
from services.loadbalancer.adapters.haproxy_runtime import RuntimeClient, ServerRow
from services.loadbalancer.model import make_member, validate_member
from shared.errors import Conflict, InvalidInput, NotFound
from shared.messages import MemberAdmin, MemberHealth, PoolInfo, PoolMember, VirtualServerInfo

__all__ = ["DEFAULT_CHECK", "HAProxyPools"]

DEFAULT_CHECK = "check inter 2s rise 2 fall 3"
_MAINT_BITS = 0x01 | 0x02 | 0x04 | 0x20 | 0x40  # forced, inherited, config, resolution, hostname
_DRAIN_BITS = 0x08 | 0x10  # forced, inherited


def _admin(row: ServerRow) -> MemberAdmin:
    if row.admin_state & _MAINT_BITS:
        return MemberAdmin.OFFLINE
    if row.admin_state & _DRAIN_BITS:
        return MemberAdmin.DISABLED
    return MemberAdmin.ENABLED


def _health(row: ServerRow, admin: MemberAdmin) -> MemberHealth:
    if row.status.lower() == "no check":
        return MemberHealth.UNCHECKED
    if admin is MemberAdmin.OFFLINE:
        return MemberHealth.UNKNOWN  # HAProxy stops checking servers in maintenance
    if row.check_status in ("", "INI"):
        return MemberHealth.CHECKING
    if row.op_state in (2, 3):  # running, stopping (still up)
        return MemberHealth.UP
    if row.op_state == 1 or row.check_status.endswith("OK"):
        return MemberHealth.CHECKING  # starting, or passing checks but not risen yet
    return MemberHealth.DOWN


def _member(row: ServerRow) -> PoolMember:
    admin = _admin(row)
    return make_member(row.name, row.address, row.port, admin, _health(row, admin), row.sessions)


class HAProxyPools:
    """HAProxy backends as pools. ``config`` (optional) persists members and lists frontends."""

    def __init__(
        self,
        runtime: RuntimeClient,
        config: ConfigFile | None = None,
        *,
        check_options: str = DEFAULT_CHECK,
        remove_wait_s: float = 5.0,
    ) -> None:
        self.runtime = runtime
        self.config = config
        self.check_options = check_options
        self.remove_wait_s = remove_wait_s
        self._config_lock = asyncio.Lock()

    async def pools(self) -> list[PoolInfo]:
        """Every backend, with its server count."""
        out = []
        for name in sorted(await self.runtime.backends()):
            rows = await self.runtime.servers(name)
            out.append(PoolInfo(name=name, monitor="httpchk", member_count=len(rows)))
        return out

    async def virtual_servers(self) -> list[VirtualServerInfo]:
        """Frontends from the configuration file (the runtime API does not show binds)."""
        if self.config is None:
            return []
        return [
            VirtualServerInfo(name=fe.name, address=fe.address, port=fe.port, pool=fe.backend)
            for fe in sorted(await asyncio.to_thread(self.config.frontends), key=lambda fe: fe.name)
        ]

    async def members(self, pool: str) -> list[PoolMember]:
        """Servers of the backend; ``ConfigurationError`` when it does not exist."""
        return sorted((_member(row) for row in await self.runtime.servers(pool)), key=lambda m: m.name)

    async def add(self, pool: str, name: str, address: str, port: int) -> PoolMember:
        """``add server`` + ``enable health`` + ``state drain``; idempotent."""
        validate_member(name, address, port)
        if "%" in address:
            raise InvalidInput("HAProxy has no route domains", member=name, address=address)
        existing = await self._find(pool, name)
        if existing is None:
            try:
                await self.runtime.run(
                    f"add server {pool}/{name} {address}:{port} {self.check_options}", pool=pool, member=name
                )
            except Conflict:
                existing = await self._find(pool, name)  # added concurrently: judge it below
            else:
                await self.runtime.run(f"enable health {pool}/{name}", pool=pool, member=name)
                await self._state(pool, name, "drain")
                await self._persist(pool, PersistedServer(name, address, port, self.check_options, True))
                return (await self._require(pool, name)).model_copy()
        if existing is None:
            raise Conflict(f"member {name} vanished while being added", pool=pool, member=name)
        if (existing.address, existing.port) != (address, port):
            raise Conflict(
                f"member {name} already exists as {existing.address}:{existing.port}", pool=pool, member=name
            )
        return existing

    async def enable(self, pool: str, name: str) -> None:
        """``set server state ready``."""
        await self._state(pool, name, "ready")
        await self._persist_admin(pool, name, disabled=False)

    async def disable(self, pool: str, name: str) -> None:
        """``set server state drain``."""
        await self._state(pool, name, "drain")
        await self._persist_admin(pool, name, disabled=True)

    async def force_offline(self, pool: str, name: str) -> None:
        """``set server state maint``."""
        await self._state(pool, name, "maint")
        await self._persist_admin(pool, name, disabled=True)

    async def remove(self, pool: str, name: str) -> bool:
        """Maintenance, end leftover sessions, ``del server`` (retried while sessions close)."""
        if await self._find(pool, name) is None:
            await self._persist(pool, None, drop=name)
            return False
        await self._state(pool, name, "maint")
        await self.runtime.run(f"shutdown sessions server {pool}/{name}", pool=pool, member=name)
        deadline = asyncio.get_running_loop().time() + self.remove_wait_s
        while True:
            try:
                await self.runtime.run(f"del server {pool}/{name}", pool=pool, member=name)
                break
            except NotFound:
                break
            except Conflict:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.05)
        await self._persist(pool, None, drop=name)
        return True

    # -- internals --------------------------------------------------------------------------

    async def _find(self, pool: str, name: str) -> PoolMember | None:
        return next((m for m in await self.members(pool) if m.name == name), None)

    async def _require(self, pool: str, name: str) -> PoolMember:
        member = await self._find(pool, name)
        if member is None:
            raise NotFound(f"member {name} is not in pool {pool}", pool=pool, member=name)
        return member

    async def _state(self, pool: str, name: str, state: str) -> None:
        await self.runtime.run(f"set server {pool}/{name} state {state}", pool=pool, member=name)

    async def _persist_admin(self, pool: str, name: str, *, disabled: bool) -> None:
        if self.config is None:
            return
        async with self._config_lock:
            servers = await asyncio.to_thread(self.config.servers, pool)
            changed = [
                PersistedServer(s.name, s.address, s.port, s.options, disabled) if s.name == name else s
                for s in servers
            ]
            if changed != servers:
                await asyncio.to_thread(self.config.write_servers, pool, changed)

    async def _persist(self, pool: str, server: PersistedServer | None, drop: str | None = None) -> None:
        if self.config is None:
            return
        async with self._config_lock:
            servers = await asyncio.to_thread(self.config.servers, pool)
            kept = [s for s in servers if s.name not in {drop, server.name if server else None}]
            if server is not None:
                kept.append(server)
            if kept != servers:
                await asyncio.to_thread(self.config.write_servers, pool, kept)
