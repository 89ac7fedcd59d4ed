"""Subscribers for ``cmd.vm.*`` / ``cmd.template.*``: record the command, return (ack).

Each command runs in the background (``Lifecycle``) and answers with exactly one event.
"""

from __future__ import annotations

from faststream.nats import NatsRouter

from services.inventory.service import InventoryService
from shared import subjects
from shared.bus import Bus
from shared.messages import CloneVm, DeleteTemplate, DestroyVm, MakeTemplate, PowerOffVm, PowerOnVm

__all__ = ["build_command_router"]

SERVICE = "inventory"


def build_command_router(bus: Bus, service: InventoryService) -> NatsRouter:
    """The durable consumers of the inventory's commands."""
    router = NatsRouter()

    @bus.consumer(router, subjects.CMD_VM_CLONE, SERVICE)
    async def on_clone(cmd: CloneVm) -> None:
        await service.lifecycle.submit("clone", cmd)

    @bus.consumer(router, subjects.CMD_VM_POWER_ON, SERVICE)
    async def on_power_on(cmd: PowerOnVm) -> None:
        await service.lifecycle.submit("power_on", cmd)

    @bus.consumer(router, subjects.CMD_VM_POWER_OFF, SERVICE)
    async def on_power_off(cmd: PowerOffVm) -> None:
        await service.lifecycle.submit("power_off", cmd)

    @bus.consumer(router, subjects.CMD_VM_DESTROY, SERVICE)
    async def on_destroy(cmd: DestroyVm) -> None:
        await service.lifecycle.submit("destroy", cmd)

    @bus.consumer(router, subjects.CMD_TEMPLATE_CREATE, SERVICE)
    async def on_template_create(cmd: MakeTemplate) -> None:
        await service.lifecycle.submit("template_create", cmd)

    @bus.consumer(router, subjects.CMD_TEMPLATE_DELETE, SERVICE)
    async def on_template_delete(cmd: DeleteTemplate) -> None:
        await service.lifecycle.submit("template_delete", cmd)

    return router
