"""Lease holder changes are counted by the replica that takes a group's lease from another
holder (real Redis): the same owner taking it again is not a change, a new owner is."""

from __future__ import annotations

from services.scaler.adapters.redis_lease import RedisLease


async def test_only_a_new_holder_is_a_change(redis_url: str, redis_prefix: str) -> None:
    changes: list[tuple[str, str]] = []
    first = RedisLease.from_url(redis_url, redis_prefix, on_change=lambda group: changes.append(("r1", group)))
    second = RedisLease.from_url(redis_url, redis_prefix, on_change=lambda group: changes.append(("r2", group)))
    try:
        lease = await first.acquire("web", "r1", ttl_s=5)
        assert lease is not None and await first.release(lease)
        again = await first.acquire("web", "r1", ttl_s=5)
        assert again is not None and again.token > lease.token
        assert await second.acquire("web", "r2", ttl_s=5) is None  # held: no change
        assert await first.release(again)
        taken = await second.acquire("web", "r2", ttl_s=5)
        assert taken is not None
    finally:
        await first.close()
        await second.close()
    assert changes == [("r1", "web"), ("r2", "web")]
