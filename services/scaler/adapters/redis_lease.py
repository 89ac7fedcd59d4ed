"""``GroupLease`` over Redis: ``SET NX PX`` with a fencing token, checked scripts to extend/release.

Keys: ``<prefix>lease:<group>`` holds ``<token>|<owner>`` with the TTL; ``<prefix>fence:<group>``
counts holders, so every new holder gets a larger token (Kleppmann's fencing token, checked by
the database on every write an owner makes). Redis may lose that counter (a restart of an
embedded Redis, a flush, a fail-over): every acquire carries the largest token the database has
seen (``floor``) and the counter is raised to it first, so tokens never go backwards. Acquire
is one script: nobody can slip in between the existence check and the set. Redis errors leave as ``ServiceUnavailable``.
``<prefix>holder:<group>`` keeps the last holder's owner, so a change of holder is known (and
reported to ``on_change``, the lease-holder-changes metric).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.scaler.ports import Lease
from shared.errors import ServiceUnavailable

__all__ = ["RedisLease"]

_ACQUIRE = """
if redis.call('exists', KEYS[1]) == 1 then return 0 end
local fence = tonumber(redis.call('get', KEYS[2]) or '0')
if fence < tonumber(ARGV[3]) then redis.call('set', KEYS[2], ARGV[3]) end
local token = redis.call('incr', KEYS[2])
redis.call('set', KEYS[1], token .. '|' .. ARGV[1], 'PX', ARGV[2])
local previous = redis.call('getset', KEYS[3], ARGV[1])
if previous == ARGV[1] then return {token, 0} end
return {token, 1}
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisLease:
    """Fenced group leases in one Redis."""

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str = "vmscale:scaler:",
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._on_change = on_change
        self._acquire: Any = client.register_script(_ACQUIRE)
        self._extend: Any = client.register_script(_EXTEND)
        self._release: Any = client.register_script(_RELEASE)

    @classmethod
    def from_url(
        cls, url: str, prefix: str = "vmscale:scaler:", on_change: Callable[[str], None] | None = None
    ) -> RedisLease:
        """A lease store on a new client for ``url`` (nothing connects until first use);
        ``on_change(group)`` is called when this store takes a lease another owner held last."""
        return cls(aioredis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0), prefix, on_change)

    def _keys(self, group: str) -> list[str]:
        return [f"{self._prefix}lease:{group}", f"{self._prefix}fence:{group}", f"{self._prefix}holder:{group}"]

    async def acquire(self, group: str, owner: str, ttl_s: float, floor: int = 0) -> Lease | None:
        """Take the lease if nobody holds it; a new holder gets a token larger than any before
        and than ``floor``."""
        try:
            args = [owner, int(ttl_s * 1000), int(floor)]
            answer = await self._acquire(keys=self._keys(group), args=args)
        except RedisError as exc:
            raise ServiceUnavailable("Redis unavailable", group=group) from exc
        if not answer:
            return None
        token, changed = int(answer[0]), bool(int(answer[1]))
        if changed and self._on_change is not None:
            self._on_change(group)
        return Lease(group=group, owner=owner, token=token)

    async def extend(self, lease: Lease, ttl_s: float) -> bool:
        """Renew when still held with this token."""
        try:
            done = await self._extend(keys=self._keys(lease.group)[:1], args=[_value(lease), int(ttl_s * 1000)])
        except RedisError as exc:
            raise ServiceUnavailable("Redis unavailable", group=lease.group) from exc
        return bool(done)

    async def release(self, lease: Lease) -> bool:
        """Give up when still held with this token."""
        try:
            done = await self._release(keys=self._keys(lease.group)[:1], args=[_value(lease)])
        except RedisError as exc:
            raise ServiceUnavailable("Redis unavailable", group=lease.group) from exc
        return bool(done)

    async def holder(self, group: str) -> Lease | None:
        """The current holder, or None."""
        try:
            raw = await self._redis.get(self._keys(group)[0])
        except RedisError as exc:
            raise ServiceUnavailable("Redis unavailable", group=group) from exc
        if raw is None:
            return None
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        token, _, owner = text.partition("|")
        return Lease(group=group, owner=owner, token=int(token))

    async def ping(self) -> str | None:
        """Health check: None when Redis answers."""
        try:
            await self._redis.ping()
        except RedisError as exc:
            return f"Redis unavailable: {type(exc).__name__}"
        return None

    async def close(self) -> None:
        """Close the client."""
        await self._redis.aclose()


def _value(lease: Lease) -> str:
    return f"{lease.token}|{lease.owner}"
