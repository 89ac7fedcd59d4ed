"""From vCenter property sets to our values: the object tables and ``VmInfo``.

``ObjectTables`` keeps name and parent of every datacenter, folder, cluster, host, resource
pool, network and datastore, so a VM's folder path, cluster and datacenter are resolved in
memory instead of by more calls.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

from services.inventory.adapters.vcenter_soap import Moref, PropertySet, first
from services.inventory.domain import InventoryObjects, is_hidden, parse_tag
from shared.messages import DatastoreInfo, FolderInfo, InventoryObject, NicInfo, VmInfo

__all__ = ["OBJECT_PROPERTIES", "VM_PROPERTIES", "ObjectTables", "VmRows", "to_vm"]

VM_PROPERTIES: tuple[str, ...] = (
    "name",
    "config.instanceUuid",
    "config.template",
    "config.annotation",
    "runtime.powerState",
    "runtime.host",
    "resourcePool",
    "parent",
    "datastore",
    "network",
    "guest.net",
    "guest.ipAddress",
    "guest.hostName",
)
"""The fewest VM properties that serve the queries (parsing dominates a bulk read)."""

_INDEX = {name: i for i, name in enumerate(VM_PROPERTIES)}

# pydantic keeps a "fields set" per instance (~700 bytes for a VmInfo): every value built here
# sets every field, so one set serves them all (nobody mutates it: the models are frozen and
# ``model_copy`` copies it first).
_VM_FIELDS = set(VmInfo.model_fields)
_NIC_FIELDS = set(NicInfo.model_fields)

OBJECT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "Datacenter": ("name", "parent", "vmFolder"),
    "Folder": ("name", "parent"),
    "ComputeResource": ("name", "parent"),
    "HostSystem": ("name", "parent"),
    "ResourcePool": ("name", "parent"),
    "Network": ("name", "parent"),
    "Datastore": ("name", "parent", "summary.capacity", "summary.freeSpace"),
}


class ObjectTables:
    """Name and parent of every non-VM object, by moref value."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[str, PropertySet]] = {}
        self._vm_folders: set[str] = set()
        self._memo: dict[tuple[str, str], str | None] = {}

    def put(self, obj: Moref, props: PropertySet) -> None:
        """Add or update an object (partial property sets merge)."""
        self._memo.clear()
        _, current = self.objects.get(obj.value, (obj.type, {}))
        merged = {**current, **props}
        self.objects[obj.value] = (obj.type, merged)
        if obj.type == "Datacenter" and isinstance(merged.get("vmFolder"), Moref):
            self._vm_folders.add(merged["vmFolder"].value)

    def remove(self, obj: Moref) -> None:
        """Forget an object."""
        self._memo.clear()
        self.objects.pop(obj.value, None)

    def name(self, ref: Any) -> str | None:
        """The name of a moref (or moref value)."""
        value = ref.value if isinstance(ref, Moref) else ref
        entry = self.objects.get(value) if value else None
        return str(entry[1].get("name")) if entry and entry[1].get("name") is not None else None

    def _parent(self, value: str) -> str | None:
        entry = self.objects.get(value)
        parent = entry[1].get("parent") if entry else None
        return parent.value if isinstance(parent, Moref) else None

    def datacenter(self, ref: Any) -> str | None:
        """Name of the datacenter that contains ``ref``."""
        value = ref.value if isinstance(ref, Moref) else ref
        key = ("datacenter", str(value))
        if key not in self._memo:
            self._memo[key] = self._datacenter(value)
        return self._memo[key]

    def _datacenter(self, value: Any) -> str | None:
        for _ in range(64):
            if value is None:
                return None
            entry = self.objects.get(value)
            if entry and entry[0] == "Datacenter":
                return self.name(value)
            value = self._parent(value)
        return None

    def folder_path(self, ref: Any) -> str | None:
        """A VM folder's path below its datacenter's VM folder (``""`` for that root)."""
        value = ref.value if isinstance(ref, Moref) else ref
        key = ("folder_path", str(value))
        if key not in self._memo:
            self._memo[key] = self._folder_path(value)
        return self._memo[key]

    def _folder_path(self, value: Any) -> str | None:
        names: list[str] = []
        for _ in range(64):
            if value is None or value not in self.objects:
                return None
            if value in self._vm_folders:
                return "/".join(reversed(names))
            names.append(self.name(value) or "")
            value = self._parent(value)
        return None

    def cluster(self, ref: Any) -> str | None:
        """The cluster that owns a host or resource pool (``None`` for standalone hosts)."""
        value = ref.value if isinstance(ref, Moref) else ref
        key = ("cluster", str(value))
        if key not in self._memo:
            self._memo[key] = self._cluster(value)
        return self._memo[key]

    def _cluster(self, value: Any) -> str | None:
        for _ in range(64):
            if value is None or value not in self.objects:
                return None
            kind, _props = self.objects[value]
            if kind == "ClusterComputeResource":
                return self.name(value)
            if kind == "ComputeResource":
                return None
            value = self._parent(value)
        return None

    def snapshot(self) -> InventoryObjects:
        """Every object as our values."""
        out: dict[str, list[Any]] = {key: [] for key in InventoryObjects.model_fields}
        for value, (kind, props) in self.objects.items():
            name = str(props.get("name") or "")
            dc = self.datacenter(value)
            if kind == "Datacenter":
                out["datacenters"].append(InventoryObject(moref=value, name=name))
            elif kind == "Folder":
                path = self.folder_path(value)
                if path is not None:
                    out["folders"].append(FolderInfo(moref=value, name=name, path=path, datacenter=dc))
            elif kind in ("ClusterComputeResource", "ComputeResource"):
                if kind == "ClusterComputeResource":
                    out["clusters"].append(InventoryObject(moref=value, name=name, datacenter=dc))
            elif kind == "HostSystem":
                out["hosts"].append(InventoryObject(moref=value, name=name, datacenter=dc, parent=self.cluster(value)))
            elif kind in ("ResourcePool", "VirtualApp"):
                out["resource_pools"].append(
                    InventoryObject(moref=value, name=name, datacenter=dc, parent=self.cluster(value))
                )
            elif kind in ("Network", "DistributedVirtualPortgroup", "OpaqueNetwork"):
                out["networks"].append(InventoryObject(moref=value, name=name, datacenter=dc))
            elif kind == "Datastore":
                out["datastores"].append(
                    DatastoreInfo(
                        moref=value,
                        name=name,
                        datacenter=dc,
                        capacity=_int(props.get("summary.capacity")),
                        free_space=_int(props.get("summary.freeSpace")),
                    )
                )
        return InventoryObjects(**{key: tuple(items) for key, items in out.items()})


