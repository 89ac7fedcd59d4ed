# mypy: disable-error-code="no-untyped-call,attr-defined"
"""Reading vCenter: bulk snapshot, change feed and single-VM reads (``InventoryReader``).

Snapshot and change feed are one: our own PropertyCollector with two filters, one over a
ContainerView of the VMs and one over a ContainerView of everything else, followed with
``WaitForUpdatesEx``. The snapshot is the feed's initial version (everything, paged by
``maxObjectUpdates`` / ``truncated``), so the feed then continues from it and the inventory is
read once, not twice. A VM that leaves the view (destroyed, unregistered, by us or anyone else)
arrives as a ``leave`` update in the next answer and is reported in ``ChangeBatch.removed``.
Name look-ups use ``RetrievePropertiesEx``, paged with ``ContinueRetrievePropertiesEx``.

Views, collectors, filters and tokens belong to a session: when the session is replaced
(re-login) they are rebuilt and the feed restarts at version ``""``, whose answer is the full
picture (a ``full`` batch, so the cache resynchronises). So does the feed after an answer that
failed on its way (connection dropped, HTTP 5xx, a fault): part of it may be merged here already
and its updates gone on the server's side (vcsim keeps no versions: an answer drains a queue).

Why the VMs have a filter of their own: govmomi's simulator (0.24.2, the lab's) checks each
change against every property spec of the object's filter, looking the object up for a spec of
another type; a VM changed and then destroyed within one wait (power off, then destroy) is gone
by then and the simulator panics: the whole answer, the ``leave`` too, was lost and the VM stayed
in the cache. A filter whose only spec is ``VirtualMachine`` never takes that path.

Blocking; call from a worker thread. Errors leave as ``shared.errors``.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pyVmomi import vim, vmodl
from pyVmomi.VmomiSupport import ManagedObject

from services.inventory.adapters.vcenter_convert import (
    OBJECT_PROPERTIES,
    VM_PROPERTIES,
    ObjectTables,
    VmRows,
    to_vm,
)
from services.inventory.adapters.vcenter_session import VENDOR_ERRORS, SessionLost, VcenterSession, translate
from services.inventory.adapters.vcenter_soap import Moref, ObjectUpdate, PropertySet, RawSoap, SoapFault
from services.inventory.domain import EXTRA_CONFIG_KEY, ChangeBatch, Snapshot, parse_tag
from shared.errors import VmscaleError
from shared.messages import VmInfo
from shared.telemetry import get_logger

__all__ = ["VcenterInventory"]

_PC = vmodl.query.PropertyCollector
_NAMING = frozenset(("name", "parent", "vmFolder"))
"""Object properties that VMs' names, folders, clusters and datacenters are derived from."""
log = get_logger(__name__)


@dataclass
class _Seen:
    """What one pull of the feed touched."""

    changed: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    objects_changed: bool = False
    names_changed: bool = False
    """An object was added, removed, renamed or moved: VMs' names and paths may differ."""


