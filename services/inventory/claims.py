"""Who runs an operation when the inventory runs as several replicas.

Every replica sees every unfinished operation in the shared store (and a redelivered command
may reach any of them), so before running one a replica claims it: a lease with an owner, an
expiry and a fencing token that grows each time the operation changes hands. The holder renews
the claim while it works and checks it before saving each step; a replica that finds the claim
held by another leaves the operation alone, and one whose claim was taken over (it stalled past
the expiry) stops before its next step. A replica that dies stops renewing: its operations are
claimed by another replica's periodic resume pass once their claims expire.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from shared.errors import VmscaleError
from shared.loops import every
from shared.telemetry import get_logger

__all__ = ["ClaimLost", "Claimant", "OperationClaims"]

log = get_logger(__name__)


class ClaimLost(asyncio.CancelledError):
    """A fenced save found this replica no longer holds the operation's claim.

    A cancellation, not an error (so no ``VmscaleError`` handler turns it into a failure event):
    the operation stops where it is, its progress saved, as on shutdown, and the replica that
    holds the claim now continues it and publishes its one result.
    """


class OperationClaims(Protocol):
    """Leases on operations, shared by the replicas (same database)."""

    def claim(self, key: str, owner: str, ttl_s: float) -> int | None:
        """Take, or renew, ``owner``'s claim on operation ``key`` for ``ttl_s`` seconds.

        Returns the fencing token (unchanged while the same owner renews, higher after a takeover)
        or ``None`` when another owner's claim has not expired. Atomic across replicas; blocks
        until stored. Raises ``ServiceUnavailable`` when the store is unreachable.
        """
        ...

    def holds(self, key: str, owner: str, token: int) -> bool:
        """True while ``owner`` holds the claim on ``key`` with ``token`` and it has not expired."""
        ...

    def release(self, key: str, owner: str) -> None:
        """Give up ``owner``'s claim on ``key``; idempotent, another owner's claim is untouched."""
        ...


class Claimant:
    """This replica's side of the claims: take one before running an operation, renew it while
    the operation runs, fence every save, give it up at the end. Without ``claims`` (one
    replica) every operation simply runs."""

    def __init__(self, claims: OperationClaims | None, owner: str, ttl_s: float) -> None:
        self.claims = claims
        self.owner = owner
        self._ttl_s = ttl_s
        self._tokens: dict[str, int] = {}

    async def fence(self, key: str) -> None:
        """Raise ``ClaimLost`` when this replica held ``key``'s claim and no longer does."""
        token = self._tokens.get(key)
        if self.claims is not None and token is not None:
            if not await asyncio.to_thread(self.claims.holds, key, self.owner, token):
                raise ClaimLost(key)

    async def hold(self, key: str, run: Callable[[int], Awaitable[None]]) -> None:
        """Run ``run(token)`` while holding ``key``'s claim (token 1 without claims).

        Returns at once when another replica holds the claim; a claim lost on the way stops
        ``run`` (logged, not raised). The claim is released at the end whatever happened.
        """
        if self.claims is None:
            await run(1)
            return
        token = await asyncio.to_thread(self.claims.claim, key, self.owner, self._ttl_s)
        if token is None:
            log.debug("operation held by another replica", key=key)
            return
        try:
            self._tokens[key] = token
            keeper = asyncio.create_task(self._keep(key, token, asyncio.current_task()), name=f"inventory-claim-{key}")
            try:
                await run(token)
            except ClaimLost:
                log.warning("claim lost; another replica continues the operation", key=key)
            finally:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
        finally:
            self._tokens.pop(key, None)
            with contextlib.suppress(VmscaleError):
                await asyncio.to_thread(self.claims.release, key, self.owner)

    async def _keep(self, key: str, token: int, running: asyncio.Task[Any] | None) -> None:
        """Renew the claim every third of its TTL (``shared.loops.every``: a renewal the database
        refused is logged and tried again at the next beat); when another replica has taken it
        over, cancel the operation's task (its next save would be refused by ``fence`` anyway)
        and end here."""
        assert self.claims is not None
        claims = self.claims

        async def renew() -> None:
            renewed = await asyncio.to_thread(claims.claim, key, self.owner, self._ttl_s)
            if renewed != token:
                log.warning("claim taken over by another replica; stopping here", key=key)
                if running is not None:
                    running.cancel()
                raise asyncio.CancelledError  # ends this keeper: ``every`` never catches a cancellation

        await every(self._ttl_s / 3, renew, name=f"claim renewal of {key}", log=log, wait_first=True)
