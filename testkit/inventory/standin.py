"""The inventory stand-in: the VMs it clones, powers and destroys are the VMs its queries list.

Commands (the scaler's ``cmd.vm.*``) answer with the inventory's events; queries (the gateway's
and the scaler's ``query.inventory.*``) answer from the same ``vms`` and from a small vCenter
picture (templates, datastores, clusters, hosts, resource pools, folders).
``vcenter_synced=False`` is an inventory that has not reached vCenter yet: its cache is empty and
its status says why.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from faststream.nats import NatsRouter

from shared import subjects
from shared.bus import Bus
from shared.messages import (
    CloneVm,
    ComputeQuery,
    ComputeReply,
    DatastoreInfo,
    DatastoresQuery,
    DatastoresReply,
    DestroyVm,
    FolderInfo,
    FoldersQuery,
    FoldersReply,
    InventoryObject,
    InventoryStatusQuery,
    InventoryStatusReply,
    NetworksQuery,
    NetworksReply,
    PowerOffVm,
    PowerOnVm,
    PowerState,
    TemplateInfo,
    TemplatesQuery,
    TemplatesReply,
    VmCloned,
    VmDestroyed,
    VmInfo,
    VmIpAssigned,
    VmOperationFailed,
    VmPoweredOff,
    VmPoweredOn,
    VmQuery,
    VmReply,
    VmsQuery,
    VmsReply,
    utcnow,
)
from testkit.standin import Reply, Script, StandIn, failure_kind

__all__ = ["FakeVm", "InventoryStandIn"]

T = TypeVar("T")


@dataclass
class FakeVm:
    """A VM the inventory stand-in holds; ``seed`` keeps the full description of a VM given as
    ``VmInfo`` (what the queries then list, with the current power state and address)."""

    name: str
    group: str
    template: str
    ip: str | None
    power: PowerState = PowerState.OFF
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    moref: str = ""
    seed: VmInfo | None = None

    def __post_init__(self) -> None:
        if not self.moref:
            self.moref = f"vm-{abs(hash(self.name)) % 10000}"

    @classmethod
    def of(cls, info: VmInfo) -> FakeVm:
        """The VM ``info`` describes."""
        return cls(
            name=info.name,
            group=info.group or "",
            template="",
            ip=info.ip,
            power=PowerState(info.power_state),
            uuid=info.instance_uuid or str(uuid.uuid4()),
            moref=info.moref,
            seed=info,
        )

    def info(self) -> VmInfo:
        """The VM as the inventory's queries describe it."""
        if self.seed is not None:
            return self.seed.model_copy(update={"power_state": self.power.value, "ip": self.ip})
        return VmInfo(
            name=self.name,
            moref=self.moref,
            instance_uuid=self.uuid,
            power_state=self.power.value,
            ip=self.ip,
            group=self.group or None,
        )


def version_of(about: str) -> str | None:
    """The version number in a product's "about" string."""
    match = re.search(r"\b(\d+\.\d+(?:\.\d+)*)\b", about)
    return match.group(1) if match else None


