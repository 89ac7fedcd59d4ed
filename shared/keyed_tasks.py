"""Background tasks kept by key: at most one running task per key (a member's wait, an
operation, a saga step), forgotten once done, cancelled on stop.

A redelivered command must not start a second wait for the same thing, a newer command must be
able to stop the old one first, and a crash in the background must be seen: ``KeyedTasks`` is the
one registry that does all three.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

from shared.telemetry import get_logger

__all__ = ["KeyedTasks"]

K = TypeVar("K", bound=Hashable)

_log = get_logger(__name__)


class KeyedTasks(Generic[K]):
    """At most one running background task per key, each with a ``kind`` (what it does)."""

    def __init__(self, name: str, log: Any = None) -> None:
        """``name`` says what the tasks are in log lines; ``log`` is the caller's logger."""
        self._name = name
        self._log = log if log is not None else _log
        self._tasks: dict[K, tuple[str, asyncio.Task[None]]] = {}

    def start(self, key: K, make: Callable[[], Coroutine[Any, Any, None]], *, kind: str = "") -> bool:
        """Start ``make()`` as the task of ``key`` unless one is running for ``key``; whether it
        started. Never blocks. A task that ends with an exception is logged as crashed (with
        ``key``); a finished task is forgotten."""
        if self.kind(key) is not None:
            return False
        task = asyncio.create_task(make(), name=f"{self._name}:{key}")
        self._tasks[key] = (kind, task)
        task.add_done_callback(lambda done: self._forget(key, done))
        return True

    def kind(self, key: K) -> str | None:
        """The kind of the task running for ``key``; None when none runs."""
        entry = self._tasks.get(key)
        return entry[0] if entry is not None and not entry[1].done() else None

    def __contains__(self, key: object) -> bool:
        entry = self._tasks.get(key)  # type: ignore[arg-type]
        return entry is not None and not entry[1].done()

    def __len__(self) -> int:
        return sum(1 for _, task in self._tasks.values() if not task.done())

    def running(self) -> dict[K, str]:
        """Every key with a running task, and its kind."""
        return {key: kind for key, (kind, task) in self._tasks.items() if not task.done()}

    async def cancel(self, key: K) -> None:
        """Cancel the task of ``key`` and wait until it ended (nothing when none runs). Its
        outcome, cancelled or failed, is not raised here."""
        entry = self._tasks.pop(key, None)
        if entry is not None and not entry[1].done():
            entry[1].cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await entry[1]

    async def wait_idle(self) -> None:
        """Wait until no task runs, including tasks started meanwhile (tests, shutdown)."""
        while pending := [task for _, task in self._tasks.values() if not task.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    async def close(self) -> None:
        """Cancel every task and wait until all ended."""
        for key in list(self._tasks):
            await self.cancel(key)

    def _forget(self, key: K, done: asyncio.Task[None]) -> None:
        entry = self._tasks.get(key)
        if entry is not None and entry[1] is done:
            del self._tasks[key]
        if not done.cancelled() and done.exception() is not None:
            self._log.error(f"{self._name} crashed", key=str(key), error=repr(done.exception()))
