"""Values the inventory's parts hand each other: snapshots, change batches, clone plans."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from shared.vocabulary import DatastoreInfo, FolderInfo, InventoryObject, VmInfo

__all__ = ["ChangeBatch", "ClonePlan", "GuestIdentity", "InventoryObjects", "Snapshot"]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InventoryObjects(_Value):
    """Everything in vCenter that is not a VM and that placement or queries need."""

    datacenters: tuple[InventoryObject, ...] = ()
    folders: tuple[FolderInfo, ...] = ()
    clusters: tuple[InventoryObject, ...] = ()
    hosts: tuple[InventoryObject, ...] = ()
    resource_pools: tuple[InventoryObject, ...] = ()
    networks: tuple[InventoryObject, ...] = ()
    datastores: tuple[DatastoreInfo, ...] = ()


class Snapshot(_Value):
    """The whole inventory at one moment."""

    vms: tuple[VmInfo, ...]
    objects: InventoryObjects


class ChangeBatch(_Value):
    """What changed since the last batch; ``full`` means "this is everything, replace"."""

    full: bool = False
    upserts: tuple[VmInfo, ...] = ()
    removed: tuple[str, ...] = ()
    objects: InventoryObjects | None = None


class GuestIdentity(_Value):
    """The Linux guest customization of a clone: host name, domain, one fixed IPv4 on NIC 1."""

    hostname: str
    domain: str
    ip: str
    prefix_length: int
    netmask: str
    gateway: str | None = None
    dns_servers: tuple[str, ...] = ()


class ClonePlan(_Value):
    """A clone with every name already resolved to a managed object id.

    ``tag_text`` is written as ExtraConfig ``vmscale.tag`` and in ``annotation``, in the same
    call that creates the VM. ``network`` is the requested network's moref, resolved (so
    checked) before anything is sent; the first NIC is moved onto it after the clone
    (``VmProvisioner.set_network``).
    """

    vm_name: str
    source: str
    folder: str
    resource_pool: str | None = None
    datastore: str | None = None
    host: str | None = None
    template: bool = False
    annotation: str = ""
    tag_text: str = ""
    network: str | None = None