class VcenterInventory:
    """``InventoryReader`` over a ``VcenterSession``."""

    def __init__(self, session: VcenterSession, *, page_size: int = 1000, max_updates: int = 5000) -> None:
        self._session = session
        self._page_size = page_size
        self._max_updates = max_updates
        self._lock = threading.Lock()
        self._generation = -1
        self._vm_view: Any = None
        self._obj_view: Any = None
        self._collector: Any = None
        self._version = ""
        self._answer_lost = False
        """The last answer failed on its way: the next ``changes`` restarts the feed (full)."""
        self._tables = ObjectTables()
        self._vms: dict[str, tuple[Any, ...]] = {}
        self._rows = VmRows()
        self.last_received_at = 0.0
        """When the last non-empty feed answer began to arrive (``perf_counter``; benchmarks)."""

    # -- per-session objects ------------------------------------------------------------------

    def _ensure_views(self) -> None:
        if self._generation == self._session.generation and self._vm_view is not None:
            return

        def build(si: Any) -> None:
            content = si.RetrieveContent()
            manager = content.viewManager
            self._vm_view = manager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
            self._obj_view = manager.CreateContainerView(
                content.rootFolder,
                [
                    vim.Datacenter,
                    vim.Folder,
                    vim.ComputeResource,
                    vim.HostSystem,
                    vim.ResourcePool,
                    vim.Network,
                    vim.Datastore,
                ],
                True,
            )
            self._collector = None
            self._version = ""

        self._session.call(build)
        self._generation = self._session.generation

    def _filter_specs(self) -> list[Any]:
        """The VMs' filter (its only spec is ``VirtualMachine``; see the module docstring) and
        the other objects' filter."""
        traverse = _PC.TraversalSpec(path="view", type=vim.view.ContainerView, skip=False)
        objects = [
            _PC.PropertySpec(type=getattr(vim, kind), pathSet=list(paths)) for kind, paths in OBJECT_PROPERTIES.items()
        ]
        return [
            _PC.FilterSpec(
                objectSet=[_PC.ObjectSpec(obj=self._vm_view, skip=True, selectSet=[traverse])],
                propSet=[_PC.PropertySpec(type=vim.VirtualMachine, pathSet=list(VM_PROPERTIES))],
            ),
            _PC.FilterSpec(
                objectSet=[_PC.ObjectSpec(obj=self._obj_view, skip=True, selectSet=[traverse])],
                propSet=objects,
            ),
        ]

    def _ensure_collector(self) -> None:
        self._ensure_views()
        if self._collector is not None:
            return

        def build(si: Any) -> None:
            collector = si.content.propertyCollector.CreatePropertyCollector()
            for spec in self._filter_specs():
                collector.CreateFilter(spec, partialUpdates=True)
            self._collector = collector
            self._version = ""

        self._session.call(build)

    def _reset(self) -> None:
        self._vm_view = None
        self._collector = None
        self._version = ""

    def _raw(self, fn: Any, *, retry: bool = True) -> Any:
        """Run a raw SOAP call; on a lost session log in again and rebuild, then retry once.

        With ``retry=False`` the rebuild is signalled with ``SessionLost`` instead.
        """
        for attempt in (1, 2):
            generation = self._session.generation
            try:
                return fn(self._session.raw())
            except SoapFault as exc:
                if attempt == 1 and exc.fault_type in ("NotAuthenticated", "ManagedObjectNotFound"):
                    if exc.fault_type == "NotAuthenticated":
                        self._session.relogin(generation)
                    self._reset()
                    self._ensure_views()
                    if not retry:
                        raise SessionLost() from exc
                    continue
                raise translate(exc) from exc
            except VENDOR_ERRORS as exc:
                raise translate(exc) from exc
        raise AssertionError("unreachable")

    # -- InventoryReader ----------------------------------------------------------------------

    def _retrieve_all(self, raw: RawSoap, view: str, specs: dict[str, Any]) -> list[tuple[Moref, PropertySet]]:
        collector = str(self._session.instance().content.propertyCollector._moId)
        objects, token = raw.retrieve(collector, view, specs, self._page_size)
        while token:
            page, token = raw.continue_retrieve(collector, token)
            objects.extend(page)
        return objects

    def snapshot(self) -> Snapshot:
        """Every VM and object now (blocks; about 1-2 s for 10,000 VMs).

        This is the change feed's first answer: a new collector and filter are made and their
        initial version (everything) is read, so the next ``changes`` continues from it
        instead of reading the whole inventory a second time.
        """
        with self._lock:
            self._restart_feed()
            self._pull(0)
            return Snapshot(vms=self._all_vms(), objects=self._tables.snapshot())

    def _restart_feed(self) -> None:
        """Drop our collector (vCenter forgets its filters with it) so the feed starts over."""
        old = self._collector
        self._collector = None
        self._version = ""
        if old is not None and self._generation == self._session.generation:
            try:
                self._session.call(lambda _si: old.DestroyPropertyCollector())
            except VmscaleError as exc:  # the collector may be gone with its session
                log.info("could not destroy the old property collector", error=str(exc))
        self._ensure_collector()

    def _all_vms(self) -> tuple[VmInfo, ...]:
        out = []
        for value, row in self._vms.items():
            vm = to_vm(Moref("VirtualMachine", value), self._rows.props(row), self._tables)
            if vm is not None:
                out.append(vm)
        return tuple(out)

    def _pull(self, max_wait_s: int) -> tuple[bool, _Seen]:
        """Read the feed from our version until it is not truncated; merge into our copy.

        Returns (full, what changed). At version ``""`` (a new feed) the answer is everything:
        our copy is rebuilt from it and ``full`` is set.
        """
        full = self._version == ""
        seen = _Seen()
        if full:
            self._vms, self._tables = {}, ObjectTables()
        self._answer_lost = True  # until every answer of this pull has been read whole
        while True:
            version, collector = self._version, self._collector._moId
            merge = partial(self._merge, seen)
            try:
                batch = self._raw(
                    lambda raw, v=version, c=collector, w=(0 if full else max_wait_s), on=merge: raw.wait_for_updates(
                        c, v, w, self._max_updates, on
                    ),
                    retry=False,
                )
            except SessionLost:  # the session was replaced: rebuild, restart the feed
                self._ensure_collector()
                full, seen = True, _Seen()
                self._vms, self._tables = {}, ObjectTables()
                continue
            if batch.version is None:
                break
            self.last_received_at = batch.received_at
            self._version = batch.version
            if not batch.truncated:
                break
        self._answer_lost = False
        return full, seen

    def _merge(self, seen: _Seen, update: ObjectUpdate) -> None:
        """Fold one object update into our copy, as it is parsed."""
        is_vm = update.obj.type == "VirtualMachine"
        if update.kind == "leave":
            if is_vm:
                self._vms.pop(update.obj.value, None)
                seen.removed.add(update.obj.value)
            else:
                self._tables.remove(update.obj)
                seen.objects_changed = seen.names_changed = True
            return
        if is_vm:
            value = sys.intern(update.obj.value)
            changes = ((name, val) for name, _op, val in update.changes)
            self._vms[value] = self._rows.merge(self._vms.get(value), changes)
            seen.changed.add(value)
        else:
            props = {name: val for name, _op, val in update.changes}
            self._tables.put(update.obj, props)
            seen.objects_changed = True
            # a datastore's free space changes often and names no VM's anything
            if update.kind == "enter" or props.keys() & _NAMING:
                seen.names_changed = True

    def changes(self, max_wait_s: int) -> ChangeBatch:
        """Block up to ``max_wait_s`` for changes; a ``full`` batch when the feed (re)started.

        After an answer that failed on its way the feed restarts (see the module docstring), so
        the batch after a failure is ``full``.
        """
        with self._lock:
            if self._answer_lost:
                log.info("restarting the change feed after a lost answer")
                self._restart_feed()
            else:
                self._ensure_collector()
            full, seen = self._pull(max_wait_s)
            return self._batch(full, seen)

    def _batch(self, full: bool, seen: _Seen) -> ChangeBatch:
        """The change batch for what one pull touched.

        Every VM is rebuilt only when the feed restarted or an object that names or places VMs
        changed; otherwise just the VMs that changed, plus the objects when any changed.
        """
        if full or seen.names_changed:
            return ChangeBatch(full=True, upserts=self._all_vms(), objects=self._tables.snapshot())
        upserts = []
        removed = set(seen.removed)
        for value in seen.changed - removed:
            vm = to_vm(Moref("VirtualMachine", value), self._rows.props(self._vms[value]), self._tables)
            if vm is None:
                removed.add(value)
            else:
                upserts.append(vm)
        objects = self._tables.snapshot() if seen.objects_changed else None
        return ChangeBatch(upserts=tuple(upserts), removed=tuple(sorted(removed)), objects=objects)

    def read_vm(self, moref: str) -> VmInfo | None:
        """One VM read now, straight from vCenter; ``None`` when it does not exist."""
        props = self._read_props(moref, VM_PROPERTIES)
        return None if props is None else to_vm(Moref("VirtualMachine", moref), props, self._tables)

    def _read_props(self, moref: str, paths: tuple[str, ...]) -> PropertySet | None:
        def read(si: Any) -> PropertySet | None:
            vm = vim.VirtualMachine(moref, si._stub)
            spec = _PC.FilterSpec(
                objectSet=[_PC.ObjectSpec(obj=vm, skip=False)],
                propSet=[_PC.PropertySpec(type=vim.VirtualMachine, pathSet=list(paths))],
            )
            try:
                result = si.content.propertyCollector.RetrieveContents([spec])
            except vmodl.fault.ManagedObjectNotFound:
                return None
            if not result:
                return None
            return {prop.name: _plain(prop.val) for prop in result[0].propSet}

        result: PropertySet | None = self._session.call(read)
        return result

    def find_vms(self, name: str) -> list[VmInfo]:
        """Every VM named ``name`` now (exact, from vCenter), with the tag from ExtraConfig too."""

        def names(raw: RawSoap) -> list[tuple[Moref, PropertySet]]:
            self._ensure_views()
            return self._retrieve_all(raw, self._vm_view._moId, {"VirtualMachine": ("name",)})

        with self._lock:
            found = [obj.value for obj, props in self._raw(names) if props.get("name") == name]
        out = []
        for moref in found:
            props = self._read_props(moref, (*VM_PROPERTIES, "config.extraConfig"))
            if props is None:
                continue
            vm = to_vm(Moref("VirtualMachine", moref), props, self._tables)
            if vm is None:
                continue
            if vm.group is None:
                tag = parse_tag(_extra(props.get("config.extraConfig"), EXTRA_CONFIG_KEY))
                if tag:
                    vm = vm.model_copy(update={"group": tag.group, "activity_id": tag.activity_id})
            out.append(vm)
        return out

    def about(self) -> str:
        """vCenter's product name and version (logging in if needed)."""
        self._session.instance()
        return self._session.about or ""

    def ping(self) -> None:
        """One cheap round trip on the session (vCenter's current time)."""
        self._session.keepalive()


def _extra(options: Any, key: str) -> str | None:
    for option in options or []:
        if getattr(option, "key", None) == key:
            return str(option.value)
    return None


def _plain(value: Any) -> Any:
    """pyvmomi values to the raw reader's shapes (morefs, lists, guest NIC dicts)."""
    if isinstance(value, ManagedObject):
        return Moref(value._wsdlName, value._moId)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, vim.vm.GuestInfo.NicInfo):
        return {
            "network": [value.network] if value.network else [],
            "ipAddress": list(value.ipAddress or []),
            "macAddress": [value.macAddress] if value.macAddress else [],
            "connected": ["true" if value.connected else "false"],
        }
    if isinstance(value, vim.option.OptionValue):
        return value
    return value
