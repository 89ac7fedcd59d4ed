"""What an operator sees of a dead letter and the two ports that read and act on the DLQ stream.

``shared.dead_letters.JetStreamDeadLetters`` implements both ports over JetStream; the records
and the filter are plain values the gateway and the CLI show and take.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DeadLetterFilter",
    "DeadLetterOperator",
    "DeadLetterPage",
    "DeadLetterReader",
    "DeadLetterRecord",
    "Replayed",
]


class DeadLetterRecord(BaseModel):
    """One dead letter as the DLQ stream holds it."""

    model_config = ConfigDict(frozen=True)

    sequence: int = Field(description="its sequence in the DLQ stream: what get, replay and discard take")
    subject: str = Field(description="the subject the original message was published on")
    service: str = Field(description="the service whose consumer gave up on it ('' when unknown)")
    consumer: str = Field(description="the durable consumer that gave up on it")
    reason: str
    error_kind: str = Field(description="the class of the error that ended it")
    deliveries: int = Field(description="how many times it had been delivered")
    dead_lettered_at: datetime
    message_id: str | None = Field(description="the original's Nats-Msg-Id")
    headers: dict[str, str] = Field(description="the original's headers")
    payload: Any = Field(description="the original payload: parsed JSON, or the text when it is not JSON")
    payload_is_json: bool


class DeadLetterFilter(BaseModel):
    """Which dead letters a bulk action takes: every given criterion must hold (none given: all)."""

    model_config = ConfigDict(frozen=True)

    subject: str | None = Field(default=None, description="the original subject, exactly")
    group: str | None = Field(default=None, description="the scaling group named in the original payload")
    since: datetime | None = Field(default=None, description="dead-lettered at or after this time")
    until: datetime | None = Field(default=None, description="dead-lettered before this time")
    reason_contains: str | None = Field(default=None, description="a substring of the reason, any case")

    def matches(self, record: DeadLetterRecord) -> bool:
        """Whether ``record`` meets every criterion given."""
        if self.subject and record.subject != self.subject:
            return False
        if self.group:
            payload = record.payload if record.payload_is_json and isinstance(record.payload, dict) else {}
            if payload.get("group") != self.group:
                return False
        at = record.dead_lettered_at
        if self.since and at < self.since:
            return False
        if self.until and at >= self.until:
            return False
        return not (self.reason_contains and self.reason_contains.casefold() not in record.reason.casefold())


class DeadLetterPage(BaseModel):
    """Dead letters, newest first, and where the next (older) page starts."""

    model_config = ConfigDict(frozen=True)

    letters: tuple[DeadLetterRecord, ...]
    total: int = Field(description="dead letters stored that match the filter, on every page")
    next_before: int | None = Field(description="pass as ``before`` for the older ones; None when none are left")


class Replayed(BaseModel):
    """What a replay published."""

    model_config = ConfigDict(frozen=True)

    sequence: int = Field(description="the DLQ sequence it came from (now deleted)")
    subject: str
    message_id: str = Field(description="the Nats-Msg-Id the replay was published with")
    duplicate: bool = Field(description="the stream had already stored this replay (a repeated request)")


class DeadLetterReader(Protocol):
    """Reads the DLQ stream; never changes it."""

    async def counts(self) -> dict[str, int]:
        """Dead letters stored now, by original subject; ``{}`` when there are none.

        One round trip. Raises ``ServiceUnavailable`` / ``OperationTimeout`` when NATS does not answer.
        """
        ...

    async def page(self, *, subject: str | None = None, limit: int = 50, before: int | None = None) -> DeadLetterPage:
        """Up to ``limit`` dead letters, newest first, of ``subject`` (an original subject name) or of
        all, with a sequence below ``before`` when given.

        Bounded: looks at no more than ``SCAN_BUDGET`` sequences, so a page may hold fewer than
        ``limit`` letters with ``next_before`` set. Raises ``InvalidInput`` for a ``limit`` below 1,
        ``ServiceUnavailable`` / ``OperationTimeout`` when NATS does not answer.
        """
        ...

    async def get(self, sequence: int) -> DeadLetterRecord:
        """The dead letter at ``sequence``. Raises ``NotFound`` when the stream does not hold it
        (never stored, replayed, discarded or expired), ``ServiceUnavailable`` / ``OperationTimeout``."""
        ...


class DeadLetterOperator(Protocol):
    """Acts on one dead letter; each action removes it from the DLQ stream."""

    async def replay(self, sequence: int) -> Replayed:
        """Publish the original payload again on its original subject and delete the letter.

        Blocks until the stream acknowledged the publish and the letter is deleted. The replay
        keeps the original's headers (trace, correlation) but carries a new ``Nats-Msg-Id``,
        derived from the letter, so the original's duplicate window does not swallow it while a
        repeated replay of the same letter is stored once (idempotent). Raises ``NotFound`` for an
        unknown sequence, ``InvalidInput`` when the letter's subject is not a stored subject of
        the contract, ``ServiceUnavailable`` / ``OperationTimeout`` when NATS does not answer.
        """
        ...

    async def discard(self, sequence: int, reason: str) -> DeadLetterRecord:
        """Delete the letter at ``sequence`` without replaying it; returns what was deleted.

        ``reason`` is logged with it (callers that keep an audit trail record it there too). Not
        idempotent: a second discard raises ``NotFound``, as does an unknown sequence;
        ``ServiceUnavailable`` / ``OperationTimeout`` when NATS does not answer.
        """
        ...
