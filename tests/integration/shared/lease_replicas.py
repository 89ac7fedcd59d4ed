"""What the tests of two replicas sharing leases have in common: a replica's leases that a kill
cuts off from the database, and a wait on a condition with a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from shared.singleton_sql import SqlLeases

__all__ = ["DyingLeases", "until"]


class DyingLeases(SqlLeases):
    """A replica's leases; once ``dead`` its release never reaches the database (a killed process)."""

    dead = False

    def release(self, name: str, owner: str) -> None:
        if not self.dead:
            super().release(name, owner)


async def until(condition: Callable[[], object], limit: float = 20.0) -> None:
    """Poll ``condition`` every 20 ms until it is truthy; ``AssertionError`` after ``limit`` s."""
    deadline = asyncio.get_running_loop().time() + limit
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
