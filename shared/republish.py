"""Results that must reach the bus even when NATS blinks at the moment they are published.

A service that has done the work (a pool member enabled, a VM cloned) owes the scaler one
result event. When that publish fails with a ``RetryableError`` the work must not be redone and
the scaler must not wait for its step timeout: ``Republisher`` keeps the event and a periodic
pass (``run``) publishes it again. Every event keeps its ``message_id``, so a publish that did
reach the stream before its ack was lost is stored once (JetStream's duplicate window).

Order is kept: while anything is pending, a new event queues behind it. The queue is bounded;
when full, ``publish`` raises the publish error to the caller, which then handles it as before.
Pending events live in memory: a crash loses them, which is why the services whose results a
saga waits for store them first: inventory in its operation store (``services.inventory``), the
load balancer in its results table (``services.loadbalancer.outbox``), each re-published at start
and by a periodic pass.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from shared.errors import RetryableError, ServiceUnavailable, VmscaleError
from shared.loops import every
from shared.messages import Message
from shared.subjects import Subject
from shared.telemetry import get_logger

__all__ = ["Publish", "Republisher"]

log = get_logger(__name__)

Publish = Callable[[Subject[Any], Any], Awaitable[None]]
"""Publishes a message on a subject (``Bus.publish``, or a fake in unit tests)."""


class Republisher:
    """Publish now, or keep and re-publish on the next pass; see the module docstring."""

    def __init__(self, publish: Publish, *, capacity: int = 10_000) -> None:
        self._publish = publish
        self._capacity = capacity
        self._pending: deque[tuple[Subject[Any], Message]] = deque()
        self._lock = asyncio.Lock()

    @property
    def pending(self) -> int:
        """How many events wait for the next pass."""
        return len(self._pending)

    async def publish(self, subject: Subject[Any], message: Message) -> None:
        """Publish ``message``, or keep it for the next pass when NATS is unavailable.

        Returns once it is published or kept. Raises the ``RetryableError`` of the publish only
        when the queue is full, and any ``PermanentError`` (a bug, not a blip) at once.
        """
        async with self._lock:
            if self._pending:
                self._keep(subject, message, None)
                await self._flush_locked()
                return
            try:
                await self._publish(subject, message)
            except RetryableError as exc:
                self._keep(subject, message, exc)
                log.warning("result not published; kept for the re-publish pass", subject=subject.name, error=str(exc))

    async def flush(self) -> int:
        """Publish what is pending, oldest first, stopping at the first failure; how many went out."""
        async with self._lock:
            return await self._flush_locked()

    async def run(self, interval_s: float) -> None:
        """The periodic pass: ``flush`` every ``interval_s`` until cancelled (``shared.loops.every``)."""

        async def flush() -> None:
            sent = await self.flush()
            if sent:
                log.info("re-published kept results", count=sent, pending=self.pending)

        await every(interval_s, flush, name="re-publish pass", log=log, wait_first=True)

    def _keep(self, subject: Subject[Any], message: Message, exc: RetryableError | None) -> None:
        if len(self._pending) >= self._capacity:
            if exc is not None:
                raise exc
            raise ServiceUnavailable(f"{self._capacity} results already wait for NATS", subject=subject.name)
        self._pending.append((subject, message))

    async def _flush_locked(self) -> int:
        sent = 0
        while self._pending:
            subject, message = self._pending[0]
            try:
                await self._publish(subject, message)
                sent += 1
            except RetryableError as exc:
                log.info("re-publish deferred", subject=subject.name, pending=len(self._pending), error=str(exc))
                return sent
            except VmscaleError as exc:  # refused for good: holding it would block every later one
                log.error("kept result refused; dropped", subject=subject.name, error=str(exc))
            self._pending.popleft()
        return sent
