"""The consuming side of the bus: what a handler's outcome does to its JetStream message.

Delivery policy, chosen explicitly because FastStream's default (``REJECT_ON_ERROR``) would
``term()`` a message whose handler raised, losing it:

* handler returns                 → ``ack``
* ``RetryableError`` / unknown     → ``nak(delay)`` while deliveries < ``max_deliver``,
                                     then dead-lettered
* ``PermanentError`` / bad payload → dead-lettered at once

Dead-lettering publishes a ``DeadLetter`` (original subject, consumer, reason, payload) on
``dlq.<subject>`` in the ``DLQ`` stream, counts it in ``vmscale_dead_letters_total{subject}``
and then terminates the original, so nothing is lost. ``shared.dead_letters`` reads them back.

Two fault paths keep that promise:

* the dead-letter publish itself fails (NATS blip, DLQ stream gone) → the original is
  ``nak(delay)``-ed, never acked or terminated; the server redelivers it without limit
  (``max_deliver`` is enforced here, not by the server, so a nak after the last delivery is
  still redelivered) and the next failure tries the dead-letter stream again;
* a handler that outlives ``ack_wait`` → while it runs the message is kept alive with
  in-progress acks (``+WPI``) every third of ``ack_wait``, so JetStream does not redeliver it
  to a second handler mid-way (a long agent install runs once).

Publishes, publish errors and handler failures are counted too (``shared.metrics.BusMetrics``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import nats.errors
from faststream._internal.middlewares import BaseMiddleware
from faststream.exceptions import NackMessage, RejectMessage
from faststream.message import StreamMessage
from pydantic import ValidationError

from shared import subjects
from shared.delivery import delivery_count, is_last_delivery
from shared.errors import PermanentError, ServiceUnavailable
from shared.loops import every
from shared.messages import DeadLetter
from shared.metrics import ConsumeOutcome
from shared.problems import summary
from shared.telemetry import get_logger

if TYPE_CHECKING:
    from shared.bus import Bus

__all__ = ["DeadLetterMiddleware", "DeadLetterPolicy", "subject_label"]

_log = get_logger(__name__)

_CONTRACT_NAMES = frozenset(subject.name for subject in subjects.ALL)


def subject_label(name: str) -> str:
    """A subject as a metric label: a subject of the contract, or ``other`` (bounded cardinality,
    whatever a wildcard consumer or a stray publisher brings)."""
    return name if name in _CONTRACT_NAMES else "other"


@dataclass(frozen=True)
class DeadLetterPolicy:
    """How many deliveries a message gets and how long a nak waits."""

    max_deliver: int = 5
    retry_delay_s: float = 2.0
    ack_wait_s: float = 30.0
    dead_letter_retry_s: float = 5.0
    """How long a message waits for another try when its dead-letter publish failed."""

    @property
    def keepalive_s(self) -> float:
        """How often a running handler's message is marked in progress (a third of ack wait)."""
        return max(self.ack_wait_s / 3.0, 0.05)


class DeadLetterMiddleware(BaseMiddleware):
    """Turns handler outcomes into ack / nak(delay) / dead-letter, per the module docstring."""

    def __init__(self, msg: Any, /, *, context: Any, bus: Bus, policy: DeadLetterPolicy) -> None:
        super().__init__(msg, context=context)
        self._bus = bus
        self._policy = policy

    async def consume_scope(
        self, call_next: Callable[[StreamMessage[Any]], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        raw = msg.raw_message
        if not str(getattr(raw, "reply", "") or "").startswith("$JS.ACK."):
            return await call_next(msg)  # core NATS: no stream, nothing to redeliver
        keepalive = asyncio.create_task(self._keep_alive(raw), name="bus-keepalive")
        try:
            return await call_next(msg)
        except (NackMessage, RejectMessage):
            raise
        except (PermanentError, ValidationError) as exc:
            await self._reject(msg, exc)
        except Exception as exc:
            if is_last_delivery(msg, self._policy.max_deliver):
                await self._reject(msg, exc)
            self._count(msg, ConsumeOutcome.RETRIED)
            delay = self._policy.retry_delay_s * delivery_count(msg)
            raise NackMessage(delay=delay) from exc
        finally:
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive

    async def _keep_alive(self, raw: Any) -> None:
        """Mark the message in progress every ``keepalive_s`` until cancelled (the handler finished)."""
        subject = str(getattr(raw, "subject", ""))

        async def beat() -> None:
            try:
                await raw.in_progress()
            except (nats.errors.Error, ConnectionError, AssertionError) as exc:
                # NATS blipped: the next beat tries again; at worst the message is redelivered
                # after ack_wait, which at-least-once consumers tolerate.
                raise ServiceUnavailable(f"in-progress ack failed: {exc!r}", subject=subject) from exc

        await every(self._policy.keepalive_s, beat, name="in-progress ack", log=_log, wait_first=True)

    async def _reject(self, msg: StreamMessage[Any], exc: BaseException) -> NoReturn:
        """Dead-letter, then terminate; when the dead letter cannot be stored, nak with a delay
        so the original is redelivered instead of lost."""
        try:
            await self._dead_letter(msg, exc)
        except Exception as failure:  # whatever stops the dead letter, the original must survive
            _log.warning(
                "dead-letter publish failed; the message will be redelivered",
                subject=str(getattr(msg.raw_message, "subject", "")),
                error=type(failure).__name__,
            )
            raise NackMessage(delay=self._policy.dead_letter_retry_s) from exc
        raise RejectMessage() from exc

    def _count(self, msg: StreamMessage[Any], outcome: ConsumeOutcome) -> None:
        wire = str(getattr(msg.raw_message, "subject", ""))
        label = subject_label(self._bus.topology.unprefixed(wire))
        self._bus.metrics.consume_errors.labels(label, outcome.value).inc()

    async def _dead_letter(self, msg: StreamMessage[Any], exc: BaseException) -> None:
        raw = msg.raw_message
        wire = str(getattr(raw, "subject", ""))
        metadata = getattr(raw, "metadata", None)
        consumer = str(getattr(metadata, "consumer", "") or "")
        original = self._bus.topology.unprefixed(wire)
        headers = {k: v for k, v in (msg.headers or {}).items() if isinstance(v, str)}
        body = msg.body.decode("utf-8", errors="replace") if isinstance(msg.body, bytes) else ""
        letter = DeadLetter(
            subject=original,
            consumer=consumer,
            reason=_reason(exc),
            error_kind=type(exc).__name__,
            deliveries=delivery_count(msg),
            headers=headers,
            payload=body,
        )
        await self._bus.publish(subjects.dead_letter(original), letter)
        self._bus.metrics.dead_lettered.labels(subject_label(original)).inc()
        self._bus.metrics.consume_errors.labels(subject_label(original), ConsumeOutcome.DEAD_LETTERED.value).inc()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return "invalid message: " + summary(exc, whole="<body>")
    return str(exc) or type(exc).__name__
