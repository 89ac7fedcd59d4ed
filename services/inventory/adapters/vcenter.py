# mypy: disable-error-code="no-untyped-call,attr-defined"
"""Acting on vCenter: clone, network, customize, power, destroy (``VmProvisioner``), task by task.

Every method blocks until vCenter finished (or ``timeout_s`` passed) and runs in a worker
thread. ``start_clone`` is the one non-idempotent call: it is never re-sent after a lost
session (``SessionLost`` reaches the caller, who looks up the name first) and it returns the
task id so the caller can record it before waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pyVmomi import vim

from services.inventory.adapters.vcenter_session import VcenterSession, translate
from services.inventory.adapters.vcenter_spec import clone_spec, customization_spec
from services.inventory.domain import ClonePlan, GuestIdentity
from shared.errors import NotFound, OperationTimeout, PermanentError
from shared.messages import FailureReason

__all__ = ["VcenterProvisioner"]


class VcenterProvisioner:
    """``VmProvisioner`` over a ``VcenterSession``."""

    def __init__(self, session: VcenterSession, *, poll_s: float = 0.2) -> None:
        self._session = session
        self._poll_s = poll_s

    def start_clone(self, plan: ClonePlan) -> str:
        """Start the clone; returns the task id at once. Not idempotent, never retried."""

        def run(si: Any) -> str:
            source = vim.VirtualMachine(plan.source, si._stub)
            folder = vim.Folder(plan.folder, si._stub)
            task = source.CloneVM_Task(folder=folder, name=plan.vm_name, spec=clone_spec(plan, si._stub))
            return str(task._moId)

        return self._session.call(run, retry=False)

    def wait_task(self, task_id: str, timeout_s: float, on_progress: Callable[[int], None] | None = None) -> str | None:
        """Wait for a task; its result's moref (clone: the new VM), or ``None``.

        ``on_progress`` hears the task's ``info.progress`` each time it changes. Raises the
        task's error translated, ``NotFound`` when the task is unknown (vCenter forgets finished
        tasks after a while), ``OperationTimeout`` after ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        reported: int | None = None

        def read(si: Any) -> tuple[str, Any, Any, int | None]:
            info = vim.Task(task_id, si._stub).info
            return str(info.state), info.result, info.error, info.progress

        while True:
            state, result, error, progress = self._session.call(read)
            if on_progress is not None and state == "running" and progress is not None and progress != reported:
                reported = int(progress)
                on_progress(reported)
            if state == "success":
                return str(result._moId) if hasattr(result, "_moId") else None
            if state == "error":
                raise translate(error, task=task_id) from error
            if time.monotonic() > deadline:
                raise OperationTimeout(
                    "vCenter task did not finish in time", task=task_id, reason=FailureReason.TIMEOUT.value
                )
            time.sleep(self._poll_s)

    def _task(self, start: Any, timeout_s: float) -> None:
        task_id = self._session.call(lambda si: str(start(si)._moId))
        self.wait_task(task_id, timeout_s)

    def customize(self, vm: str, identity: GuestIdentity, timeout_s: float) -> None:
        """Apply the Linux customization to a powered-off VM (takes effect at power-on)."""

        def count_nics(si: Any) -> int:
            config = vim.VirtualMachine(vm, si._stub).config
            devices = config.hardware.device if config is not None else []
            return sum(isinstance(d, vim.vm.device.VirtualEthernetCard) for d in devices)

        nics = self._session.call(count_nics)
        spec = customization_spec(identity, int(nics))
        self._task(lambda si: vim.VirtualMachine(vm, si._stub).CustomizeVM_Task(spec=spec), timeout_s)

    def power(self, vm: str, on: bool, timeout_s: float) -> None:
        """Power on or off (hard); already in that state is success."""
        wanted = "poweredOn" if on else "poweredOff"
        state = self._session.call(lambda si: str(vim.VirtualMachine(vm, si._stub).runtime.powerState))
        if state == wanted:
            return
        if on:
            self._task(lambda si: vim.VirtualMachine(vm, si._stub).PowerOnVM_Task(), timeout_s)
        else:
            self._task(lambda si: vim.VirtualMachine(vm, si._stub).PowerOffVM_Task(), timeout_s)

    def destroy(self, vm: str, timeout_s: float) -> None:
        """Power off if needed, then destroy; a VM already gone is success."""
        try:
            self.power(vm, on=False, timeout_s=timeout_s)
            self._task(lambda si: vim.VirtualMachine(vm, si._stub).Destroy_Task(), timeout_s)
        except NotFound:
            return

    def set_network(self, vm: str, network: str, timeout_s: float) -> None:
        """Put the VM's first NIC on ``network`` (a moref) with ``ReconfigVM_Task``.

        Reads the NIC first: already there is success (idempotent); a VM without a NIC is
        ``PermanentError``. A distributed port group gets a DVS port backing.
        """

        def plan(si: Any) -> Any:
            config = vim.VirtualMachine(vm, si._stub).config
            devices = config.hardware.device if config is not None else []
            nic = next((d for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard)), None)
            if nic is None:
                raise PermanentError("the VM has no network adapter", vm=vm, reason=FailureReason.INVALID_INPUT.value)
            if _backing_network(nic.backing) == network:
                return None
            nic.backing = _backing(si, network)
            change = vim.vm.device.VirtualDeviceSpec(operation="edit", device=nic)
            return vim.vm.ConfigSpec(deviceChange=[change])

        spec = self._session.call(plan)
        if spec is not None:
            self._task(lambda si: vim.VirtualMachine(vm, si._stub).ReconfigVM_Task(spec=spec), timeout_s)

    def set_annotation(self, vm: str, text: str, timeout_s: float) -> None:
        """Replace the VM's annotation."""
        spec = vim.vm.ConfigSpec(annotation=text)
        self._task(lambda si: vim.VirtualMachine(vm, si._stub).ReconfigVM_Task(spec=spec), timeout_s)


def _backing_network(backing: Any) -> str | None:
    """The network moref a NIC backing points at (a port group's key for DVS ports)."""
    if isinstance(backing, vim.vm.device.VirtualEthernetCard.NetworkBackingInfo):
        return str(backing.network._moId) if backing.network is not None else None
    if isinstance(backing, vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo):
        return str(backing.port.portgroupKey) if backing.port is not None else None
    return None


def _backing(si: Any, network: str) -> Any:
    """A NIC backing for ``network``: a standard network by name, or a DVS port group's port."""
    if network.startswith("dvportgroup-"):
        group = vim.dvs.DistributedVirtualPortgroup(network, si._stub)
        switch: Any = group.config.distributedVirtualSwitch
        port = vim.dvs.PortConnection(portgroupKey=str(group.key), switchUuid=str(switch.uuid))
        return vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(port=port)
    net = vim.Network(network, si._stub)
    return vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(network=net, deviceName=str(net.name))
