"""Forever-loops: one piece of periodic work, run for the life of a service.

``every(interval_s, work, name=..., log=...)`` is the one way a service runs a periodic pass (a
tick, a sweep, a purge, a re-publish pass). Its policy:

* ``work()`` runs, then the loop waits ``interval_s`` (or less, when ``wake`` is set) and runs
  it again, until the task is cancelled;
* a failure never ends the loop: a ``VmscaleError`` is logged as a warning (``<name> failed;
  retrying``), any other exception with its traceback (``<name> failed unexpectedly``) — a loop
  that died on one unexpected error would stop the service's work without a word;
* after a failure the wait is the ``Backoff``'s delay for the number of failures in a row (the
  plain interval when no back-off is given); a success resets the count;
* cancellation (service stop) is never caught.

Waiting goes through ``sleep`` (``asyncio.sleep`` by default), so tests drive the loop round by
round without real time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from shared.errors import VmscaleError
from shared.telemetry import get_logger

__all__ = ["Backoff", "Sleep", "every"]

Sleep = Callable[[float], Awaitable[None]]
"""Waits the given number of seconds (``asyncio.sleep``; a test's stepper)."""

_log = get_logger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Waits after consecutive failures: ``base_s``, doubling each time, never beyond ``max_s``."""

    base_s: float
    max_s: float = 30.0
    factor: float = 2.0

    def delay(self, failures: int) -> float:
        """The wait after the ``failures``-th failure in a row (``failures`` >= 1)."""
        if failures < 1:
            raise ValueError("failures counts from 1")
        return float(min(self.base_s * self.factor ** (failures - 1), self.max_s))


async def every(
    interval_s: float,
    work: Callable[[], Awaitable[object]],
    *,
    name: str,
    log: Any = None,
    wait_first: bool = False,
    backoff: Backoff | None = None,
    wake: asyncio.Event | None = None,
    level: int = logging.WARNING,
    sleep: Sleep = asyncio.sleep,
) -> NoReturn:
    """Run ``work`` every ``interval_s`` seconds until cancelled (see the module docstring).

    ``wait_first`` waits one interval before the first run. ``wake``, when set by someone, ends the
    current wait early (and is cleared): a loop that is also kicked. ``level`` is the log level of
    an expected failure (a ``VmscaleError``); unexpected ones are always logged as errors with the
    traceback. ``log`` is the caller's structlog logger (this module's when omitted), so the lines
    carry the caller's name.
    """
    logger = log if log is not None else _log
    failures = 0
    if wait_first:
        await _wait(interval_s, wake, sleep)
    while True:
        try:
            await work()
        except VmscaleError as exc:
            failures += 1
            logger.log(level, f"{name} failed; retrying", error=str(exc), failures=failures)
        except Exception:
            failures += 1
            logger.exception(f"{name} failed unexpectedly; retrying", failures=failures)
        else:
            failures = 0
        delay = backoff.delay(failures) if failures and backoff is not None else interval_s
        await _wait(delay, wake, sleep)


async def _wait(seconds: float, wake: asyncio.Event | None, sleep: Sleep) -> None:
    if wake is None:
        await sleep(seconds)
        return
    if not wake.is_set():
        waiter = asyncio.ensure_future(wake.wait())
        sleeper = asyncio.ensure_future(sleep(seconds))
        try:
            await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in (waiter, sleeper):
                pending.cancel()
            await asyncio.gather(waiter, sleeper, return_exceptions=True)
            if sleeper.done() and not sleeper.cancelled() and sleeper.exception() is not None:
                raise sleeper.exception()  # type: ignore[misc]
    wake.clear()
