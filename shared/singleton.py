"""One owner at a time: leases on named work shared by a service's replicas.

Two uses, one port (``Leases``):

* a **singleton loop** (``Singleton``): periodic work that must run on one replica at a time (an
  orphan pass, a reconcile loop). Every replica runs ``Singleton.run``; the one that acquires the
  lease runs the work and renews the lease every third of its TTL; the others try to acquire it
  every third of the TTL. A renewal that fails (another owner holds it, or the store does not
  answer) stops the work at once and is logged; a holder that dies or stalls stops renewing, and
  another replica takes over once the TTL has passed: failover takes at most TTL + TTL/3. A loop
  that waits before its first run (``wait_first``: let the service settle after its start) waits
  only when it found the lease free at its first try; a replica that takes the lease over from
  another holder runs the work at once (that holder's work is overdue). A holder that stops
  cleanly releases the lease, so the next replica takes over at its next try (at most TTL/3).
* a **claim** (``hold_claim``): one piece of resumable work (a load balancer's health or drain
  wait) runs on the replica that claimed it, renewed while it runs, given up at the end.

The fencing token grows every time the lease changes hands (never while one owner renews), so a
holder that stalled past its TTL finds its token refused (``Leases.holds``) before its next side
effect. Expiry uses the host's clock: replicas' clocks are assumed within a fraction of the TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, Protocol

from shared.loops import Backoff, Sleep, every
from shared.telemetry import get_logger

__all__ = ["LeaseLost", "Leases", "Singleton", "hold_claim"]

_log = get_logger(__name__)


class Leases(Protocol):
    """Named leases with an owner, an expiry and a fencing token, shared by the replicas (one
    store). Each call is atomic across replicas and blocks until stored; each raises
    ``ServiceUnavailable`` when the store does not answer."""

    def acquire(self, name: str, owner: str, ttl_s: float) -> int | None:
        """Take, or renew, ``owner``'s lease on ``name`` for ``ttl_s`` seconds from now.

        Returns the fencing token: unchanged while the same owner renews, higher than any earlier
        token of ``name`` after a change of holder (a takeover, or a new acquire after a release).
        ``None`` when another owner's lease has not expired.
        """
        ...

    def holds(self, name: str, owner: str, token: int) -> bool:
        """True while ``owner`` holds ``name`` with ``token`` and the lease has not expired."""
        ...

    def release(self, name: str, owner: str) -> None:
        """Give up ``owner``'s lease on ``name`` at once; idempotent, another owner's is untouched."""
        ...


class LeaseLost(asyncio.CancelledError):
    """This replica no longer holds the lease its work runs under.

    A cancellation, not an error: no ``VmscaleError`` handler (nor ``every``) turns it into a
    failure to retry; the work stops where it is and the replica holding the lease carries on.
    """


class Singleton:
    """Runs work under the lease ``name``, on one replica at a time (see the module docstring).

    ``token`` is the fencing token while this replica holds the lease (``None`` otherwise);
    ``took_over`` is True when this holding began after a try that found the lease held, or after
    this replica had lost it (the work was someone else's until now). ``check()`` raises
    ``LeaseLost`` when it no longer holds it (a store check: call it before a side effect).
    ``on_change(held)`` is told each time this replica gains or loses the lease.
    """

    def __init__(
        self,
        leases: Leases,
        name: str,
        owner: str,
        ttl_s: float,
        *,
        log: Any = None,
        sleep: Sleep = asyncio.sleep,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("a lease needs a positive TTL")
        self.leases = leases
        self.name = name
        self.owner = owner
        self.ttl_s = ttl_s
        self.token: int | None = None
        self.took_over = False
        self._log = log if log is not None else _log
        self._sleep = sleep
        self._on_change = on_change
        self._lost = asyncio.Event()

    @property
    def beat_s(self) -> float:
        """How often the holder renews and the others try to acquire: a third of the TTL."""
        return self.ttl_s / 3

    async def check(self) -> None:
        """Raise ``LeaseLost`` unless this replica holds the lease now (asks the store)."""
        token = self.token
        if token is not None:
            try:
                if await asyncio.to_thread(self.leases.holds, self.name, self.owner, token):
                    return
            except Exception as exc:  # the store does not answer: this replica cannot prove it holds
                self._log.warning("singleton lease not confirmed", lease=self.name, error=type(exc).__name__)
        self._lost.set()
        raise LeaseLost(self.name)

    async def run(self, body: Callable[[], Awaitable[object]]) -> NoReturn:
        """Forever: acquire the lease, run ``body()`` while holding it, stop it when the lease is
        lost, try again. Cancelling this (service stop) cancels the body and releases the lease."""
        refused = False
        while True:
            token = await self._acquire()
            if token is None:
                refused = True
                await self._sleep(self.beat_s)
                continue
            self.token, self.took_over = token, refused
            refused = True  # a later holding follows a loss: a takeover
            self._lost.clear()
            self._log.info("singleton lease taken; running here", lease=self.name, owner=self.owner, token=token)
            self._changed(True)
            work = asyncio.create_task(_call(body), name=f"singleton-{self.name}")
            try:
                reason = await self._keep(work, token)
            finally:
                self.token = None
                await _stop(work)
                if not self._lost.is_set():
                    await self._release()
                self._changed(False)
            self._log.warning("singleton work stopped", lease=self.name, owner=self.owner, reason=reason)
            await self._sleep(self.beat_s)

    async def every(
        self,
        interval_s: float,
        work: Callable[[], Awaitable[object]],
        *,
        name: str,
        log: Any = None,
        wait_first: bool = False,
        backoff: Backoff | None = None,
        level: int = logging.WARNING,
    ) -> NoReturn:
        """``shared.loops.every`` run only while holding the lease; each run first ``check``s
        that the lease is still held (so the loop stops before a pass, never writes after).
        ``wait_first`` holds only for a lease found free; a takeover runs the work at once."""

        async def fenced() -> None:
            await self.check()
            await work()

        def loop() -> Awaitable[NoReturn]:
            first = wait_first and not self.took_over
            return every(interval_s, fenced, name=name, log=log, wait_first=first, backoff=backoff, level=level)

        await self.run(loop)

    async def _acquire(self) -> int | None:
        try:
            return await asyncio.to_thread(self.leases.acquire, self.name, self.owner, self.ttl_s)
        except Exception as exc:  # the store is down: nobody can take the lease; try again
            self._log.warning("singleton lease not acquired", lease=self.name, error=type(exc).__name__)
            return None

    async def _keep(self, work: asyncio.Task[None], token: int) -> str:
        """Renew every beat until the work ends or the lease is lost; returns why it stopped."""
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            while True:
                await asyncio.wait({work, lost}, timeout=self.beat_s, return_when=asyncio.FIRST_COMPLETED)
                if self._lost.is_set():
                    return "the lease check before a side effect failed"
                if work.done():
                    return "the work ended"
                try:
                    renewed = await asyncio.to_thread(self.leases.acquire, self.name, self.owner, self.ttl_s)
                except Exception as exc:
                    self._lost.set()
                    return f"renewal failed ({type(exc).__name__})"
                if renewed != token:
                    self._lost.set()
                    return "another replica holds the lease"
        finally:
            lost.cancel()

    async def _release(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.leases.release, self.name, self.owner)

    def _changed(self, held: bool) -> None:
        if self._on_change is not None:
            self._on_change(held)


async def _call(body: Callable[[], Awaitable[object]]) -> None:
    await body()


async def _stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def hold_claim(
    leases: Leases,
    name: str,
    owner: str,
    ttl_s: float,
    token: int,
    run: Callable[[], Awaitable[object]],
    *,
    log: Any = None,
) -> None:
    """Run ``run()`` while holding the claim ``name`` (already acquired with ``token``).

    The claim is renewed every third of ``ttl_s``; when a renewal finds another owner (this
    replica stalled past the TTL) or the store does not answer, ``run`` is cancelled at once and
    it is logged. The claim is released at the end, whatever happened, unless it was lost.
    """
    logger = log if log is not None else _log
    work = asyncio.create_task(_call(run), name=f"claim-{name}")
    lost = False
    try:
        while not work.done():
            await asyncio.wait({work}, timeout=ttl_s / 3)
            if work.done():
                break
            try:
                renewed = await asyncio.to_thread(leases.acquire, name, owner, ttl_s)
            except Exception as exc:
                renewed, reason = None, f"renewal failed ({type(exc).__name__})"
            else:
                reason = "another replica holds the claim"
            if renewed != token:
                lost = True
                logger.warning("claim lost; stopping the work here", claim=name, reason=reason)
                await _stop(work)
                return
        work.result()
    finally:
        if not work.done():
            await _stop(work)
        if not lost:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(leases.release, name, owner)
