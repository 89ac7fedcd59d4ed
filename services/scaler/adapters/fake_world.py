"""Faithful in-memory stand-ins for inventory, monitoring and the load balancer.

The scaler talks to those services only through commands and events (``shared/``); this module
answers the commands the way the contract says each service does — with real state (VMs, pool
members, Prometheus targets, silences), idempotently, with the right events — and can be
scripted to fail or to stay silent. ``FakeWorld.handle`` is the pure part; ``attach_to_bus``
serves it over real NATS for integration tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from faststream.nats import NatsRouter

from shared import subjects
from shared.bus import Bus
from shared.messages import (
    AddPoolMember,
    CloneVm,
    DeregisterTarget,
    DestroyVm,
    DrainPoolMember,
    GroupAlertsProvisioned,
    GroupAlertsRemoved,
    MemberState,
    Message,
    MonitoringFailed,
    PoolMemberAdded,
    PoolMemberDrained,
    PoolMemberRemoved,
    PoolOperationFailed,
    PowerOffVm,
    PowerOnVm,
    PowerState,
    ProvisionGroupAlerts,
    RegisterTarget,
    RemoveGroupAlerts,
    RemovePoolMember,
    SetScaleInSilence,
    TargetDeregistered,
    TargetRegistered,
    VmCloned,
    VmDestroyed,
    VmIpAssigned,
    VmOperationFailed,
    VmPoweredOff,
    VmPoweredOn,
)
from shared.subjects import Subject

__all__ = ["FakeVm", "FakeWorld", "Script", "attach_to_bus"]

Reply = tuple[Subject[Any], Message]

OPERATIONS = {
    subjects.CMD_VM_CLONE.name: "clone",
    subjects.CMD_VM_POWER_ON.name: "power_on",
    subjects.CMD_VM_POWER_OFF.name: "power_off",
    subjects.CMD_VM_DESTROY.name: "destroy",
    subjects.CMD_MONITORING_REGISTER.name: "register",
    subjects.CMD_MONITORING_DEREGISTER.name: "deregister",
    subjects.CMD_MONITORING_PROVISION_ALERTS.name: "provision_alerts",
    subjects.CMD_MONITORING_REMOVE_ALERTS.name: "remove_alerts",
    subjects.CMD_MONITORING_SILENCE.name: "silence",
    subjects.CMD_POOL_ADD.name: "pool_add",
    subjects.CMD_POOL_DRAIN.name: "pool_drain",
    subjects.CMD_POOL_REMOVE.name: "pool_remove",
}


@dataclass
class FakeVm:
    """A VM the fake inventory holds."""

    name: str
    group: str
    template: str
    ip: str | None
    power: PowerState = PowerState.OFF
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Script:
    """Make ``operation`` fail (or, with ``silent``, not answer) ``times`` times."""

    operation: str
    times: int = 1
    retryable: bool = False
    silent: bool = False
    vm_name: str | None = None
    reason: str = "scripted failure"


class FakeWorld:
    """Inventory, monitoring and load balancer, in memory."""

    def __init__(self) -> None:
        self.vms: dict[str, FakeVm] = {}
        self.targets: dict[tuple[str, str], str] = {}
        self.members: dict[tuple[str, str], tuple[str, int, MemberState]] = {}
        self.silenced: dict[str, bool] = {}
        self.alert_groups: set[str] = set()
        self.scripts: list[Script] = []
        self.handled: list[tuple[str, Message]] = []
        self.clones = 0

    # -- scripting ------------------------------------------------------------------------------

    def fail(self, operation: str, **options: Any) -> None:
        """Script failures of ``operation`` (see ``Script``)."""
        self.scripts.append(Script(operation=operation, **options))

    def _scripted(self, operation: str, vm_name: str | None) -> Script | None:
        for script in self.scripts:
            if script.operation == operation and script.times > 0 and script.vm_name in (None, vm_name):
                script.times -= 1
                return script
        return None

    def app_healthy(self, url: str) -> bool:
        """True when a powered-on VM owns the URL's address (what a health probe would see)."""
        host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
        return any(vm.ip == host and vm.power is PowerState.ON for vm in self.vms.values())

    def leftovers(self, group: str | None = None) -> dict[str, list[str]]:
        """What exists per kind (VMs, targets, members), for "nothing left behind" checks."""
        return {
            "vms": sorted(v.name for v in self.vms.values() if group is None or v.group == group),
            "targets": sorted(name for (_, name) in self.targets),
            "members": sorted(name for (_, name) in self.members),
        }

    # -- the services ---------------------------------------------------------------------------

    def handle(self, subject: Subject[Any], message: Message) -> list[Reply]:
        """Apply a command and return the events the owning service would publish."""
        operation = OPERATIONS.get(subject.name)
        if operation is None:
            return []
        self.handled.append((operation, message))
        vm_name = getattr(message, "vm_name", None) or getattr(message, "name", None)
        script = self._scripted(operation, vm_name)
        if script is not None and script.silent:
            return []
        if script is not None:
            return [self._failure(operation, message, script)]
        replies = getattr(self, f"_{operation}")(message)
        return [(s, m.with_envelope(message)) for s, m in replies]

    def _failure(self, operation: str, message: Any, script: Script) -> Reply:
        envelope = message.caused_by(message)
        activity = getattr(message, "activity_id", None)
        kind = "ServiceUnavailable" if script.retryable else "PermanentError"
        if operation in ("clone", "power_on", "power_off", "destroy"):
            event: Message = VmOperationFailed(
                activity_id=activity,
                vm_name=message.vm_name,
                operation=operation,
                reason=script.reason,
                error_kind=kind,
                retryable=script.retryable,
                **envelope,
            )
            return subjects.VM_OPERATION_FAILED, event
        if operation.startswith("pool_"):
            event = PoolOperationFailed(
                activity_id=activity,
                pool=message.pool,
                name=message.name,
                operation=operation.removeprefix("pool_"),
                reason=script.reason,
                error_kind=kind,
                retryable=script.retryable,
                **envelope,
            )
            return subjects.POOL_OPERATION_FAILED, event
        event = MonitoringFailed(
            activity_id=activity,
            operation=operation,
            reason=script.reason,
            error_kind=kind,
            retryable=script.retryable,
            **envelope,
        )
        return subjects.MONITORING_FAILED, event

    def _clone(self, cmd: CloneVm) -> list[Reply]:
        vm = self.vms.get(cmd.vm_name)
        if vm is None:
            self.clones += 1
            vm = FakeVm(name=cmd.vm_name, group=cmd.group, template=cmd.template, ip=str(cmd.network.ip))
            self.vms[cmd.vm_name] = vm
            vm.power = PowerState.ON if cmd.power_on else PowerState.OFF
        event = VmCloned(
            activity_id=cmd.activity_id,
            group=cmd.group,
            vm_name=vm.name,
            moref=f"vm-{abs(hash(vm.name)) % 10000}",
            instance_uuid=vm.uuid,
            ip=vm.ip if vm.power is PowerState.ON else None,
            power_state=vm.power,
        )
        return [(subjects.VM_CLONED, event)]

    def _missing_vm(self, operation: str, cmd: Any) -> list[Reply]:
        event = VmOperationFailed(
            activity_id=cmd.activity_id,
            vm_name=cmd.vm_name,
            operation=operation,
            reason="not_found",
            error_kind="NotFound",
            retryable=False,
        )
        return [(subjects.VM_OPERATION_FAILED, event)]

    def _power_on(self, cmd: PowerOnVm) -> list[Reply]:
        vm = self.vms.get(cmd.vm_name)
        if vm is None:
            return self._missing_vm("power_on", cmd)
        vm.power = PowerState.ON
        out: list[Reply] = [
            (subjects.VM_POWERED_ON, VmPoweredOn(activity_id=cmd.activity_id, vm_name=vm.name, ip=vm.ip))
        ]
        if cmd.expected_ip is not None:
            if vm.ip != str(cmd.expected_ip):
                failed = VmOperationFailed(
                    activity_id=cmd.activity_id,
                    vm_name=vm.name,
                    operation="power_on",
                    reason="ip_timeout",
                    error_kind="OperationTimeout",
                    retryable=False,
                )
                return [*out, (subjects.VM_OPERATION_FAILED, failed)]
            out.append((subjects.VM_IP_ASSIGNED, VmIpAssigned(activity_id=cmd.activity_id, vm_name=vm.name, ip=vm.ip)))
        return out

    def _power_off(self, cmd: PowerOffVm) -> list[Reply]:
        vm = self.vms.get(cmd.vm_name)
        if vm is None:
            return self._missing_vm("power_off", cmd)
        vm.power = PowerState.OFF
        return [(subjects.VM_POWERED_OFF, VmPoweredOff(activity_id=cmd.activity_id, vm_name=vm.name))]

    def _destroy(self, cmd: DestroyVm) -> list[Reply]:
        self.vms.pop(cmd.vm_name, None)  # a VM already gone is success
        return [(subjects.VM_DESTROYED, VmDestroyed(activity_id=cmd.activity_id, vm_name=cmd.vm_name))]

    def _register(self, cmd: RegisterTarget) -> list[Reply]:
        target = f"{cmd.address}:{cmd.port}"
        self.targets[(cmd.job, cmd.vm_name)] = target
        event = TargetRegistered(activity_id=cmd.activity_id, job=cmd.job, vm_name=cmd.vm_name, target=target, up=True)
        return [(subjects.MONITORING_REGISTERED, event)]

    def _deregister(self, cmd: DeregisterTarget) -> list[Reply]:
        target = self.targets.pop((cmd.job, cmd.vm_name), f"{cmd.address}:{cmd.port}")
        event = TargetDeregistered(activity_id=cmd.activity_id, job=cmd.job, vm_name=cmd.vm_name, target=target)
        return [(subjects.MONITORING_DEREGISTERED, event)]

    def _provision_alerts(self, cmd: ProvisionGroupAlerts) -> list[Reply]:
        self.alert_groups.add(cmd.group)
        names = (f"{cmd.group}_HighResourceUsage", f"{cmd.group}_LowResourceUsage")
        return [(subjects.MONITORING_ALERTS_PROVISIONED, GroupAlertsProvisioned(group=cmd.group, rule_names=names))]

    def _remove_alerts(self, cmd: RemoveGroupAlerts) -> list[Reply]:
        self.alert_groups.discard(cmd.group)
        self.silenced.pop(cmd.group, None)
        return [(subjects.MONITORING_ALERTS_REMOVED, GroupAlertsRemoved(group=cmd.group))]

    def _silence(self, cmd: SetScaleInSilence) -> list[Reply]:
        self.silenced[cmd.group] = cmd.active
        return []

    def _pool_add(self, cmd: AddPoolMember) -> list[Reply]:
        self.members[(cmd.pool, cmd.name)] = (cmd.address, cmd.port, MemberState.UP)
        event = PoolMemberAdded(
            activity_id=cmd.activity_id,
            pool=cmd.pool,
            name=cmd.name,
            address=cmd.address,
            port=cmd.port,
            state=MemberState.UP,
        )
        return [(subjects.POOL_MEMBER_ADDED, event)]

    def _pool_drain(self, cmd: DrainPoolMember) -> list[Reply]:
        member = self.members.get((cmd.pool, cmd.name))
        if member is None:
            failed = PoolOperationFailed(
                activity_id=cmd.activity_id,
                pool=cmd.pool,
                name=cmd.name,
                operation="drain",
                reason="member not found",
                error_kind="NotFound",
            )
            return [(subjects.POOL_OPERATION_FAILED, failed)]
        self.members[(cmd.pool, cmd.name)] = (member[0], member[1], MemberState.DISABLED)
        event = PoolMemberDrained(
            activity_id=cmd.activity_id, pool=cmd.pool, name=cmd.name, final_connections=0, drain_seconds=0.0
        )
        return [(subjects.POOL_MEMBER_DRAINED, event)]

    def _pool_remove(self, cmd: RemovePoolMember) -> list[Reply]:
        self.members.pop((cmd.pool, cmd.name), None)
        event = PoolMemberRemoved(activity_id=cmd.activity_id, pool=cmd.pool, name=cmd.name)
        return [(subjects.POOL_MEMBER_REMOVED, event)]


def attach_to_bus(world: FakeWorld, bus: Bus, on_command: Callable[[str], Awaitable[None]] | None = None) -> NatsRouter:
    """A router that serves ``world`` on the real bus: consume commands, publish its events."""
    router = NatsRouter()
    for name in OPERATIONS:
        subject = subjects.by_name(name)

        def make(subject: Subject[Any]) -> Callable[..., Awaitable[None]]:
            async def serve(message: Any) -> None:
                if on_command is not None:
                    await on_command(subject.name)
                for reply_subject, event in world.handle(subject, message):
                    await bus.publish(reply_subject, event)

            serve.__annotations__ = {"message": subject.model, "return": None}
            return serve

        bus.consumer(router, subject, "fakeworld")(make(subject))
    return router


async def drain(queue: asyncio.Queue[Reply], deliver: Callable[[Subject[Any], Message], Awaitable[None]]) -> int:
    """Deliver every queued reply (and replies queued meanwhile); returns how many."""
    count = 0
    while not queue.empty():
        reply_subject, event = queue.get_nowait()
        await deliver(reply_subject, event)
        count += 1
    return count
