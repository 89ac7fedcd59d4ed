"""Queries to the inventory service (``query.inventory.*``) and their replies.

Every reply is served from the inventory's cache, which follows vCenter's change feed; it says
how old that picture is (``age_s``: seconds since the cache last heard from vCenter) so callers
can decide whether it is fresh enough. Lists are in natural name order (``web-2`` before
``web-10``); ``vCLS-*`` system VMs never appear.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.messages.base import Query, Reply, UtcDatetime
from shared.vocabulary import DatastoreInfo, FolderInfo, InventoryObject, NicInfo, VmInfo

__all__ = [
    "ComputeQuery",
    "ComputeReply",
    "DatastoreInfo",
    "DatastoresQuery",
    "DatastoresReply",
    "FolderInfo",
    "FoldersQuery",
    "FoldersReply",
    "InventoryObject",
    "InventoryStatusQuery",
    "InventoryStatusReply",
    "NetworksQuery",
    "NetworksReply",
    "NicInfo",
    "TemplateInfo",
    "TemplatesQuery",
    "TemplatesReply",
    "VmInfo",
    "VmQuery",
    "VmReply",
    "VmsQuery",
    "VmsReply",
]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TemplateInfo(_Value):
    """A template, with the metadata vmscale keeps about it (when it created it)."""

    vm: VmInfo
    description: str = ""
    source_vm: str | None = None
    created_at: UtcDatetime | None = None


class _CachedReply(Reply):
    age_s: float | None = None
    synced_at: UtcDatetime | None = None


class VmsQuery(Query):
    """List VMs. Every filter is optional; they combine with AND.

    ``name_pattern`` is a shell-style glob (``web-*``); ``folder`` matches the folder path or
    any folder below it; ``since_revision`` asks only for what changed after that revision
    (``VmsReply.removed`` then lists the morefs that left). Replies are pages (a NATS message
    is at most 1 MiB by default): the inventory caps ``limit`` at its page size; ask again with
    ``offset = next_offset`` until it is ``None``.
    """

    name_prefix: str | None = None
    name_pattern: str | None = None
    folder: str | None = None
    datacenter: str | None = None
    cluster: str | None = None
    power_state: str | None = None
    template: bool | None = False
    has_ip: bool | None = None
    group: str | None = None
    since_revision: int | None = Field(default=None, ge=0)
    limit: int | None = Field(default=None, ge=1)
    offset: int = Field(default=0, ge=0)


class VmsReply(_CachedReply):
    """VMs in natural name order, the cache revision they reflect, and removals since asked."""

    vms: tuple[VmInfo, ...] = ()
    total: int = 0
    revision: int = 0
    next_offset: int | None = None
    removed: tuple[str, ...] = ()
    complete: bool = True


class VmQuery(Query):
    """One VM by name or moref."""

    name: str | None = None
    moref: str | None = None


class VmReply(_CachedReply):
    """The VM, or ``None`` when the cache does not know it."""

    vm: VmInfo | None = None


class TemplatesQuery(Query):
    """Every template (``config.template`` true), with its metadata."""

    name_prefix: str | None = None


class TemplatesReply(_CachedReply):
    """Templates in natural name order."""

    templates: tuple[TemplateInfo, ...] = ()


class NetworksQuery(Query):
    """Every network (standard port groups and distributed port groups)."""

    datacenter: str | None = None


class NetworksReply(_CachedReply):
    """Networks in natural name order."""

    networks: tuple[InventoryObject, ...] = ()


class DatastoresQuery(Query):
    """Every datastore."""

    datacenter: str | None = None


class DatastoresReply(_CachedReply):
    """Datastores in natural name order."""

    datastores: tuple[DatastoreInfo, ...] = ()


class ComputeQuery(Query):
    """Clusters, hosts and resource pools."""

    datacenter: str | None = None


class ComputeReply(_CachedReply):
    """Clusters, hosts (``parent`` = cluster) and resource pools (``parent`` = cluster)."""

    clusters: tuple[InventoryObject, ...] = ()
    hosts: tuple[InventoryObject, ...] = ()
    resource_pools: tuple[InventoryObject, ...] = ()


class FoldersQuery(Query):
    """VM folders."""

    datacenter: str | None = None


class FoldersReply(_CachedReply):
    """VM folders in path order."""

    folders: tuple[FolderInfo, ...] = ()


class InventoryStatusQuery(Query):
    """The state of the connection to vCenter."""


class InventoryStatusReply(_CachedReply):
    """Whether vCenter answers, since when, and how big the cached inventory is."""

    connected: bool = False
    vcenter: str | None = None
    vcenter_version: str | None = None
    last_success: UtcDatetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    vm_count: int = 0
    template_count: int = 0
    revision: int = 0
