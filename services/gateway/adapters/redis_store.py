"""Redis adapters: fixed-window rate limits and the alert-episode ledger.

Redis errors leave as ``ServiceUnavailable``.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from shared.errors import ServiceUnavailable

__all__ = ["EpisodeLedger", "RateLimiter"]


class RateLimiter:
    """At most ``limit`` hits per ``window_s`` per key (fixed window, INCR + EXPIRE)."""

    def __init__(self, client: aioredis.Redis, namespace: str) -> None:
        self._redis = client
        self._ns = namespace

    async def hit(self, key: str, limit: int, window_s: int = 60) -> int | None:
        """Count a hit; None when allowed, else the seconds until the window ends."""
        name = f"{self._ns}:rl:{key}"
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.incr(name)
                pipe.expire(name, window_s, nx=True)
                pipe.ttl(name)
                count, _, ttl = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable("redis unavailable", service="redis") from exc
        if int(count) > limit:
            return max(1, int(ttl))
        return None


class EpisodeLedger:
    """Which alert episodes were already published (keys expire after ``ttl_s``)."""

    def __init__(self, client: aioredis.Redis, namespace: str, ttl_s: int) -> None:
        self._redis = client
        self._ns = namespace
        self._ttl_s = ttl_s

    def _key(self, episode: str) -> str:
        return f"{self._ns}:episode:{episode}"

    async def claim(self, episodes: Sequence[str]) -> list[bool]:
        """Claim each episode (SET NX): True when this call is the first to see it."""
        if not episodes:
            return []
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for episode in episodes:
                    pipe.set(self._key(episode), b"1", ex=self._ttl_s, nx=True)
                claimed = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable("redis unavailable", service="redis") from exc
        return [bool(value) for value in claimed]

    async def release(self, episodes: Sequence[str]) -> None:
        """Forget claims whose publish failed, so the sender's retry publishes them."""
        if not episodes:
            return
        try:
            await self._redis.delete(*(self._key(episode) for episode in episodes))
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable("redis unavailable", service="redis") from exc
