"""Use case: find VMs that carry our tag but have no live instance record (orphans).

vmscale tags every VM it clones with its group and activity (``services/inventory/domain/tag.py``).
A tagged VM with no instance record in the group — or whose record says it was terminated — is
an orphan: a clone that outlived a crash, a destroy that failed behind our back, or a VM someone
copied along with our tag. Orphans are reported, never deleted: removing a VM is an operator's
call. A VM is reported once it has been seen orphaned in two sweeps in a row, so the inventory's
short lag behind a destroy is never mistaken for a leak.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from services.scaler.domain.model import InstanceState
from services.scaler.outbox import OutboxRelay
from services.scaler.ports import OutboxEntry, Store, UnitOfWork
from shared import subjects
from shared.bus import Bus
from shared.errors import ServiceUnavailable, VmscaleError
from shared.messages import OrphanVmsDetected, VmsQuery
from shared.telemetry import get_logger

__all__ = ["OrphanSweeper", "TaggedVms", "find_orphans", "tagged_vms_over_bus"]

log = get_logger(__name__)

TaggedVms = Callable[[str], Awaitable[list[str]]]
"""The names of the (non-template) VMs carrying our tag for a group (inventory, over the bus)."""

_GONE = {InstanceState.TERMINATED}


def find_orphans(tagged: list[str], records: dict[str, InstanceState]) -> tuple[str, ...]:
    """Tagged VMs without a live record, sorted (pure)."""
    return tuple(sorted(name for name in tagged if name not in records or records[name] in _GONE))


def _records(uow: UnitOfWork, group: str) -> dict[str, InstanceState]:
    return {instance.vm_name: instance.state for instance in uow.instances.all(group)}


class OrphanSweeper:
    """Compares each group's tagged VMs with its instance table and reports orphans."""

    def __init__(self, store: Store, tagged_vms: TaggedVms, relay: OutboxRelay) -> None:
        self._store = store
        self._tagged_vms = tagged_vms
        self._relay = relay
        self._suspects: dict[str, set[str]] = {}
        self._reported: dict[str, tuple[str, ...]] = {}

    async def sweep(self) -> dict[str, tuple[str, ...]]:
        """One sweep over every group; returns the orphans confirmed in it, per group."""
        groups = await self._store.transaction(lambda uow: [r.spec.name for r in uow.groups.all()])
        confirmed: dict[str, tuple[str, ...]] = {}
        for group in groups:
            try:
                tagged = await self._tagged_vms(group)
            except VmscaleError as exc:
                log.warning("orphan sweep skipped a group: inventory unavailable", group=group, error=str(exc))
                continue
            records = await self._store.transaction(partial(_records, group=group))
            now_orphaned = set(find_orphans(tagged, records))
            orphans = tuple(sorted(now_orphaned & self._suspects.get(group, set())))
            self._suspects[group] = now_orphaned
            confirmed[group] = orphans
            if orphans != self._reported.get(group, ()):
                await self._report(group, orphans)
                self._reported[group] = orphans
        return confirmed

    async def _report(self, group: str, orphans: tuple[str, ...]) -> None:
        event = OrphanVmsDetected(correlation_id=f"group:{group}", group=group, vm_names=orphans)

        def txn(uow: UnitOfWork) -> list[OutboxEntry]:
            uow.outbox.add(subjects.ORPHAN_VMS_DETECTED, event)
            return uow.outbox.recorded()

        await self._relay.publish_committed(await self._store.transaction(txn))
        if orphans:
            log.warning("VMs with our tag but no instance record", group=group, vms=list(orphans))
        else:
            log.info("no orphan VMs any more", group=group)


def tagged_vms_over_bus(bus: Bus) -> TaggedVms:
    """``TaggedVms`` over the bus: every page of the inventory's VMs tagged for the group."""

    async def tagged(group: str) -> list[str]:
        names: list[str] = []
        offset: int | None = 0
        while offset is not None:
            reply = await bus.request(
                subjects.QUERY_INVENTORY_VMS, VmsQuery(group=group, template=False, offset=offset)
            )
            if reply.error:
                raise ServiceUnavailable(f"inventory: {reply.error}")
            names += [vm.name for vm in reply.vms if vm.group == group]
            offset = reply.next_offset
        return names

    return tagged
