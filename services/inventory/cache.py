"""The in-memory picture of vCenter that every query is answered from.

Fed by the watcher (full replacements and change batches) and by the lifecycle (a VM read
right after we changed it, so our own changes show at once). Every change bumps ``revision``;
each VM carries the revision of its last change, and removals are remembered (bounded) so a
caller can ask "what changed since revision N".
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime

from services.inventory.domain import ChangeBatch, InventoryObjects, matches, natural_key
from shared.messages import VmInfo, VmsQuery, utcnow

__all__ = ["InventoryCache"]

_TOMBSTONES = 10_000
_SELECTIONS = 32
_FILTERS = (
    "name_prefix",
    "name_pattern",
    "folder",
    "datacenter",
    "cluster",
    "power_state",
    "template",
    "has_ip",
    "group",
    "since_revision",
)


def _stamped(vm: VmInfo, revision: int) -> VmInfo:
    """``vm`` at ``revision``, sharing ``vm``'s pydantic fields set (~700 bytes a VM less).

    Safe: the models are frozen, and ``model_copy`` copies the set before it changes it.
    """
    stamped = vm.model_copy(update={"revision": revision})
    if "revision" in vm.model_fields_set:
        object.__setattr__(stamped, "__pydantic_fields_set__", vm.model_fields_set)
    return stamped


class InventoryCache:
    """VMs by moref with revisions, plus the non-VM objects."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._vms: dict[str, VmInfo] = {}
        self._by_name: dict[str, set[str]] = {}
        self._keys: dict[str, tuple[object, ...]] = {}
        self._removed: OrderedDict[str, int] = OrderedDict()
        self._oldest_tombstone = 0
        self._sorted: list[VmInfo] | None = None
        self._selections: dict[tuple[object, ...], list[VmInfo]] = {}
        self.revision = 0
        self.objects = InventoryObjects()
        self.synced = False
        self.synced_at: datetime | None = None
        self._heard_at: float | None = None

    # -- writing ------------------------------------------------------------------------------

    def heard(self) -> None:
        """vCenter answered just now (even if nothing changed)."""
        self._heard_at = self._monotonic()

    def _put(self, vm: VmInfo) -> bool:
        current = self._vms.get(vm.moref)
        if current is not None and {**current.__dict__, "revision": vm.revision} == vm.__dict__:
            return False
        if current is not None and current.name != vm.name:
            self._by_name.get(current.name, set()).discard(vm.moref)
        self.revision += 1
        self._vms[vm.moref] = _stamped(vm, self.revision)
        if current is None or current.name != vm.name:
            self._keys[vm.moref] = (natural_key(vm.name), vm.moref)
        self._by_name.setdefault(vm.name, set()).add(vm.moref)
        self._removed.pop(vm.moref, None)
        self._sorted = None
        self._selections.clear()
        return True

    def _drop(self, moref: str) -> None:
        vm = self._vms.pop(moref, None)
        if vm is None:
            return
        self._keys.pop(moref, None)
        self._by_name.get(vm.name, set()).discard(moref)
        self.revision += 1
        self._removed[moref] = self.revision
        while len(self._removed) > _TOMBSTONES:
            _, revision = self._removed.popitem(last=False)
            self._oldest_tombstone = revision
        self._sorted = None
        self._selections.clear()

    def upsert(self, vm: VmInfo) -> None:
        """Record one VM as just read (the cache assigns its own revision)."""
        self._put(vm)

    def remove(self, moref: str) -> None:
        """Forget a VM that is gone."""
        self._drop(moref)

    def replace(self, vms: Iterable[VmInfo], objects: InventoryObjects) -> tuple[int, int]:
        """Make the cache exactly ``vms`` / ``objects`` (unchanged VMs keep their revision).

        Returns how many VMs this changed (new or different) and removed.
        """
        seen: set[str] = set()
        changed = 0
        for vm in vms:
            seen.add(vm.moref)
            changed += self._put(vm)
        gone = [m for m in self._vms if m not in seen]
        for moref in gone:
            self._drop(moref)
        self.objects = objects
        self.synced = True
        self.synced_at = utcnow()
        self.heard()
        return changed, len(gone)

    def apply(self, batch: ChangeBatch) -> None:
        """Apply a change batch from the watcher."""
        if batch.full:
            self.replace(batch.upserts, batch.objects or self.objects)
            return
        for vm in batch.upserts:
            self._put(vm)
        for moref in batch.removed:
            self._drop(moref)
        if batch.objects is not None:
            self.objects = batch.objects
        self.heard()

    # -- reading ------------------------------------------------------------------------------

    def age_s(self) -> float | None:
        """Seconds since vCenter last answered the watcher; ``None`` before the first sync."""
        if self._heard_at is None:
            return None
        return round(self._monotonic() - self._heard_at, 3)

    def all_sorted(self) -> list[VmInfo]:
        """Every VM and template in natural name order (memoized until the next change)."""
        if self._sorted is None:
            keys = self._keys  # computed once per name: a re-sort after a change is cheap
            self._sorted = sorted(self._vms.values(), key=lambda vm: keys[vm.moref])
        return self._sorted

    def select(self, query: VmsQuery, max_page: int | None = None) -> tuple[list[VmInfo], int, list[str], bool]:
        """VMs matching ``query``: (page from ``query.offset``, total matching, removed since, complete)."""
        since = query.since_revision
        complete = since is None or since >= self._oldest_tombstone
        selected = self._selected(query)
        removed = [] if since is None else [m for m, rev in self._removed.items() if rev > since]
        total = len(selected)
        limit = min(filter(None, (query.limit, max_page)), default=None)
        end = query.offset + limit if limit is not None else None
        return selected[query.offset : end], total, removed, complete

    def _selected(self, query: VmsQuery) -> list[VmInfo]:
        """The VMs passing ``query``'s filters, memoized until the next change.

        A caller paging through a list asks the same filters once per page; each page then
        costs a slice, not a scan of every VM.
        """
        key = tuple(getattr(query, name) for name in _FILTERS)
        selected = self._selections.get(key)
        if selected is None:
            since = query.since_revision
            selected = [vm for vm in self.all_sorted() if matches(vm, query) and (since is None or vm.revision > since)]
            if len(self._selections) >= _SELECTIONS:
                self._selections.pop(next(iter(self._selections)))
            self._selections[key] = selected
        return selected

    def get(self, moref: str) -> VmInfo | None:
        """The VM with this moref."""
        return self._vms.get(moref)

    def named(self, name: str) -> list[VmInfo]:
        """VMs (and templates) with exactly this name."""
        return [self._vms[m] for m in sorted(self._by_name.get(name, ())) if m in self._vms]

    def template(self, name: str) -> VmInfo | None:
        """The template (or, failing that, the VM) called ``name``."""
        found = self.named(name)
        templates = [vm for vm in found if vm.template]
        chosen = templates or found
        return chosen[0] if chosen else None

    def counts(self) -> tuple[int, int]:
        """(VMs, templates)."""
        templates = sum(1 for vm in self._vms.values() if vm.template)
        return len(self._vms) - templates, templates
