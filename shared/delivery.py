"""The failure policy of a command handler that answers with a failure event.

The bus alone (``shared.bus``) redelivers a message whose handler raised a ``RetryableError`` and
dead-letters it after ``max_deliver`` deliveries. A command whose sender waits for an answer (the
scaler's saga waits for ``pool.operation_failed``, ``monitoring.failed``) must get one instead of a
silent dead letter, so its handler runs under ``answer_failures``:

* the work succeeds                                   → nothing more (the work published its event)
* ``PermanentError``                                  → ``report(exc)``, the command is acked
* ``RetryableError`` before the last delivery         → raised: the bus redelivers after a delay
* ``RetryableError`` on the last delivery, or one
  ``final`` says must not be retried                  → ``report(exc)``, the command is acked

Anything that is not a ``VmscaleError`` is a bug and goes to the bus's own policy (redelivered,
then dead-lettered).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors

from shared.errors import RetryableError, VmscaleError

__all__ = ["answer_failures", "delivery_count", "is_last_delivery"]


def delivery_count(message: Any) -> int:
    """How often JetStream has delivered ``message`` (a FastStream message), this time included;
    1 for a message without JetStream metadata (core NATS, FastStream's ``TestNatsBroker``)."""
    try:
        metadata = message.raw_message.metadata
    except (AttributeError, nats.errors.NotJSMessageError):
        return 1
    return int(getattr(metadata, "num_delivered", None) or 1)


def is_last_delivery(message: Any, max_deliver: int) -> bool:
    """Whether the bus will not redeliver ``message`` after this delivery (``max_deliver`` reached)."""
    return delivery_count(message) >= max_deliver


async def answer_failures(
    message: Any,
    max_deliver: int,
    work: Callable[[], Awaitable[None]],
    report: Callable[[VmscaleError], Awaitable[None]],
    *,
    final: Callable[[VmscaleError], bool] = lambda exc: False,
) -> None:
    """Run ``work`` for the command ``message`` under the module docstring's policy.

    ``report(exc)`` publishes the failure event; when it raises, that error goes to the bus
    (redelivered), so the answer is not lost.
    Blocks as long as ``work`` does.
    """
    try:
        await work()
    except VmscaleError as exc:
        last = is_last_delivery(message, max_deliver) or final(exc)
        if isinstance(exc, RetryableError) and not last:
            raise
        await report(exc)
