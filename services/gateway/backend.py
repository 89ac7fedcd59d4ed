"""Asking the backend services over the bus, with their failures turned into our errors.

A service that does not answer in time is ``OperationTimeout`` (504); NATS down is
``ServiceUnavailable`` (503); a reply that carries ``error`` becomes the ``shared.errors`` class
named by ``error_kind`` (so a scaler ``InvalidInput`` is a 422 with the scaler's reasons).
"""

from __future__ import annotations

from typing import Any, TypeVar

from shared import errors
from shared.bus import Bus
from shared.errors import ServiceUnavailable, VmscaleError
from shared.messages import Command, Message, Reply
from shared.subjects import Subject

__all__ = ["ask", "send", "to_error"]

R = TypeVar("R", bound=Reply)


def to_error(reply: Reply, subject: Subject[Any]) -> VmscaleError:
    """The exception a failed reply stands for."""
    cls = getattr(errors, reply.error_kind or "", None)
    if not (isinstance(cls, type) and issubclass(cls, VmscaleError)):
        cls = errors.PermanentError
    return cls(reply.error or "the service refused the request", service=subject.area)


async def ask(bus: Bus, subject: Subject[Any], query: Message, timeout: float) -> Any:
    """Send ``query`` and return the reply; raise our error when the reply says it failed."""
    if not bus.is_connected():
        raise ServiceUnavailable("NATS is unavailable", service=subject.area, retry_after_s=5)
    reply = await bus.request(subject, query, timeout=timeout)
    if isinstance(reply, Reply) and reply.error:
        raise to_error(reply, subject)
    return reply


async def send(bus: Bus, subject: Subject[Any], command: Command) -> None:
    """Publish a command (stored in JetStream); ``ServiceUnavailable`` when NATS is down."""
    if not bus.is_connected():
        raise ServiceUnavailable("NATS is unavailable", service=subject.area, retry_after_s=5)
    await bus.publish(subject, command)