class VmRows:
    """Each VM's last-known property values as one compact tuple, in ``VM_PROPERTIES`` order.

    A change-feed update carries only the properties that changed, so the reader keeps the
    rest to rebuild the VM. Kept compactly: a tuple instead of a dict, one shared ``Moref`` per
    host / pool / folder / datastore / network, interned power states and network names, and
    the guest's NICs already converted (the same ``NicInfo`` tuple is reused by ``to_vm``).
    Properties outside ``VM_PROPERTIES`` are dropped.
    """

    def __init__(self) -> None:
        self._morefs: dict[Moref, Moref] = {}

    def merge(self, row: tuple[Any, ...] | None, changes: Iterable[tuple[str, Any]]) -> tuple[Any, ...]:
        """``row`` with ``changes`` (property path, decoded value) applied; a new VM when ``None``."""
        values = list(row) if row is not None else [None] * len(VM_PROPERTIES)
        for name, value in changes:
            index = _INDEX.get(name)
            if index is not None:
                values[index] = self._compact(name, value)
        return tuple(values)

    @staticmethod
    def props(row: tuple[Any, ...]) -> dict[str, Any]:
        """The row as a property set (for ``to_vm``)."""
        return dict(zip(VM_PROPERTIES, row, strict=True))

    def _compact(self, name: str, value: Any) -> Any:
        if isinstance(value, Moref):
            return self._morefs.setdefault(value, value)
        if name == "guest.net" and isinstance(value, list):
            return guest_nics(value)
        if isinstance(value, list):
            return tuple(self._compact(name, item) for item in value)
        if name == "runtime.powerState" and isinstance(value, str):
            return sys.intern(value)
        return value


def guest_nics(guest_net: list[Any]) -> tuple[NicInfo, ...]:
    """The guest's NIC report (``guest.net`` decoded) as our ``NicInfo`` values."""
    nics = []
    for nic in guest_net:
        if not isinstance(nic, dict):
            continue
        addresses = [str(a) for a in nic.get("ipAddress", [])]
        network = first(nic.get("network"))
        nics.append(
            NicInfo.model_construct(
                _NIC_FIELDS,
                mac=first(nic.get("macAddress")),
                network=sys.intern(str(network)) if network else None,
                ipv4=tuple(a for a in addresses if ":" not in a),
                ipv6=tuple(a for a in addresses if ":" in a),
                connected=first(nic.get("connected"), "true") == "true",
            )
        )
    return tuple(nics)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _nics(props: Mapping[str, Any], tables: ObjectTables) -> tuple[NicInfo, ...]:
    guest_net = props.get("guest.net")
    if isinstance(guest_net, tuple) and guest_net:  # already converted (``VmRows``)
        return guest_net
    if isinstance(guest_net, list) and guest_net:
        return guest_nics(guest_net)
    networks = props.get("network")
    if isinstance(networks, list | tuple):
        return tuple(NicInfo.model_construct(_NIC_FIELDS, network=tables.name(ref)) for ref in networks)
    return ()


def to_vm(obj: Moref, props: Mapping[str, Any], tables: ObjectTables, revision: int = 0) -> VmInfo | None:
    """Our ``VmInfo`` for a VM's property set; ``None`` for hidden system VMs."""
    name = str(props.get("name") or "")
    if not name or is_hidden(name):
        return None
    nics = _nics(props, tables)
    primary = props.get("guest.ipAddress")
    ip = str(primary) if primary and ":" not in str(primary) else None
    if ip is None:
        ip = next((address for nic in nics for address in nic.ipv4), None)
    annotation = str(props.get("config.annotation") or "")
    tag = parse_tag(annotation)
    host = props.get("runtime.host")
    pool = props.get("resourcePool")
    datastores = props.get("datastore") or []
    # Built without re-validation: every field comes from the typed conversion above.
    return VmInfo.model_construct(
        _VM_FIELDS,
        name=name,
        moref=obj.value,
        instance_uuid=props.get("config.instanceUuid") or None,
        power_state=str(props.get("runtime.powerState") or "poweredOff"),
        template=bool(props.get("config.template")),
        ip=ip,
        hostname=props.get("guest.hostName") or None,
        nics=nics,
        datacenter=tables.datacenter(props.get("parent")),
        folder=tables.folder_path(props.get("parent")),
        cluster=tables.cluster(host) if host else tables.cluster(pool),
        host=tables.name(host),
        resource_pool=tables.name(pool),
        datastores=tuple(name for name in (tables.name(ref) for ref in datastores) if name),
        annotation=annotation,
        group=tag.group if tag else None,
        activity_id=tag.activity_id if tag else None,
        revision=revision,
    )
