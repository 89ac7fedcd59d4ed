"""Result events stored before they are published, so a NATS blip or a crash never loses one.

The scaler's saga waits for one result per pool command (``pool.member_added``,
``pool.member_drained``, ``pool.operation_failed`` ...). ``ResultOutbox`` is the membership's
``EventSink``: it first stores the event in the service's database (``ResultStore``), then
publishes it and forgets it. When the publish fails with a ``RetryableError`` the event stays
stored; the periodic pass (``run``, every ``republish_interval_s``) and the next start (``flush``
in the start hook, before consumers run) publish it. Every event keeps its ``message_id``
(``Nats-Msg-Id``), so one that reached the stream before the process died is stored once
(JetStream's duplicate window): at-least-once publishing, exactly once in the stream.

Order is kept: while anything is stored, a new event is published behind it, oldest first.
An event NATS refuses for good (a ``PermanentError``) is dropped with an error log, so it cannot
block every later one.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared import subjects
from shared.clock import Clock, SystemClock
from shared.errors import RetryableError, VmscaleError
from shared.loops import every
from shared.messages import Message
from shared.republish import Publish
from shared.subjects import Subject
from shared.telemetry import get_logger

__all__ = ["ResultOutbox", "ResultStore", "StoredResult"]

log = get_logger(__name__)


@dataclass(frozen=True)
class StoredResult:
    """One result event waiting to be published: its subject name and its JSON body."""

    message_id: str
    subject: str
    body: str
    stored_at: datetime


class ResultStore(Protocol):
    """Persistence of unpublished results (SQL in the service, a list in tests)."""

    async def add(self, result: StoredResult) -> None:
        """Store ``result`` behind every stored one. Idempotent: a ``message_id`` already
        stored is left as it is. Raises ``ServiceUnavailable`` when the database fails."""
        ...

    async def remove(self, message_id: str) -> None:
        """Forget the result (it was published); absent is fine. Raises like ``add``."""
        ...

    async def pending(self) -> list[StoredResult]:
        """Every stored result, oldest first. Raises like ``add``."""
        ...


class ResultOutbox:
    """Store, publish, forget; re-publish what stays stored. See the module docstring."""

    def __init__(self, store: ResultStore, publish: Publish, clock: Clock | None = None) -> None:
        self._store = store
        self._publish = publish
        self._clock = clock or SystemClock()
        self._lock = asyncio.Lock()
        self._backlog = True  # unknown until the first flush: results of an earlier process may wait

    async def publish(self, subject: Subject[Any], message: Message) -> None:
        """Store ``message``, then publish it (behind any stored one) and forget it.

        Returns once it is stored, published or not: a publish NATS could not take now is
        left to the next pass. Raises ``ServiceUnavailable`` when it cannot be stored, and the
        ``PermanentError`` of a publish NATS refuses for good (the result is then forgotten).
        """
        result = StoredResult(str(message.message_id), subject.name, message.model_dump_json(), self._clock.now())
        async with self._lock:
            await self._store.add(result)
            if self._backlog:
                await self._flush_locked()
                return
            try:
                await self._publish(subject, message)
            except RetryableError as exc:
                self._backlog = True
                log.warning(
                    "result not published; stored for the re-publish pass", subject=subject.name, error=str(exc)
                )
                return
            except VmscaleError:
                await self._store.remove(result.message_id)
                raise
            await self._store.remove(result.message_id)

    async def flush(self) -> int:
        """Publish the stored results, oldest first, forgetting each once published; how many.

        Stops at the first publish that fails with a ``RetryableError`` (the rest wait for the
        next pass). Raises ``ServiceUnavailable`` when the store fails. Idempotent (same ids).
        """
        async with self._lock:
            return await self._flush_locked()

    async def run(self, interval_s: float) -> None:
        """The periodic pass: ``flush`` every ``interval_s`` until cancelled (``shared.loops.every``)."""

        async def flush() -> None:
            sent = await self.flush()
            if sent:
                log.info("re-published stored results", count=sent)

        await every(interval_s, flush, name="result re-publish pass", log=log, wait_first=True, level=logging.INFO)

    async def _flush_locked(self) -> int:
        sent = 0
        for result in await self._store.pending():
            try:
                subject = subjects.by_name(result.subject)
                message = subject.model.model_validate_json(result.body)
            except (KeyError, ValueError) as exc:  # a subject or schema this version no longer knows
                log.error("stored result unreadable; dropped", subject=result.subject, error=str(exc))
                await self._store.remove(result.message_id)
                continue
            try:
                await self._publish(subject, message)
                sent += 1
            except RetryableError as exc:
                self._backlog = True
                log.info("re-publish deferred", subject=result.subject, error=str(exc))
                return sent
            except VmscaleError as exc:  # refused for good: holding it would block every later one
                log.error("stored result refused; dropped", subject=result.subject, error=str(exc))
            await self._store.remove(result.message_id)
        self._backlog = False
        return sent