@dataclass
class InventoryStandIn(StandIn):
    """The inventory service in memory."""

    service: ClassVar[str] = "inventory"
    operations: ClassVar[dict[str, str]] = {
        subjects.CMD_VM_CLONE.name: "clone",
        subjects.CMD_VM_POWER_ON.name: "power_on",
        subjects.CMD_VM_POWER_OFF.name: "power_off",
        subjects.CMD_VM_DESTROY.name: "destroy",
    }

    vms: dict[str, FakeVm] = field(default_factory=dict)
    clones: int = 0
    templates: tuple[TemplateInfo, ...] = ()
    datastores: tuple[DatastoreInfo, ...] = ()
    clusters: tuple[InventoryObject, ...] = ()
    hosts: tuple[InventoryObject, ...] = ()
    resource_pools: tuple[InventoryObject, ...] = ()
    folders: tuple[FolderInfo, ...] = ()
    vcenter: str = "VMware vCenter Server 8.0.2 build-22385739"
    vcenter_synced: bool = True
    synced_at: datetime = field(default_factory=utcnow)

    def listed(self) -> tuple[VmInfo, ...]:
        """The VMs the cache lists (none before the first sync)."""
        return tuple(vm.info() for vm in self.vms.values()) if self.vcenter_synced else ()

    # -- commands -------------------------------------------------------------------------------

    def _failure(self, operation: str, message: Any, script: Script) -> Reply:
        event = VmOperationFailed(
            activity_id=getattr(message, "activity_id", None),
            vm_name=message.vm_name,
            operation=operation,
            reason=script.reason,
            error_kind=failure_kind(script),
            retryable=script.retryable,
            **message.caused_by(message),
        )
        return subjects.VM_OPERATION_FAILED, event

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
            moref=vm.moref,
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

    # -- queries --------------------------------------------------------------------------------

    def _cached(self) -> dict[str, Any]:
        """The cache stamp of a reply (none before the first sync)."""
        if not self.vcenter_synced:
            return {}
        return {"age_s": round((utcnow() - self.synced_at).total_seconds(), 3), "synced_at": self.synced_at}

    def _in(self, items: tuple[T, ...], datacenter: str | None) -> tuple[T, ...]:
        """What the cache holds of ``items`` in ``datacenter`` (all when None)."""
        if not self.vcenter_synced:
            return ()
        return tuple(item for item in items if datacenter in (None, getattr(item, "datacenter", None)))

    def external_checks(self) -> dict[str, str]:
        return {"vcenter": "ok" if self.vcenter_synced else "vCenter is unreachable: ConnectionRefusedError"}

    def status(self) -> InventoryStatusReply:
        """The inventory's connection and cache status."""
        if not self.vcenter_synced:
            return InventoryStatusReply(
                connected=False,
                consecutive_failures=3,
                last_error="vCenter is unreachable: ConnectionRefusedError",
            )
        return InventoryStatusReply(
            connected=True,
            vcenter=self.vcenter,
            vcenter_version=version_of(self.vcenter),
            last_success=self.synced_at,
            vm_count=len(self.vms),
            template_count=len(self.templates),
            revision=len(self.vms) + len(self.templates),
            **self._cached(),
        )

    def add_queries(self, router: NatsRouter, bus: Bus) -> None:
        self._add_health(router, bus)

        @bus.responder(router, subjects.QUERY_INVENTORY_VMS, "inventory")
        async def vms(query: VmsQuery) -> VmsReply:
            found = self.listed()
            return VmsReply(vms=found, total=len(found), **self._cached())

        @bus.responder(router, subjects.QUERY_INVENTORY_VM, "inventory")
        async def vm(query: VmQuery) -> VmReply:
            # as the inventory: an unknown VM is ``vm=None`` (the gateway makes it a 404)
            known = (*self.listed(), *(t.vm for t in self.templates)) if self.vcenter_synced else ()
            if query.moref:
                found = [v for v in known if v.moref == query.moref]
            else:
                named = [v for v in known if v.name == query.name]
                found = [v for v in named if not v.template] or named
            return VmReply(vm=found[0] if found else None, **self._cached())

        @bus.responder(router, subjects.QUERY_INVENTORY_TEMPLATES, "inventory")
        async def templates(query: TemplatesQuery) -> TemplatesReply:
            return TemplatesReply(templates=self.templates if self.vcenter_synced else (), **self._cached())

        @bus.responder(router, subjects.QUERY_INVENTORY_NETWORKS, "inventory")
        async def networks(query: NetworksQuery) -> NetworksReply:
            return NetworksReply(**self._cached())

        @bus.responder(router, subjects.QUERY_INVENTORY_DATASTORES, "inventory")
        async def datastores(query: DatastoresQuery) -> DatastoresReply:
            return DatastoresReply(datastores=self._in(self.datastores, query.datacenter), **self._cached())

        @bus.responder(router, subjects.QUERY_INVENTORY_COMPUTE, "inventory")
        async def compute(query: ComputeQuery) -> ComputeReply:
            return ComputeReply(
                clusters=self._in(self.clusters, query.datacenter),
                hosts=self._in(self.hosts, query.datacenter),
                resource_pools=self._in(self.resource_pools, query.datacenter),
                **self._cached(),
            )

        @bus.responder(router, subjects.QUERY_INVENTORY_FOLDERS, "inventory")
        async def folders(query: FoldersQuery) -> FoldersReply:
            return FoldersReply(folders=self._in(self.folders, query.datacenter), **self._cached())

        @bus.responder(router, subjects.QUERY_INVENTORY_STATUS, "inventory")
        async def status(query: InventoryStatusQuery) -> InventoryStatusReply:
            return self.status()
