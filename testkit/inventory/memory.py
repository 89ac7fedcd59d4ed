"""Faithful in-memory versions of the inventory's ports, with real state.

``MemoryVcenter`` is one small vCenter: VMs with power state, NICs, tags and guest addresses,
tasks with results, a change feed, and scripted faults (``fail_next``). A powered-on VM that
was customized reports the fixed IP, as VMware Tools would. It implements both
``InventoryReader`` and ``VmProvisioner`` and passes the same contract suite as the real adapter.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from services.inventory.domain import (
    ChangeBatch,
    ClonePlan,
    GuestIdentity,
    InventoryObjects,
    Snapshot,
    is_hidden,
    parse_tag,
)
from services.inventory.ports import Operation, TemplateMeta
from shared.clock import Clock, SystemClock
from shared.errors import Conflict, NotFound, OperationTimeout, PermanentError, VmscaleError
from shared.messages import FailureReason, NicInfo, VmInfo

__all__ = ["MemoryOperationClaims", "MemoryOperationStore", "MemoryVcenter"]


@dataclass
class _Vm:
    info: VmInfo
    pending: GuestIdentity | None = None
    tag_text: str = ""


@dataclass
class MemoryVcenter:
    """An in-memory vCenter (see the module docstring)."""

    objects: InventoryObjects = field(default_factory=InventoryObjects)
    _vms: dict[str, _Vm] = field(default_factory=dict)
    _tasks: dict[str, tuple[str | None, VmscaleError | None]] = field(default_factory=dict)
    _faults: dict[str, deque[VmscaleError]] = field(default_factory=dict)
    _feed: list[tuple[str, str]] = field(default_factory=list)
    _fed_full: bool = False
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(100))
    _lock: threading.RLock = field(default_factory=threading.RLock)
    calls: dict[str, int] = field(default_factory=dict)
    task_progress: tuple[int, ...] = (40, 100)
    """What ``wait_task`` reports to ``on_progress`` before it returns (vCenter's percentages)."""

    # -- test controls ------------------------------------------------------------------------

    def add_vm(self, vm: VmInfo) -> VmInfo:
        """Put a VM into the inventory (as if someone created it behind our back)."""
        with self._lock:
            self._vms[vm.moref] = _Vm(vm)
            self._feed.append(("upsert", vm.moref))
            return vm

    def set_power(self, moref: str, state: str) -> None:
        """Change a VM's power state behind our back."""
        with self._lock:
            vm = self._vms[moref]
            vm.info = vm.info.model_copy(update={"power_state": state})
            self._feed.append(("upsert", moref))

    def fail_next(self, method: str, error: VmscaleError, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` raise ``error``."""
        with self._lock:
            self._faults.setdefault(method, deque()).extend([error] * times)

    def drop_session(self) -> None:
        """As if vCenter dropped our session: the next change batch is a full one."""
        with self._lock:
            self._fed_full = False

    def _call(self, method: str) -> None:
        self.calls[method] = self.calls.get(method, 0) + 1
        queue = self._faults.get(method)
        if queue:
            raise queue.popleft()

    def _vm(self, moref: str) -> _Vm:
        vm = self._vms.get(moref)
        if vm is None:
            raise NotFound("no such VM", moref=moref, reason=FailureReason.NOT_FOUND.value)
        return vm

    def _visible(self) -> tuple[VmInfo, ...]:
        return tuple(vm.info for vm in self._vms.values() if not is_hidden(vm.info.name))

    # -- InventoryReader ----------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Everything now; the feed continues from here."""
        with self._lock:
            self._call("snapshot")
            self._fed_full = True
            self._feed.clear()
            return Snapshot(vms=self._visible(), objects=self.objects)

    def changes(self, max_wait_s: int) -> ChangeBatch:
        """Pending changes (a full batch first); never blocks."""
        with self._lock:
            self._call("changes")
            if not self._fed_full:
                self._fed_full = True
                self._feed.clear()
                return ChangeBatch(full=True, upserts=self._visible(), objects=self.objects)
            upserts, removed = {}, set()
            for kind, moref in self._feed:
                if kind == "upsert" and moref in self._vms:
                    upserts[moref] = self._vms[moref].info
                    removed.discard(moref)
                elif kind == "remove":
                    upserts.pop(moref, None)
                    removed.add(moref)
            self._feed.clear()
            return ChangeBatch(
                upserts=tuple(v for v in upserts.values() if not is_hidden(v.name)), removed=tuple(sorted(removed))
            )

    def read_vm(self, moref: str) -> VmInfo | None:
        """One VM now."""
        with self._lock:
            self._call("read_vm")
            vm = self._vms.get(moref)
            return vm.info if vm else None

    def find_vms(self, name: str) -> list[VmInfo]:
        """VMs named ``name`` with their tag."""
        with self._lock:
            self._call("find_vms")
            out = []
            for vm in self._vms.values():
                if vm.info.name != name or is_hidden(name):
                    continue
                tag = parse_tag(vm.tag_text) or parse_tag(vm.info.annotation)
                info = vm.info
                if tag and info.group is None:
                    info = info.model_copy(update={"group": tag.group, "activity_id": tag.activity_id})
                out.append(info)
            return out

    def about(self) -> str:
        """A product name."""
        return "vmscale in-memory vCenter 1.0"

    def ping(self) -> None:
        """Answers at once, unless a fault is queued for ``ping``."""
        self._call("ping")

    # -- VmProvisioner ------------------------------------------------------------------------

    def start_clone(self, plan: ClonePlan) -> str:
        """Clone at once (tasks complete immediately); returns the task id."""
        with self._lock:
            self._call("start_clone")
            source = self._vm(plan.source).info
            folder = next((f for f in self.objects.folders if f.moref == plan.folder), None)
            pool = next((p for p in self.objects.resource_pools if p.moref == plan.resource_pool), None)
            moref = f"vm-{next(self._ids)}"
            tag = parse_tag(plan.tag_text)
            clone = source.model_copy(
                update={
                    "name": plan.vm_name,
                    "moref": moref,
                    "instance_uuid": f"00000000-0000-4000-8000-{next(self._ids):012d}",
                    "power_state": "poweredOff",
                    "template": plan.template,
                    "ip": None,
                    "hostname": None,
                    "nics": tuple(NicInfo(mac=n.mac, network=n.network) for n in source.nics),
                    "folder": folder.path if folder else source.folder,
                    "resource_pool": pool.name if pool else source.resource_pool,
                    "cluster": pool.parent if pool else source.cluster,
                    "annotation": plan.annotation,
                    "group": tag.group if tag else None,
                    "activity_id": tag.activity_id if tag else None,
                }
            )
            self._vms[moref] = _Vm(clone, tag_text=plan.tag_text)
            self._feed.append(("upsert", moref))
            task = f"task-{next(self._ids)}"
            self._tasks[task] = (moref, None)
            return task

    def wait_task(self, task_id: str, timeout_s: float, on_progress: Callable[[int], None] | None = None) -> str | None:
        """The task's result (they are all finished; ``task_progress`` is reported first)."""
        with self._lock:
            self._call("wait_task")
            if task_id not in self._tasks:
                raise NotFound("no such task", task=task_id, reason=FailureReason.NOT_FOUND.value)
            result, error = self._tasks[task_id]
            if on_progress is not None:
                for percent in self.task_progress:
                    on_progress(percent)
            if error is not None:
                raise error
            return result

    def customize(self, vm: str, identity: GuestIdentity, timeout_s: float) -> None:
        """Remember the customization until the next power-on."""
        with self._lock:
            self._call("customize")
            target = self._vm(vm)
            if target.info.power_state == "poweredOn":
                raise Conflict("VM is powered on", reason=FailureReason.INVALID_POWER_STATE.value)
            target.pending = identity

    def power(self, vm: str, on: bool, timeout_s: float) -> None:
        """Power on (applying a pending customization) or off."""
        with self._lock:
            self._call("power")
            target = self._vm(vm)
            if target.info.template:
                raise Conflict("templates cannot be powered on", reason=FailureReason.INVALID_POWER_STATE.value)
            update: dict[str, object] = {"power_state": "poweredOn" if on else "poweredOff"}
            if on and target.pending is not None:
                identity = target.pending
                nics = list(target.info.nics) or [NicInfo()]
                nics[0] = nics[0].model_copy(update={"ipv4": (identity.ip,)})
                update.update(ip=identity.ip, hostname=identity.hostname, nics=tuple(nics))
                target.pending = None
            target.info = target.info.model_copy(update=update)
            self._feed.append(("upsert", vm))

    def destroy(self, vm: str, timeout_s: float) -> None:
        """Delete the VM; gone already is fine."""
        with self._lock:
            self._call("destroy")
            if self._vms.pop(vm, None) is not None:
                self._feed.append(("remove", vm))

    def set_annotation(self, vm: str, text: str, timeout_s: float) -> None:
        """Replace the annotation (and the tag read from it)."""
        with self._lock:
            self._call("set_annotation")
            target = self._vm(vm)
            tag = parse_tag(text)
            target.info = target.info.model_copy(
                update={
                    "annotation": text,
                    "group": tag.group if tag else None,
                    "activity_id": tag.activity_id if tag else None,
                }
            )

    def set_network(self, vm: str, network: str, timeout_s: float) -> None:
        """Put the first NIC on ``network`` (by moref); what the guest reports follows."""
        with self._lock:
            self._call("set_network")
            target = self._vm(vm)
            net = next((n for n in self.objects.networks if n.moref == network), None)
            if net is None:
                raise NotFound("no such network", network=network, reason=FailureReason.NOT_FOUND.value)
            if not target.info.nics:
                raise PermanentError("the VM has no network adapter", reason=FailureReason.INVALID_INPUT.value)
            nics = list(target.info.nics)
            nics[0] = nics[0].model_copy(update={"network": net.name})
            target.info = target.info.model_copy(update={"nics": tuple(nics)})
            self._feed.append(("upsert", vm))

    def fail_task(self, error: VmscaleError) -> None:
        """Make the next clone task end in ``error`` (the VM is not created)."""
        self.fail_next("start_clone", error)

    def time_out(self, method: str) -> None:
        """Make the next call of ``method`` time out."""
        self.fail_next(method, OperationTimeout("timed out", reason=FailureReason.TIMEOUT.value))


@dataclass
class MemoryOperationStore:
    """``OperationStore`` in dicts."""

    _ops: dict[str, Operation] = field(default_factory=dict)
    _templates: dict[str, TemplateMeta] = field(default_factory=dict)

    def get(self, key: str) -> Operation | None:
        """The operation with ``key``."""
        return self._ops.get(key)

    def save(self, operation: Operation) -> None:
        """Insert or replace."""
        self._ops[operation.key] = operation

    def unfinished(self) -> list[Operation]:
        """Not done/failed, oldest first."""
        return sorted((op for op in self._ops.values() if not op.finished), key=lambda op: op.created_at)

    def put_template(self, meta: TemplateMeta) -> None:
        """Insert or replace a template's metadata."""
        self._templates[meta.name] = meta

    def templates(self) -> dict[str, TemplateMeta]:
        """Every template's metadata."""
        return dict(self._templates)

    def delete_template(self, name: str) -> None:
        """Forget a template's metadata."""
        self._templates.pop(name, None)


@dataclass
class MemoryOperationClaims:
    """``OperationClaims`` in a dict, on an injectable clock; thread-safe like a database."""

    clock: Clock = field(default_factory=SystemClock)
    _claims: dict[str, tuple[str, float, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def claim(self, key: str, owner: str, ttl_s: float) -> int | None:
        """See ``OperationClaims.claim``."""
        with self._lock:
            now = self._now()
            held = self._claims.get(key)
            if held is None:
                token = 1
            elif held[0] == owner:
                token = held[2]
            elif held[1] <= now:
                token = held[2] + 1
            else:
                return None
            self._claims[key] = (owner, now + ttl_s, token)
            return token

    def holds(self, key: str, owner: str, token: int) -> bool:
        """See ``OperationClaims.holds``."""
        with self._lock:
            held = self._claims.get(key)
            return held is not None and held[0] == owner and held[2] == token and held[1] > self._now()

    def release(self, key: str, owner: str) -> None:
        """See ``OperationClaims.release``."""
        with self._lock:
            held = self._claims.get(key)
            if held is not None and held[0] == owner:
                # keep the token so the next holder's is higher; expired at once
                self._claims[key] = ("", 0.0, held[2])
