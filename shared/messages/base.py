"""The envelope every message on the bus carries.

Messages are frozen pydantic models that reject unknown fields. The envelope fields:

* ``schema_version``: bumped only for a breaking change; schemas otherwise only gain optional
  fields.
* ``message_id``: a UUID; the bus sends it as ``Nats-Msg-Id`` so JetStream drops re-publishes
  inside the duplicate window. Producers that may publish the same fact twice derive it
  deterministically (``deterministic_id``).
* ``correlation_id``: the activity (or request) this message belongs to.
* ``causation_id``: the ``message_id`` of the message that caused this one.
* ``occurred_at``: when the fact happened, always timezone-aware UTC.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from shared.vocabulary import UtcDatetime

__all__ = [
    "Command",
    "Event",
    "Message",
    "Query",
    "Reply",
    "UtcDatetime",
    "deterministic_id",
    "utcnow",
]

_NAMESPACE = uuid.UUID("6f1d2a4e-9b57-4c1e-8d0b-5a3e7c9f0b21")


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def deterministic_id(*parts: object) -> uuid.UUID:
    """Return a stable UUID for a natural key, for re-publishes that must deduplicate."""
    return uuid.uuid5(_NAMESPACE, "\x1f".join(str(part) for part in parts))


class Message(BaseModel):
    """Base of every message: frozen, strict about unknown fields, with the envelope."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = 1
    message_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    correlation_id: str | None = None
    causation_id: str | None = None
    occurred_at: UtcDatetime = Field(default_factory=utcnow)

    def caused_by(self, cause: Message) -> dict[str, Any]:
        """Envelope fields for a message caused by ``cause``: same correlation, its id as cause."""
        return {"correlation_id": cause.correlation_id, "causation_id": str(cause.message_id)}

    def with_envelope(self, cause: Message) -> Self:
        """Copy of this message whose envelope follows ``cause``."""
        return self.model_copy(update=self.caused_by(cause))


class Command(Message):
    """An imperative request to the service that owns a resource (``cmd.<area>.<verb>``)."""


class Event(Message):
    """A fact that happened (``<area>.<past-participle>``)."""


class Query(Message):
    """A read request over core NATS request/reply (``query.<area>.<noun>``)."""


_FIELD_PAIRS = {
    "type": "array",
    "items": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
}
"""``(field, message)`` pairs as plain arrays: tuple schemas (``prefixItems``) are not OpenAPI 3.0."""


class Reply(Message):
    """The answer to a ``Query``; ``error`` is set instead of data when the query failed."""

    error: str | None = None
    error_kind: str | None = None
    error_fields: Annotated[tuple[tuple[str, str], ...], WithJsonSchema(_FIELD_PAIRS)] = ()
    """With an ``InvalidInput`` error: ``(field path, message)`` pairs saying what is wrong where
    (``min_size``, ``thresholds.cpu_low``, ``policies.0.target``; ``""`` for the whole object)."""
