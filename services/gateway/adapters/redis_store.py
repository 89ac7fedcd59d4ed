"""Redis adapters: fixed-window rate limits, login lock-outs per user name and the alert-episode
ledger.

Redis errors leave as ``ServiceUnavailable``.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from shared.errors import ServiceUnavailable

__all__ = ["EpisodeLedger", "LoginLockouts", "RateLimiter"]

MAX_LOCKOUT_S = 3600


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


class LoginLockouts:
    """Failed logins per user name, from any address; past ``limit`` failures the name is locked.

    Each lock lasts ``base_s`` doubled per earlier lock of that name in the last day, at most
    ``MAX_LOCKOUT_S``. A successful login clears the count and the history. Only the name is
    locked: other users, and the same address trying them, are not affected by it.
    """

    def __init__(self, client: aioredis.Redis, namespace: str) -> None:
        self._redis = client
        self._ns = namespace

    def _keys(self, username: str) -> tuple[str, str, str]:
        base = f"{self._ns}:login-user:{username.lower()}"
        return f"{base}:failures", f"{base}:lock", f"{base}:locks"

    async def locked(self, username: str) -> int | None:
        """Seconds until the name's lock ends, or None when it is not locked."""
        _, lock, _ = self._keys(username)
        try:
            ttl = int(await self._redis.ttl(lock))
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable("redis unavailable", service="redis") from exc
        return ttl if ttl > 0 else None

    async def failed(self, username: str, limit: int, base_s: int, window_s: int = 900) -> int | None:
        """Count a failed login; when it is the ``limit``-th in ``window_s``, lock the name and
        return the lock's length in seconds, else None."""
        failures, lock, locks = self._keys(username)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.incr(failures)
                pipe.expire(failures, window_s, nx=True)
                count, _ = await pipe.execute()
            if int(count) < limit:
                return None
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.incr(locks)
                pipe.expire(locks, 86400)
                pipe.delete(failures)
                strikes, _, _ = await pipe.execute()
            seconds: int = min(base_s * 2 ** min(int(strikes) - 1, 16), MAX_LOCKOUT_S)
            await self._redis.set(lock, "1", ex=seconds)
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable("redis unavailable", service="redis") from exc
        return seconds

    async def succeeded(self, username: str) -> None:
        """Clear the name's failures and lock history."""
        failures, _, locks = self._keys(username)
        try:
            await self._redis.delete(failures, locks)
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable("redis unavailable", service="redis") from exc


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
