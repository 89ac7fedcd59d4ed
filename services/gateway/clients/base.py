"""Asking a back-end service over the bus, with its failures turned into our errors — the one place.

A service that does not answer in time is ``OperationTimeout`` (504); NATS down is
``ServiceUnavailable`` (503); a reply that carries ``error`` becomes the ``shared.errors`` class
named by ``error_kind`` (so a scaler ``InvalidInput`` is a 422 with the scaler's reasons, each
field's message in the problem's ``errors`` from the reply's ``error_fields``).
"""

from __future__ import annotations

from typing import Any, Self, TypeVar

from shared import errors
from shared.bus import Bus
from shared.errors import ServiceUnavailable, VmscaleError
from shared.messages import Command, Query, Reply
from shared.subjects import Subject

__all__ = ["BackendClient", "to_error"]

Q = TypeVar("Q", bound=Query)
C = TypeVar("C", bound=Command)
R = TypeVar("R", bound=Reply)


def to_error(reply: Reply, subject: Subject[Any]) -> VmscaleError:
    """The exception a failed reply stands for."""
    cls = getattr(errors, reply.error_kind or "", None)
    if not (isinstance(cls, type) and issubclass(cls, VmscaleError)):
        cls = errors.PermanentError
    message = reply.error or "the service refused the request"
    if issubclass(cls, errors.InvalidInput):
        return cls(message, fields=reply.error_fields, service=subject.area)
    return cls(message, service=subject.area)


class BackendClient:
    """The typed client of one back-end service: each method sends one subject of
    ``shared.subjects`` and returns that subject's reply model, or raises our error."""

    def __init__(self, bus: Bus, timeout_s: float) -> None:
        self._bus = bus
        self._timeout_s = float(timeout_s)

    def with_timeout(self, timeout_s: float) -> Self:
        """The same client, waiting ``timeout_s`` for each reply."""
        return type(self)(self._bus, timeout_s)

    def _require_bus(self, subject: Subject[Any]) -> None:
        if not self._bus.is_connected():
            raise ServiceUnavailable("NATS is unavailable", service=subject.area, retry_after_s=5)

    async def _ask(self, subject: Subject[Q], query: Q, answer: type[R]) -> R:
        """Send ``query`` on ``subject`` and return its reply (``answer``, the subject's reply model)."""
        if subject.reply is not answer:
            raise TypeError(f"{subject.name} answers {getattr(subject.reply, '__name__', None)}, not {answer.__name__}")
        self._require_bus(subject)
        reply = await self._bus.request(subject, query, timeout=self._timeout_s)
        if not isinstance(reply, answer):
            raise TypeError(f"{subject.name} answered {type(reply).__name__}")
        if reply.error:
            raise to_error(reply, subject)
        return reply

    async def _send(self, subject: Subject[C], command: C) -> None:
        """Publish a command (stored in JetStream); ``ServiceUnavailable`` when NATS is down."""
        self._require_bus(subject)
        await self._bus.publish(subject, command)
