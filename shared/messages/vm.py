"""Commands to inventory (vCenter) and the events it answers with."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, IPvAnyAddress

from shared.messages.base import Command, Event
from shared.vocabulary import FailureReason, NetworkSpec, Placement

__all__ = [
    "VM_NAME_MAX",
    "VM_NAME_PATTERN",
    "CloneVm",
    "DeleteTemplate",
    "DestroyVm",
    "FailureReason",
    "MakeTemplate",
    "NetworkSpec",
    "Placement",
    "PowerOffVm",
    "PowerOnVm",
    "PowerState",
    "TemplateCreated",
    "TemplateDeleted",
    "VmCloned",
    "VmDestroyed",
    "VmIpAssigned",
    "VmOperationFailed",
    "VmPoweredOff",
    "VmPoweredOn",
    "VmProgress",
]

VM_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
VM_NAME_MAX = 80
_VM_NAME = Field(min_length=1, max_length=VM_NAME_MAX, pattern=VM_NAME_PATTERN)


class PowerState(StrEnum):
    """vSphere power states."""

    ON = "poweredOn"
    OFF = "poweredOff"
    SUSPENDED = "suspended"


class CloneVm(Command):
    """Clone ``template`` into a new VM, customize its network, power it on.

    Idempotent by ``vm_name``: a VM of that name that we tagged for this activity is adopted.
    """

    activity_id: str
    group: str
    vm_name: str = _VM_NAME
    template: str = Field(min_length=1)
    network: NetworkSpec
    placement: Placement = Placement()
    annotation: str = ""
    power_on: bool = True


class VmCloned(Event):
    """The clone exists (and is powered on when asked); ``ip`` is the guest's reported IP."""

    activity_id: str
    group: str
    vm_name: str
    moref: str
    instance_uuid: str
    ip: str | None = None
    power_state: PowerState = PowerState.ON


class PowerOnVm(Command):
    """Power a VM on; a VM already on is success.

    With ``expected_ip`` the inventory also waits (up to ``ip_timeout_s``, else its default)
    until the guest reports exactly that address (on ``expected_network`` when given) and then
    publishes ``VmIpAssigned``; otherwise a ``VmOperationFailed`` with reason ``ip_timeout``.
    """

    activity_id: str
    vm_name: str = _VM_NAME
    expected_ip: IPvAnyAddress | None = None
    expected_network: str | None = None
    ip_timeout_s: float | None = Field(default=None, gt=0, le=3600)


class VmPoweredOn(Event):
    """The VM is powered on."""

    activity_id: str
    vm_name: str
    ip: str | None = None


class PowerOffVm(Command):
    """Power a VM off (hard); a VM already off is success."""

    activity_id: str
    vm_name: str = _VM_NAME


class VmIpAssigned(Event):
    """The guest reports the expected IP address (on the expected network)."""

    activity_id: str
    vm_name: str
    ip: str
    network: str | None = None


class VmPoweredOff(Event):
    """The VM is powered off."""

    activity_id: str
    vm_name: str


class DestroyVm(Command):
    """Power off and destroy a VM we created; a VM already gone is success.

    ``expected_uuid`` guards against destroying a different VM that reuses the name.
    """

    activity_id: str
    vm_name: str = _VM_NAME
    expected_uuid: str | None = None


class VmDestroyed(Event):
    """The VM no longer exists."""

    activity_id: str
    vm_name: str


class MakeTemplate(Command):
    """Clone ``source_vm`` into ``template_name`` and mark it as a template.

    The source VM is left in the power state it had.
    """

    source_vm: str = _VM_NAME
    template_name: str = _VM_NAME
    description: str = ""
    folder: str | None = None
    activity_id: str | None = None


class TemplateCreated(Event):
    """A template exists."""

    template_name: str
    source_vm: str
    moref: str


class VmProgress(Event):
    """How far a long VM operation has got: for progress bars, published as it moves (best effort).

    ``percent`` only grows; the operation's own outcome (``vm.cloned``, ``template.created``,
    ``vm.operation_failed``) ends it. ``task_percent`` is vCenter's own figure for the running task.
    """

    operation: Literal["clone", "template"]
    vm_name: str
    step: str
    percent: int = Field(ge=0, le=100)
    task_percent: int | None = Field(default=None, ge=0, le=100)
    activity_id: str | None = None
    group: str | None = None
    source: str | None = None


class DeleteTemplate(Command):
    """Delete a template (a VM flagged ``config.template``); a template already gone is success."""

    template_name: str = _VM_NAME
    activity_id: str | None = None


class TemplateDeleted(Event):
    """A template no longer exists."""

    template_name: str


class VmOperationFailed(Event):
    """A VM command failed; ``retryable`` tells whether trying again may help.

    ``reason`` is a ``FailureReason`` value, ``error_kind`` the error class, ``detail`` the
    human-readable explanation.
    """

    activity_id: str | None = None
    vm_name: str
    operation: str
    reason: str
    error_kind: str
    retryable: bool = False
    detail: str | None = None
