"""Dead letters read back: listed, counted, replayed or discarded.

``shared.bus`` dead-letters a message its consumer cannot use by publishing a ``DeadLetter`` on
``dlq.<subject>`` in the DLQ stream. This module is the operators' side of that stream:

* ``DeadLetterReader``    counts by original subject, a newest-first page, one letter by sequence
* ``DeadLetterOperator``  replay one (its original payload back on its original subject) or
                          discard one

``JetStreamDeadLetters`` implements both over the JetStream API of a connected ``Bus``: stream
info (with per-subject counts), ``STREAM.MSG.GET`` by sequence and ``STREAM.MSG.DELETE``. It keeps
no state and creates no consumer, so any process holding a bus can use it. NATS failures become
``shared.errors``: ``NotFound`` for a sequence the stream does not hold, ``OperationTimeout`` and
``ServiceUnavailable`` when NATS does not answer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, TypeVar

import nats.errors
import nats.js.errors
from faststream.exceptions import FastStreamException
from nats.js.api import RawStreamMsg
from pydantic import ValidationError

from shared import subjects
from shared.bus import Bus
from shared.dead_letter_ports import (
    DeadLetterFilter,
    DeadLetterOperator,
    DeadLetterPage,
    DeadLetterReader,
    DeadLetterRecord,
    Replayed,
)
from shared.errors import InvalidInput, NotFound, OperationTimeout, ServiceUnavailable
from shared.messages import DeadLetter, deterministic_id
from shared.telemetry import get_logger

__all__ = [
    "BULK_LIMIT",
    "REPLAY_HEADER",
    "DeadLetterFilter",
    "DeadLetterOperator",
    "DeadLetterPage",
    "DeadLetterReader",
    "DeadLetterRecord",
    "JetStreamDeadLetters",
    "Replayed",
]

T = TypeVar("T")
log = get_logger(__name__)

REPLAY_HEADER = "Vmscale-Replay-Of"
"""Header on a replayed message: the DLQ sequence it was replayed from."""

SCAN_CHUNK = 64
"""Sequences fetched at once while paging backwards through the stream."""

SCAN_BUDGET = 4096
"""At most this many sequences are looked at for one page, so a page costs bounded work however
large the stream; a page cut short by it says where to go on (``next_before``)."""


BULK_LIMIT = 1000
"""At most this many letters are selected by one filter (a bulk replay or discard): repeat the
action for more."""


def _missing(sequence: int | None) -> str:
    return f"no dead letter with sequence {sequence}"


def _payload(body: str) -> tuple[Any, bool]:
    try:
        return json.loads(body), True
    except ValueError:
        return body, False


def _record(raw: RawStreamMsg, bus: Bus) -> tuple[DeadLetterRecord, DeadLetter | None]:
    """The record of one stored message, and its ``DeadLetter`` (None when it is not one)."""
    wire = str(raw.subject or "")
    at = raw.time or datetime.now(UTC)
    data = raw.data or b""
    try:
        letter = DeadLetter.model_validate_json(data)
    except ValidationError as exc:
        # Not written by the bus: shown (so it can be discarded), never replayed.
        text = data.decode("utf-8", errors="replace")
        payload, is_json = _payload(text)
        unreadable = DeadLetterRecord(
            sequence=int(raw.seq or 0),
            subject=subjects.dead_lettered(bus.topology.unprefixed(wire)),
            service="",
            consumer="",
            reason=f"not a dead letter: {exc.error_count()} schema error(s)",
            error_kind=InvalidInput.__name__,
            deliveries=0,
            dead_lettered_at=at,
            message_id=None,
            headers={},
            payload=payload,
            payload_is_json=is_json,
        )
        return unreadable, None
    payload, is_json = _payload(letter.payload)
    record = DeadLetterRecord(
        sequence=int(raw.seq or 0),
        subject=letter.subject,
        service=bus.topology.service_of(letter.consumer),
        consumer=letter.consumer,
        reason=letter.reason,
        error_kind=letter.error_kind,
        deliveries=letter.deliveries,
        dead_lettered_at=at,
        message_id=next((v for k, v in letter.headers.items() if k.lower() == "nats-msg-id"), None),
        headers=dict(letter.headers),
        payload=payload,
        payload_is_json=is_json,
    )
    return record, letter


class JetStreamDeadLetters:
    """``DeadLetterReader`` and ``DeadLetterOperator`` over the DLQ stream of ``bus``'s topology."""

    def __init__(self, bus: Bus, timeout: float = 5.0) -> None:
        self._bus = bus
        self._timeout = timeout

    @property
    def _stream(self) -> str:
        return self._bus.topology.dead_letters.name

    async def _call(self, awaitable: Awaitable[T], sequence: int | None = None) -> T:
        """Await one JetStream API call, its failures translated to our errors."""
        try:
            return await asyncio.wait_for(awaitable, timeout=self._timeout)
        except nats.js.errors.NotFoundError as exc:
            raise NotFound(_missing(sequence)) from exc
        except (TimeoutError, nats.errors.TimeoutError) as exc:
            raise OperationTimeout("NATS did not answer in time", subject=subjects.DEAD_LETTERS.name) from exc
        except (nats.errors.Error, FastStreamException, ConnectionError) as exc:
            raise ServiceUnavailable("NATS is unavailable", subject=subjects.DEAD_LETTERS.name) from exc

    def _js(self) -> Any:
        if not self._bus.is_connected():
            raise ServiceUnavailable("NATS is unavailable", subject=subjects.DEAD_LETTERS.name, retry_after_s=5)
        return self._bus.broker.config.connection_state.stream

    def _original(self, raw: RawStreamMsg) -> str:
        """The original subject of a stored letter, from the subject it is stored under."""
        return subjects.dead_lettered(self._bus.topology.unprefixed(str(raw.subject or "")))

    async def _state(self) -> tuple[int, int, dict[str, int]]:
        """First and last sequence, and the counts by original subject (all zero without a stream)."""
        js = self._js()
        pattern = self._bus.topology.subject(subjects.DEAD_LETTERS)
        try:
            info = await self._call(js.stream_info(self._stream, subjects_filter=pattern))
        except NotFound:
            return 0, 0, {}
        counts = {
            subjects.dead_lettered(self._bus.topology.unprefixed(wire)): int(count)
            for wire, count in (info.state.subjects or {}).items()
        }
        return int(info.state.first_seq), int(info.state.last_seq), counts

    async def _raw(self, sequence: int) -> RawStreamMsg | None:
        try:
            raw: RawStreamMsg = await self._call(self._js().get_msg(self._stream, sequence), sequence)
        except NotFound:
            return None
        return raw

    async def _delete(self, sequence: int) -> bool:
        """Delete one message; False when it was already gone."""
        try:
            await self._call(self._js().delete_msg(self._stream, sequence), sequence)
        except NotFound:
            return False
        except ServiceUnavailable as exc:
            # the server answers 400 "sequence N not found" for a message deleted meanwhile
            if isinstance(exc.__cause__, nats.js.errors.BadRequestError):
                return False
            raise
        return True

    async def _letter(self, sequence: int) -> tuple[DeadLetterRecord, DeadLetter | None]:
        raw = await self._raw(sequence) if sequence >= 1 else None
        if raw is None:
            raise NotFound(_missing(sequence))
        return _record(raw, self._bus)

    # -- DeadLetterReader ---------------------------------------------------------------------

    async def counts(self) -> dict[str, int]:
        """See ``DeadLetterReader.counts``."""
        _, _, counts = await self._state()
        return counts

    async def page(self, *, subject: str | None = None, limit: int = 50, before: int | None = None) -> DeadLetterPage:
        """See ``DeadLetterReader.page``: walks back from the newest sequence, ``SCAN_CHUNK`` at a time."""
        if limit < 1:
            raise InvalidInput("limit must be at least 1", field="limit")
        first, last, counts = await self._state()
        total = counts.get(subject, 0) if subject else sum(counts.values())
        found: list[DeadLetterRecord] = []
        top = last if before is None else min(last, before - 1)
        low = max(first, top - SCAN_BUDGET + 1)
        if total == 0 or top < first:
            return DeadLetterPage(letters=(), total=total, next_before=None)
        seq = top
        while seq >= low and len(found) < limit:
            # unfiltered, every stored sequence is a match: fetch no more than the page still needs
            size = SCAN_CHUNK if subject else min(SCAN_CHUNK, limit - len(found))
            chunk = range(seq, max(low, seq - size + 1) - 1, -1)
            raws = await asyncio.gather(*(self._raw(n) for n in chunk))
            for raw in raws:
                seq -= 1
                if raw is None:
                    continue
                # filtered by the subject it is stored under, as ``counts`` counts it
                if subject is None or self._original(raw) == subject:
                    found.append(_record(raw, self._bus)[0])
                    if len(found) == limit:
                        break
            if before is None and len(found) == total:  # every match seen: nothing older
                seq = first - 1
        more = seq >= first and not (before is None and len(found) == total)
        return DeadLetterPage(letters=tuple(found), total=total, next_before=seq + 1 if more else None)

    async def select(self, criteria: DeadLetterFilter, limit: int = BULK_LIMIT) -> tuple[DeadLetterRecord, ...]:
        """The dead letters meeting ``criteria``, oldest first, at most ``limit`` of them.

        Walks the whole stream (the DLQ is small by design: each letter is a failure someone must
        see), ``SCAN_CHUNK`` sequences at a time. Raises ``InvalidInput`` for a ``limit`` below 1,
        ``ServiceUnavailable`` / ``OperationTimeout`` when NATS does not answer.
        """
        if limit < 1:
            raise InvalidInput("limit must be at least 1", field="limit")
        first, last, counts = await self._state()
        if criteria.subject and not counts.get(criteria.subject):
            return ()
        found: list[DeadLetterRecord] = []
        seq = max(first, 1)
        while seq <= last and len(found) < limit:
            chunk = range(seq, min(last, seq + SCAN_CHUNK - 1) + 1)
            raws = await asyncio.gather(*(self._raw(n) for n in chunk))
            seq = chunk[-1] + 1
            for raw in raws:
                if raw is None:
                    continue
                record = _record(raw, self._bus)[0]
                if criteria.matches(record):
                    found.append(record)
                    if len(found) == limit:
                        break
        return tuple(found)

    async def get(self, sequence: int) -> DeadLetterRecord:
        """See ``DeadLetterReader.get``."""
        record, _ = await self._letter(sequence)
        return record

    # -- DeadLetterOperator -------------------------------------------------------------------

    async def replay(self, sequence: int) -> Replayed:
        """See ``DeadLetterOperator.replay``: publish first, then delete (at least once, never lost)."""
        record, letter = await self._letter(sequence)
        if letter is None:
            raise InvalidInput(f"the message at sequence {sequence} is not a dead letter and cannot be replayed")
        try:
            original = subjects.by_name(letter.subject)
            stream = self._bus.topology.stream_for(original)
        except (KeyError, ValueError) as exc:
            raise InvalidInput("the original subject is not stored in a stream", subject=letter.subject) from exc
        message_id = str(deterministic_id("replay", self._stream, sequence, record.message_id))
        # Nats-* headers steer JetStream (the old id, expectations); the rest travels as it came.
        headers = {k: v for k, v in letter.headers.items() if not k.lower().startswith("nats-")}
        headers |= {"Nats-Msg-Id": message_id, REPLAY_HEADER: str(sequence)}
        ack = await self._call(
            self._js().publish(
                self._bus.topology.subject(original),
                letter.payload.encode("utf-8"),
                stream=stream.name,
                headers=headers,
                timeout=self._timeout,
            )
        )
        await self._delete(sequence)  # gone already: a concurrent replay of the same letter
        log.info("dead letter replayed", sequence=sequence, subject=letter.subject, message_id=message_id)
        return Replayed(sequence=sequence, subject=letter.subject, message_id=message_id, duplicate=bool(ack.duplicate))

    async def discard(self, sequence: int, reason: str) -> DeadLetterRecord:
        """See ``DeadLetterOperator.discard``."""
        record, _ = await self._letter(sequence)
        if not await self._delete(sequence):
            raise NotFound(_missing(sequence))
        log.info("dead letter discarded", sequence=sequence, subject=record.subject, reason=reason)
        return record
