"""The contract of the ``GroupLease`` port, run against memory and Redis (STYLE rule 12)."""

from __future__ import annotations

import pytest

from services.scaler.ports import GroupLease


class GroupLeaseContract:
    """Subclasses provide ``lease`` and implement ``pass_time`` (past a TTL)."""

    ttl_s = 0.5

    @pytest.fixture
    def lease(self) -> GroupLease:
        raise NotImplementedError

    async def pass_time(self, seconds: float) -> None:
        raise NotImplementedError

    async def test_one_holder_at_a_time(self, lease: GroupLease) -> None:
        first = await lease.acquire("web", "r1", self.ttl_s)
        assert first is not None and first.owner == "r1"
        assert await lease.acquire("web", "r2", self.ttl_s) is None
        assert await lease.acquire("api", "r2", self.ttl_s) is not None
        assert await lease.holder("web") == first

    async def test_release_needs_the_token_and_is_idempotent(self, lease: GroupLease) -> None:
        held = await lease.acquire("web", "r1", self.ttl_s)
        forged = held.model_copy(update={"token": held.token + 100})
        assert not await lease.release(forged)
        assert await lease.release(held)
        assert not await lease.release(held)
        assert await lease.holder("web") is None

    async def test_an_expired_lease_goes_to_the_next_with_a_larger_token(self, lease: GroupLease) -> None:
        first = await lease.acquire("web", "r1", self.ttl_s)
        await self.pass_time(self.ttl_s * 2)
        assert await lease.holder("web") is None
        second = await lease.acquire("web", "r2", self.ttl_s)
        assert second is not None and second.token > first.token
        assert not await lease.extend(first, self.ttl_s)
        assert not await lease.release(first)
        assert await lease.holder("web") == second

    async def test_extend_keeps_it_past_the_first_ttl(self, lease: GroupLease) -> None:
        held = await lease.acquire("web", "r1", self.ttl_s)
        for _ in range(3):
            await self.pass_time(self.ttl_s * 0.5)
            assert await lease.extend(held, self.ttl_s)
        assert await lease.holder("web") == held
