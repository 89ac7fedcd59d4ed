"""The claim keeper (``Claimant``): renews while an operation runs; a takeover stops the operation."""

from __future__ import annotations

import asyncio
import threading

import pytest

from services.inventory.claims import Claimant
from testkit.clock import FakeClock
from testkit.inventory.memory import MemoryOperationClaims

TTL_S = 0.15  # renewed every 50 ms of real time; expiry reads the FakeClock


class Gated(MemoryOperationClaims):
    """Claims whose calls wait while ``gate`` is clear (a replica paused mid-renewal)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.gate = threading.Event()
        self.gate.set()
        self.busy = threading.Lock()
        self.renewals = 0

    def claim(self, key: str, owner: str, ttl_s: float) -> int | None:
        while True:
            self.gate.wait()
            with self.busy:
                if self.gate.is_set():
                    self.renewals += 1
                    return super().claim(key, owner, ttl_s)

    def pause(self) -> None:
        """Clear the gate; on return no call is under way and every new one waits."""
        self.gate.clear()
        with self.busy:
            pass


async def test_the_keeper_renews_and_a_takeover_cancels_the_operation() -> None:
    clock = FakeClock()
    claims = Gated(clock)
    started = asyncio.Event()

    async def forever(token: int) -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(Claimant(claims, "a", TTL_S).hold("op-1", forever))
    await started.wait()
    deadline = asyncio.get_running_loop().time() + 10
    while claims.renewals < 3:  # the first claim, then renewals every third of the TTL
        assert asyncio.get_running_loop().time() < deadline, "the claim is not renewed"
        await asyncio.sleep(0.01)
    claims.pause()  # replica a stalls past its TTL...
    clock.advance(1)
    assert MemoryOperationClaims.claim(claims, "op-1", "b", 30) == 2  # ...and b takes the operation over
    claims.gate.set()  # a wakes: its renewal is refused and its operation is cancelled
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(10):
            await task
    assert claims.holds("op-1", "b", 2)  # a's exit did not release b's claim
