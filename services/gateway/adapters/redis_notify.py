"""Redis adapters of the notifications' shared state: the send ledger (de-duplication keys and
the per-channel rate limit) and the pinned spells, one state for every gateway replica.

Each check-and-record is one Lua script, so two replicas claiming the same key at once cannot
both win. Times are the caller's clock (milliseconds since the epoch), so the limits follow the
notifier's ``Clock``; Redis TTLs only collect the garbage. Redis errors leave as
``ServiceUnavailable``.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.gateway.notify.model import DeliveryOutcome
from shared.errors import ServiceUnavailable

__all__ = ["RedisPinnedSpells", "RedisSendLedger"]

_CLAIM = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
if window > 0 then
  local last = redis.call('GET', KEYS[1])
  if last and now - tonumber(last) < window then return 1 end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 60000)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 2 end
redis.call('ZADD', KEYS[2], now, ARGV[4])
redis.call('PEXPIRE', KEYS[2], 120000)
if window > 0 then redis.call('SET', KEYS[1], now, 'PX', window) end
return 0
"""

_SINCE = """
local at = tonumber(ARGV[2])
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (not current) or at < tonumber(current) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  current = ARGV[2]
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return current
"""

_OUTCOMES = {1: DeliveryOutcome.DEDUPLICATED, 2: DeliveryOutcome.RATE_LIMITED}


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


class RedisSendLedger:
    """``SendLedger`` over Redis: a key per channel and dedup key, a sorted set of send times per
    channel (the sliding minute)."""

    def __init__(self, client: aioredis.Redis, namespace: str) -> None:
        self._redis = client
        self._ns = namespace
        self._claim = client.register_script(_CLAIM)

    async def claim(
        self, channel: str, dedup_key: str, now: datetime, dedup_window_s: float, rate_per_min: int
    ) -> DeliveryOutcome | None:
        """See ``SendLedger.claim``."""
        digest = hashlib.sha256(dedup_key.encode()).hexdigest()[:32]
        base = f"{self._ns}:notify:{{{channel}}}"
        keys = [f"{base}:dedup:{digest}", f"{base}:sends"]
        args: list[int | str] = [_ms(now), int(dedup_window_s * 1000), rate_per_min, uuid.uuid4().hex]
        try:
            answer = await self._claim(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable("redis unavailable", service="redis") from exc
        return _OUTCOMES.get(int(answer))


class RedisPinnedSpells:
    """``PinnedSpells`` over Redis: a hash per group (reason → start in ms), dropped when the
    group's spell ends or after ``ttl_s`` without a pinned decision."""

    def __init__(self, client: aioredis.Redis, namespace: str, ttl_s: int = 86400) -> None:
        self._redis = client
        self._ns = namespace
        self._ttl_s = ttl_s
        self._since = client.register_script(_SINCE)

    def _key(self, group: str) -> str:
        return f"{self._ns}:notify:pinned:{group}"

    async def since(self, group: str, reason: str, at: datetime) -> datetime:
        """See ``PinnedSpells.since``."""
        try:
            started = await self._since(keys=[self._key(group)], args=[reason, _ms(at), self._ttl_s])
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable("redis unavailable", service="redis") from exc
        return datetime.fromtimestamp(int(started) / 1000, UTC)

    async def end(self, group: str) -> None:
        """See ``PinnedSpells.end``."""
        try:
            await self._redis.delete(self._key(group))
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable("redis unavailable", service="redis") from exc
