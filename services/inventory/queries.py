"""Answers to ``query.inventory.*``, all from the cache (never a vCenter call)."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from services.inventory.cache import InventoryCache
from services.inventory.domain import natural_key
from services.inventory.ports import OperationStore
from services.inventory.watcher import ConnectionStatus
from shared.messages import (
    ComputeQuery,
    ComputeReply,
    DatastoresQuery,
    DatastoresReply,
    FoldersQuery,
    FoldersReply,
    InventoryStatusQuery,
    InventoryStatusReply,
    NetworksQuery,
    NetworksReply,
    TemplateInfo,
    TemplatesQuery,
    TemplatesReply,
    VmQuery,
    VmReply,
    VmsQuery,
    VmsReply,
)

__all__ = ["InventoryQueries"]

R = TypeVar(
    "R",
    bound=VmsReply
    | VmReply
    | TemplatesReply
    | NetworksReply
    | DatastoresReply
    | ComputeReply
    | FoldersReply
    | InventoryStatusReply,
)


def _by_name(items: Any, datacenter: str | None) -> tuple[Any, ...]:
    chosen = [item for item in items if datacenter is None or item.datacenter == datacenter]
    return tuple(sorted(chosen, key=lambda item: (natural_key(item.name), item.moref)))


def _version(about: str) -> str | None:
    match = re.search(r"\b(\d+\.\d+(?:\.\d+)*)\b", about)
    return match.group(1) if match else None


class InventoryQueries:
    """Builds every reply from the cache, stamped with the cache's age."""

    def __init__(
        self, cache: InventoryCache, store: OperationStore, status: ConnectionStatus, page_size: int = 1000
    ) -> None:
        self.cache = cache
        self.store = store
        self.status = status
        self.page_size = page_size

    def _stamp(self, reply_type: type[R], **fields: Any) -> R:
        return reply_type(age_s=self.cache.age_s(), synced_at=self.cache.synced_at, **fields)

    def vms(self, query: VmsQuery) -> VmsReply:
        """VMs matching the filters, natural order."""
        page, total, removed, complete = self.cache.select(query, self.page_size)
        end = query.offset + len(page)
        return self._stamp(
            VmsReply,
            vms=tuple(page),
            total=total,
            next_offset=end if end < total else None,
            revision=self.cache.revision,
            removed=tuple(removed),
            complete=complete,
        )

    def vm(self, query: VmQuery) -> VmReply:
        """One VM by moref or name."""
        found = None
        if query.moref:
            found = self.cache.get(query.moref)
        elif query.name:
            named = [vm for vm in self.cache.named(query.name) if not vm.template] or self.cache.named(query.name)
            found = named[0] if named else None
        return self._stamp(VmReply, vm=found)

    def templates(self, query: TemplatesQuery, metadata: dict[str, Any] | None = None) -> TemplatesReply:
        """Templates (``config.template``) with what we remember about them."""
        meta = metadata if metadata is not None else self.store.templates()
        out = []
        for vm in self.cache.select(VmsQuery(template=True, name_prefix=query.name_prefix))[0]:
            m = meta.get(vm.name)
            out.append(
                TemplateInfo(
                    vm=vm,
                    description=m.description if m else vm.annotation,
                    source_vm=m.source_vm if m else None,
                    created_at=m.created_at if m else None,
                )
            )
        return self._stamp(TemplatesReply, templates=tuple(out))

    def networks(self, query: NetworksQuery) -> NetworksReply:
        """Networks."""
        return self._stamp(NetworksReply, networks=_by_name(self.cache.objects.networks, query.datacenter))

    def datastores(self, query: DatastoresQuery) -> DatastoresReply:
        """Datastores."""
        return self._stamp(DatastoresReply, datastores=_by_name(self.cache.objects.datastores, query.datacenter))

    def compute(self, query: ComputeQuery) -> ComputeReply:
        """Clusters, hosts, resource pools."""
        objects = self.cache.objects
        return self._stamp(
            ComputeReply,
            clusters=_by_name(objects.clusters, query.datacenter),
            hosts=_by_name(objects.hosts, query.datacenter),
            resource_pools=_by_name(objects.resource_pools, query.datacenter),
        )

    def folders(self, query: FoldersQuery) -> FoldersReply:
        """VM folders in path order."""
        chosen = [f for f in self.cache.objects.folders if query.datacenter in (None, f.datacenter)]
        ordered = sorted(chosen, key=lambda f: (f.datacenter or "", natural_key(f.path)))
        return self._stamp(FoldersReply, folders=tuple(ordered))

    def status_reply(self, query: InventoryStatusQuery) -> InventoryStatusReply:
        """The connection status."""
        vms, templates = self.cache.counts()
        about = self.status.vcenter or ""
        return self._stamp(
            InventoryStatusReply,
            connected=self.status.connected,
            vcenter=about or None,
            vcenter_version=_version(about),
            last_success=self.status.last_success,
            consecutive_failures=self.status.consecutive_failures,
            last_error=self.status.last_error,
            vm_count=vms,
            template_count=templates,
            revision=self.cache.revision,
        )
