"""The steps of each VM and template operation, and ``OPERATIONS``: the one dispatch table.

Each operation is a function of an explicit ``OperationContext`` (``services.inventory.context``),
the persisted ``Operation`` and its command; it returns the success event or raises our errors.
``Lifecycle`` looks the kind up in ``OPERATIONS`` and knows nothing of the steps; the steps know
nothing of ``Lifecycle``.

Clone: look the name up (adopt a VM tagged with this activity, refuse any other) → start the
clone powered off, record the task → wait → put the first NIC on the requested network
(``ReconfigVM_Task``; vcsim ignores a CloneSpec's device changes) → customize → power on (when
asked) → wait for the fixed IP on that network → ``vm.cloned``. Each step is saved, so a
resumed operation continues where it stopped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from services.inventory.context import OperationContext
from services.inventory.domain import Tag, annotate, guest_identity, plan_clone, plan_template, resolve_network
from services.inventory.ports import Operation, SessionLost, TemplateMeta
from shared import subjects
from shared.errors import Conflict, NotFound, OperationTimeout, VmscaleError
from shared.messages import (
    CloneVm,
    Command,
    DeleteTemplate,
    DestroyVm,
    Event,
    FailureReason,
    MakeTemplate,
    PowerOffVm,
    PowerOnVm,
    TemplateCreated,
    TemplateDeleted,
    VmCloned,
    VmDestroyed,
    VmInfo,
    VmIpAssigned,
    VmPoweredOff,
    VmPoweredOn,
    VmProgress,
    utcnow,
)
from shared.subjects import Subject
from shared.telemetry import get_logger

__all__ = ["OPERATIONS", "OperationKind", "Result"]

log = get_logger(__name__)
Result = tuple[Subject[Any], Event]
"""The success event of an operation and the subject it goes out on."""


def _duplicate(name: str) -> Conflict:
    return Conflict(
        f"a VM named {name!r} exists and was not created by this activity",
        vm_name=name,
        reason=FailureReason.DUPLICATE_NAME.value,
    )


# How far each step takes a progress bar; vCenter's own percent for the clone task fills the
# span up to the next step (a clone's customization, power-on and IP come after its task; the
# scaler powers on in a step of its own, so its clones end at customization).
CLONE_PERCENT = {"clone_started": 5, "cloned": 60, "customized": 75, "powered_on": 85}
CLONE_ONLY_PERCENT = {"clone_started": 5, "cloned": 80, "customized": 95}
TEMPLATE_PERCENT = {"clone_started": 5, "cloned": 95}


def _within(marks: dict[str, int], step: str, task_percent: int | None) -> int:
    start = marks[step]
    if task_percent is None:
        return start
    end = min((value for value in marks.values() if value > start), default=100)
    return start + (end - start) * task_percent // 100


def _clone_progress(cmd: CloneVm, step: str, task_percent: int | None = None) -> VmProgress:
    return VmProgress(
        operation="clone",
        vm_name=cmd.vm_name,
        step=step,
        percent=_within(CLONE_PERCENT if cmd.power_on else CLONE_ONLY_PERCENT, step, task_percent),
        task_percent=task_percent,
        activity_id=cmd.activity_id,
        group=cmd.group,
        source=cmd.template,
    )


def _template_progress(cmd: MakeTemplate, step: str, task_percent: int | None = None) -> VmProgress:
    return VmProgress(
        operation="template",
        vm_name=cmd.template_name,
        step=step,
        percent=_within(TEMPLATE_PERCENT, step, task_percent),
        task_percent=task_percent,
        activity_id=cmd.activity_id,
        source=cmd.source_vm,
    )


async def _refresh(ctx: OperationContext, moref: str) -> VmInfo:
    vm: VmInfo | None = await ctx.call(ctx.reader.read_vm, moref)
    if vm is None:
        raise NotFound("the VM disappeared", moref=moref, reason=FailureReason.NOT_FOUND.value)
    ctx.cache.upsert(vm)
    return vm


async def _lookup(ctx: OperationContext, name: str) -> list[VmInfo]:
    found: list[VmInfo] = await ctx.call(ctx.reader.find_vms, name)
    return found


# -- clone --------------------------------------------------------------------------------


async def clone(ctx: OperationContext, op: Operation, cmd: CloneVm) -> Result:
    """Clone, customize, power on, wait for the IP (see the module docstring)."""
    t = ctx.timeouts
    identity = guest_identity(cmd)
    if op.vm_moref is None:
        if op.task_id is None:
            op = await _start_clone(ctx, op, cmd)
            await ctx.progress(_clone_progress(cmd, "clone_started"))
        moref = op.vm_moref
        if moref is None and op.task_id is not None:
            try:
                moref = await ctx.wait_task(op.task_id, lambda p: _clone_progress(cmd, "clone_started", p))
            except NotFound:
                moref = await _ours(ctx, cmd)
        if moref is None:
            raise NotFound("the clone task produced no VM", reason=FailureReason.NOT_FOUND.value)
        op = await ctx.advance(op, "cloned", vm_moref=moref)
        await ctx.progress(_clone_progress(cmd, "cloned"))
    moref = str(op.vm_moref)
    if op.step == "cloned":
        created = await _refresh(ctx, moref)
        if created.group is None:  # vcsim ignores the annotation of a CloneSpec
            text = annotate(cmd.annotation, Tag(cmd.group, cmd.activity_id))
            await ctx.call(ctx.provisioner.set_annotation, moref, text, t.task_s)
        if cmd.network.network:  # the clone's NIC lands on the requested network
            network = resolve_network(cmd.network.network, created.datacenter, ctx.cache.objects)
            await ctx.call(ctx.provisioner.set_network, moref, network, t.task_s)
        await ctx.call(ctx.provisioner.customize, moref, identity, t.task_s)
        op = await ctx.advance(op, "customized")
        await ctx.progress(_clone_progress(cmd, "customized"))
    ip = None
    if cmd.power_on:
        if op.step == "customized":
            await ctx.call(ctx.provisioner.power, moref, True, t.task_s)
            op = await ctx.advance(op, "powered_on")
            await ctx.progress(_clone_progress(cmd, "powered_on"))
        vm, _network = await _wait_ip(ctx, moref, identity.ip, cmd.network.network, t.ip_s)
        ip = identity.ip
    else:
        vm = await _refresh(ctx, moref)
    return subjects.VM_CLONED, VmCloned(
        activity_id=cmd.activity_id,
        group=cmd.group,
        vm_name=cmd.vm_name,
        moref=moref,
        instance_uuid=vm.instance_uuid or "",
        ip=ip or vm.ip,
        power_state=vm.power_state,
    )


async def _ours(ctx: OperationContext, cmd: CloneVm) -> str | None:
    found = await _lookup(ctx, cmd.vm_name)
    ours = [vm for vm in found if vm.activity_id == cmd.activity_id and vm.group == cmd.group]
    if ours:
        return ours[0].moref
    if found:
        raise _duplicate(cmd.vm_name)
    return None


async def _start_clone(ctx: OperationContext, op: Operation, cmd: CloneVm) -> Operation:
    for _attempt in (1, 2):
        adopted = await _ours(ctx, cmd)
        if adopted is not None:
            log.info("adopting the VM this activity already created", vm_name=cmd.vm_name)
            return await ctx.advance(op, "clone_started", vm_moref=adopted)
        plan = plan_clone(cmd, ctx.cache.template(cmd.template), ctx.cache.objects)
        try:
            task_id = await ctx.call(ctx.provisioner.start_clone, plan)
        except SessionLost:
            continue  # vCenter refused the call (session gone); look again, then retry
        return await ctx.advance(op, "clone_started", task_id=task_id)
    raise Conflict("vCenter kept dropping the session", reason=FailureReason.CONNECTION.value)


async def _wait_ip(
    ctx: OperationContext, moref: str, ip: str, network: str | None, timeout_s: float
) -> tuple[VmInfo, str | None]:
    deadline = time.monotonic() + timeout_s
    while True:
        vm = await _refresh(ctx, moref)
        for nic in vm.nics:
            if ip in nic.ipv4 and (network is None or nic.network == network):
                return vm, nic.network
        if network is None and vm.ip == ip:
            return vm, None
        if time.monotonic() > deadline:
            raise OperationTimeout(
                f"the guest did not report {ip} in time", vm_name=vm.name, reason=FailureReason.IP_TIMEOUT.value
            )
        await asyncio.sleep(ctx.timeouts.poll_s)


async def remove_failed_clone(ctx: OperationContext, op: Operation) -> None:
    """After a permanent clone failure, remove the VM it created (nothing half-done stays)."""
    if op.vm_moref is None:
        return
    try:
        await ctx.call(ctx.provisioner.destroy, op.vm_moref, ctx.timeouts.task_s)
        ctx.cache.remove(op.vm_moref)
    except VmscaleError as exc:
        log.warning("could not remove a failed clone", vm_name=op.vm_name, error=str(exc))


# -- power and destroy --------------------------------------------------------------------


async def _one(ctx: OperationContext, name: str, expected_uuid: str | None = None) -> VmInfo | None:
    found = [vm for vm in await _lookup(ctx, name) if not vm.template]
    if expected_uuid is not None:
        found = [vm for vm in found if vm.instance_uuid == expected_uuid]
    if len(found) > 1:
        raise Conflict(f"{len(found)} VMs are named {name!r}", vm_name=name, reason=FailureReason.CONFLICT.value)
    return found[0] if found else None


async def power_on(ctx: OperationContext, op: Operation, cmd: PowerOnVm) -> Result:
    """Power on; with ``expected_ip`` wait for it and answer ``vm.ip_assigned``."""
    vm = await _one(ctx, cmd.vm_name)
    if vm is None:
        raise NotFound(f"no VM named {cmd.vm_name!r}", reason=FailureReason.NOT_FOUND.value)
    await ctx.call(ctx.provisioner.power, vm.moref, True, ctx.timeouts.task_s)
    if cmd.expected_ip is None:
        vm = await _refresh(ctx, vm.moref)
        return subjects.VM_POWERED_ON, VmPoweredOn(activity_id=cmd.activity_id, vm_name=cmd.vm_name, ip=vm.ip)
    timeout = cmd.ip_timeout_s or ctx.timeouts.ip_s
    vm, network = await _wait_ip(ctx, vm.moref, str(cmd.expected_ip), cmd.expected_network, timeout)
    return subjects.VM_IP_ASSIGNED, VmIpAssigned(
        activity_id=cmd.activity_id, vm_name=cmd.vm_name, ip=str(cmd.expected_ip), network=network
    )


async def power_off(ctx: OperationContext, op: Operation, cmd: PowerOffVm) -> Result:
    """Power off (already off is success)."""
    vm = await _one(ctx, cmd.vm_name)
    if vm is None:
        raise NotFound(f"no VM named {cmd.vm_name!r}", reason=FailureReason.NOT_FOUND.value)
    await ctx.call(ctx.provisioner.power, vm.moref, False, ctx.timeouts.task_s)
    await _refresh(ctx, vm.moref)
    return subjects.VM_POWERED_OFF, VmPoweredOff(activity_id=cmd.activity_id, vm_name=cmd.vm_name)


async def destroy(ctx: OperationContext, op: Operation, cmd: DestroyVm) -> Result:
    """Power off and destroy; an absent VM is reported as destroyed."""
    found = [vm for vm in await _lookup(ctx, cmd.vm_name) if not vm.template]
    if cmd.expected_uuid is not None and found and not any(vm.instance_uuid == cmd.expected_uuid for vm in found):
        raise Conflict(
            f"the VM named {cmd.vm_name!r} is not the one expected (instance UUID differs)",
            vm_name=cmd.vm_name,
            reason=FailureReason.CONFLICT.value,
        )
    vm = await _one(ctx, cmd.vm_name, cmd.expected_uuid)
    if vm is not None:
        await ctx.call(ctx.provisioner.destroy, vm.moref, ctx.timeouts.task_s)
        ctx.cache.remove(vm.moref)
    return subjects.VM_DESTROYED, VmDestroyed(activity_id=cmd.activity_id, vm_name=cmd.vm_name)


# -- templates ----------------------------------------------------------------------------


async def make_template(ctx: OperationContext, op: Operation, cmd: MakeTemplate) -> Result:
    """Copy a VM into a template; the source keeps its power state."""
    if op.vm_moref is None and op.task_id is None:
        existing = await _lookup(ctx, cmd.template_name)
        if existing:
            raise _duplicate(cmd.template_name)
        sources = [vm for vm in await _lookup(ctx, cmd.source_vm) if not vm.template]
        if not sources:
            raise NotFound(f"no VM named {cmd.source_vm!r}", reason=FailureReason.NOT_FOUND.value)
        plan = plan_template(cmd.template_name, sources[0], cmd.folder, cmd.description, ctx.cache.objects)
        task_id = await ctx.call(ctx.provisioner.start_clone, plan)
        op = await ctx.advance(op, "clone_started", task_id=task_id)
        await ctx.progress(_template_progress(cmd, "clone_started"))
    if op.vm_moref is None:
        moref = await ctx.wait_task(str(op.task_id), lambda p: _template_progress(cmd, "clone_started", p))
        op = await ctx.advance(op, "cloned", vm_moref=moref)
        await ctx.progress(_template_progress(cmd, "cloned"))
    moref = str(op.vm_moref)
    await _refresh(ctx, moref)
    meta = TemplateMeta(
        name=cmd.template_name,
        moref=moref,
        description=cmd.description,
        source_vm=cmd.source_vm,
        created_at=op.created_at or utcnow(),
    )
    await ctx.call(ctx.store.put_template, meta)
    return subjects.TEMPLATE_CREATED, TemplateCreated(
        template_name=cmd.template_name, source_vm=cmd.source_vm, moref=moref
    )


async def delete_template(ctx: OperationContext, op: Operation, cmd: DeleteTemplate) -> Result:
    """Delete a template; gone already is success; a VM (not a template) is refused."""
    found = await _lookup(ctx, cmd.template_name)
    if any(not vm.template for vm in found):
        raise Conflict(f"{cmd.template_name!r} is a VM, not a template", reason=FailureReason.CONFLICT.value)
    for vm in found:
        await ctx.call(ctx.provisioner.destroy, vm.moref, ctx.timeouts.task_s)
        ctx.cache.remove(vm.moref)
    await ctx.call(ctx.store.delete_template, cmd.template_name)
    return subjects.TEMPLATE_DELETED, TemplateDeleted(template_name=cmd.template_name)


Run = Callable[[OperationContext, Operation, Any], Awaitable[Result]]
"""Runs (or resumes) an operation of one kind: its success event, or our errors."""


@dataclass(frozen=True)
class OperationKind:
    """One kind of operation: its command, its steps, and what to undo after a permanent failure."""

    command: type[Command]
    run: Run
    clean_up: Callable[[OperationContext, Operation], Awaitable[None]] | None = None


OPERATIONS: dict[str, OperationKind] = {
    "clone": OperationKind(CloneVm, clone, clean_up=remove_failed_clone),
    "power_on": OperationKind(PowerOnVm, power_on),
    "power_off": OperationKind(PowerOffVm, power_off),
    "destroy": OperationKind(DestroyVm, destroy),
    "template_create": OperationKind(MakeTemplate, make_template),
    "template_delete": OperationKind(DeleteTemplate, delete_template),
}
"""Every operation by kind (the kind is what ``Lifecycle.submit`` is given and what is stored)."""
