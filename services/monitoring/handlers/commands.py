"""Subscribers of the monitoring commands: validate, call one use case, publish its event.

Failures follow ``shared.delivery.answer_failures``: a ``PermanentError`` becomes
``monitoring.failed`` and the command is acknowledged; a ``RetryableError`` is redelivered,
except on the last delivery — and except a target that never came up (the wait already took its
time) — where it too becomes ``monitoring.failed`` with ``retryable`` set. Long waits tell
JetStream the message is still in progress so it is not redelivered meanwhile.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faststream.nats import NatsRouter
from faststream.nats.annotations import NatsMessage

from services.monitoring.service import MonitoringService
from shared import subjects
from shared.bus import Bus
from shared.delivery import answer_failures
from shared.errors import OperationTimeout, PermanentError, VmscaleError
from shared.messages import (
    AgentProgress,
    DeleteJob,
    DeregisterTarget,
    InstallAgents,
    MonitoringFailed,
    ProvisionGroupAlerts,
    RegisterJmxExporter,
    RegisterTarget,
    RemoveGroupAlerts,
    SetScaleInSilence,
)

__all__ = ["SERVICE", "command_router"]

SERVICE = "monitoring"


async def _run(bus: Bus, operation: str, cmd: Any, message: Any, work: Callable[[], Awaitable[None]]) -> None:
    async def report(exc: VmscaleError) -> None:
        failure = MonitoringFailed(
            activity_id=getattr(cmd, "activity_id", None),
            operation=operation,
            reason=str(exc),
            error_kind=getattr(exc, "kind", None) or type(exc).__name__,
            retryable=not isinstance(exc, PermanentError),
            **cmd.caused_by(cmd),
        )
        await bus.publish(subjects.MONITORING_FAILED, failure)

    # a target that never came up is not retried: the wait already took its time
    await answer_failures(
        message, bus.policy.max_deliver, work, report, final=lambda exc: isinstance(exc, OperationTimeout)
    )


def command_router(bus: Bus, service: MonitoringService) -> NatsRouter:
    """Every ``cmd.monitoring.*`` subscriber."""
    router = NatsRouter()

    @bus.consumer(router, subjects.CMD_MONITORING_REGISTER, SERVICE)
    async def on_register(cmd: RegisterTarget, message: NatsMessage) -> None:
        async def keepalive() -> None:
            await message.in_progress()

        async def work() -> None:
            await bus.publish(subjects.MONITORING_REGISTERED, await service.register(cmd, keepalive))

        await _run(bus, "register", cmd, message, work)

    @bus.consumer(router, subjects.CMD_MONITORING_REGISTER_JMX, SERVICE)
    async def on_register_jmx(cmd: RegisterJmxExporter, message: NatsMessage) -> None:
        async def keepalive() -> None:
            await message.in_progress()

        async def work() -> None:
            await bus.publish(subjects.MONITORING_JMX_REGISTERED, await service.register_jmx(cmd, keepalive))

        await _run(bus, "register_jmx", cmd, message, work)

    @bus.consumer(router, subjects.CMD_MONITORING_DEREGISTER, SERVICE)
    async def on_deregister(cmd: DeregisterTarget, message: NatsMessage) -> None:
        async def work() -> None:
            await bus.publish(subjects.MONITORING_DEREGISTERED, await service.deregister(cmd))

        await _run(bus, "deregister", cmd, message, work)

    @bus.consumer(router, subjects.CMD_MONITORING_DELETE_JOB, SERVICE)
    async def on_delete_job(cmd: DeleteJob, message: NatsMessage) -> None:
        async def work() -> None:
            await bus.publish(subjects.MONITORING_JOB_DELETED, await service.delete_job(cmd))

        await _run(bus, "delete_job", cmd, message, work)

    @bus.consumer(router, subjects.CMD_MONITORING_PROVISION_ALERTS, SERVICE)
    async def on_provision(cmd: ProvisionGroupAlerts, message: NatsMessage) -> None:
        async def work() -> None:
            await bus.publish(subjects.MONITORING_ALERTS_PROVISIONED, await service.provision(cmd))

        await _run(bus, "provision_alerts", cmd, message, work)

    @bus.consumer(router, subjects.CMD_MONITORING_REMOVE_ALERTS, SERVICE)
    async def on_remove_alerts(cmd: RemoveGroupAlerts, message: NatsMessage) -> None:
        async def work() -> None:
            await bus.publish(subjects.MONITORING_ALERTS_REMOVED, await service.remove_alerts(cmd))

        await _run(bus, "remove_alerts", cmd, message, work)

    @bus.consumer(router, subjects.CMD_MONITORING_SILENCE, SERVICE)
    async def on_silence(cmd: SetScaleInSilence, message: NatsMessage) -> None:
        async def work() -> None:
            await bus.publish(subjects.MONITORING_SILENCE_SET, await service.silence(cmd))

        await _run(bus, "silence", cmd, message, work)

    @bus.consumer(router, subjects.CMD_MONITORING_INSTALL_AGENTS, SERVICE)
    async def on_install_agents(cmd: InstallAgents, message: NatsMessage) -> None:
        async def work() -> None:
            async for event in service.install_agents(cmd):
                await message.in_progress()
                if isinstance(event, AgentProgress):
                    await bus.publish(subjects.MONITORING_AGENT_PROGRESS, event)
                else:
                    await bus.publish(subjects.MONITORING_AGENTS_INSTALLED, event)

        await _run(bus, "install_agents", cmd, message, work)

    return router
