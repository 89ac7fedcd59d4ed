"""Subscribers of the pool commands: validate, call one use case, report failures as events.

Failures follow ``shared.delivery.answer_failures``: a ``PermanentError``, or a ``RetryableError``
on the last delivery, becomes ``pool.operation_failed`` (``retryable`` set for the latter) and
the command is acknowledged; an earlier ``RetryableError`` is redelivered after a delay.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faststream.nats import NatsRouter
from faststream.nats.annotations import NatsMessage

from services.loadbalancer.membership import Membership
from shared import subjects
from shared.bus import Bus
from shared.delivery import answer_failures
from shared.errors import PermanentError, VmscaleError
from shared.messages import AddPoolMember, CancelDrain, DrainPoolMember, PoolOperationFailed, RemovePoolMember

__all__ = ["SERVICE", "command_router"]

SERVICE = "loadbalancer"


async def _run(bus: Bus, operation: str, cmd: Any, message: Any, work: Callable[[], Awaitable[None]]) -> None:
    async def report(exc: VmscaleError) -> None:
        failure = PoolOperationFailed(
            activity_id=cmd.activity_id,
            pool=cmd.pool,
            name=cmd.name,
            operation=operation,
            reason=str(exc),
            error_kind=type(exc).__name__,
            retryable=not isinstance(exc, PermanentError),
            **cmd.caused_by(cmd),
        )
        await bus.publish(subjects.POOL_OPERATION_FAILED, failure)

    await answer_failures(message, bus.policy.max_deliver, work, report)


def command_router(bus: Bus, membership: Membership) -> NatsRouter:
    """``cmd.pool.add`` / ``drain`` / ``cancel_drain`` / ``remove``."""
    router = NatsRouter()

    @bus.consumer(router, subjects.CMD_POOL_ADD, SERVICE)
    async def on_add(cmd: AddPoolMember, message: NatsMessage) -> None:
        await _run(bus, "add", cmd, message, lambda: membership.add(cmd))

    @bus.consumer(router, subjects.CMD_POOL_DRAIN, SERVICE)
    async def on_drain(cmd: DrainPoolMember, message: NatsMessage) -> None:
        await _run(bus, "drain", cmd, message, lambda: membership.drain(cmd))

    @bus.consumer(router, subjects.CMD_POOL_CANCEL_DRAIN, SERVICE)
    async def on_cancel(cmd: CancelDrain, message: NatsMessage) -> None:
        await _run(bus, "cancel_drain", cmd, message, lambda: membership.cancel_drain(cmd))

    @bus.consumer(router, subjects.CMD_POOL_REMOVE, SERVICE)
    async def on_remove(cmd: RemovePoolMember, message: NatsMessage) -> None:
        await _run(bus, "remove", cmd, message, lambda: membership.remove(cmd))

    return router
