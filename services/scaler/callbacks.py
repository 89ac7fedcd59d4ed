"""Use case: the original's Jenkins pipelines report VMs they created or deleted.

During a switch-over the original's ``plg-autoscale-out`` / ``-in`` jobs may still run and call
back (docs/original-system.md §10.3, §11.3; docs/migrating.md). vmscale keeps its instance table true to
them: ``adopt`` makes a VM it did not create an autoscaled, in-service instance (scaled in
newest first, by the timestamp in its name when it has one), and ``mark_gone`` terminates the
instance of a VM that was deleted and releases its address. Both are idempotent and keep the
scale-in silence in line with the new size. Nothing is done to the VM, the load balancer or
Prometheus: the pipeline did that.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from services.scaler.activities import sync_silence
from services.scaler.domain.errors import ActivityRunning, UnknownGroup
from services.scaler.domain.model import Instance, InstanceState, IpLease, IpRange, LeaseState
from services.scaler.domain.original_naming import autoscaled_at
from services.scaler.outbox import OutboxRelay
from services.scaler.ports import Store, UnitOfWork
from shared.clock import Clock

__all__ = ["CallbackOutcome", "InstanceCallbacks"]

CallbackOutcome = tuple[str, bool, Instance | None]
"""(outcome, changed, the instance as it now is)."""

_BUSY = frozenset({InstanceState.PROVISIONING, InstanceState.DRAINING, InstanceState.TERMINATING})


class InstanceCallbacks:
    """Adopt or forget VMs on another system's word (the original's Jenkins callbacks)."""

    def __init__(self, store: Store, relay: OutboxRelay, clock: Clock) -> None:
        self._store = store
        self._relay = relay
        self._clock = clock

    async def adopt(self, group: str, vm_name: str, address: IPv4Address) -> CallbackOutcome:
        """Make ``vm_name`` an autoscaled in-service instance unless vmscale already manages it.

        Its address is recorded as a confirmed lease when it lies in the group's IP pool and no
        other VM holds it. Raises ``UnknownGroup``.
        """
        now = self._clock.now()

        def txn(uow: UnitOfWork) -> CallbackOutcome:
            record = uow.groups.get(group, for_update=True)
            if record is None:
                raise UnknownGroup(f"no group {group}", group=group)
            existing = uow.instances.get(group, vm_name)
            if existing is not None and existing.state is not InstanceState.TERMINATED:
                return "already-managed", False, existing
            instance = Instance(
                group=group,
                vm_name=vm_name,
                address=address,
                state=InstanceState.IN_SERVICE,
                created_at=autoscaled_at(vm_name) or now,
            )
            uow.instances.save(instance)
            pool = uow.ip_pools.get(record.spec.ip_pool)
            if pool is not None and _in_pool(pool.ranges, address) and address not in pool.exclusions:
                leases = uow.ip_pools.leases(pool.name, for_update=True)
                if not any(lease.address == address and lease.state is not LeaseState.RELEASED for lease in leases):
                    lease = IpLease(
                        pool=pool.name,
                        address=address,
                        group=group,
                        vm_name=vm_name,
                        state=LeaseState.CONFIRMED,
                        updated_at=now,
                    )
                    uow.ip_pools.save_lease(lease)
            sync_silence(uow, record, now)
            return "adopted", True, instance

        result = await self._store.transaction(txn)
        self._relay.kick()
        return result

    async def mark_gone(self, group: str, vm_name: str, address: IPv4Address) -> CallbackOutcome:
        """Terminate the instance of a deleted VM and release its address.

        Unknown or already terminated: nothing changes. Refused (``ActivityRunning``) while one
        of vmscale's own activities is creating or removing that very VM. Raises ``UnknownGroup``.
        """
        now = self._clock.now()

        def txn(uow: UnitOfWork) -> CallbackOutcome:
            record = uow.groups.get(group, for_update=True)
            if record is None:
                raise UnknownGroup(f"no group {group}", group=group)
            instance = uow.instances.get(group, vm_name)
            if instance is None or instance.state is InstanceState.TERMINATED:
                return "already-gone", False, instance
            if instance.state in _BUSY and instance.activity_id:
                raise ActivityRunning(
                    f"{vm_name} is being changed by activity {instance.activity_id}; it ends the VM's life itself",
                    group=group,
                )
            gone = instance.model_copy(update={"state": InstanceState.TERMINATED, "activity_id": None})
            uow.instances.save(gone)
            held = instance.address or address
            for lease in uow.ip_pools.leases(record.spec.ip_pool, for_update=True):
                if lease.address == held and lease.vm_name == vm_name and lease.state is not LeaseState.RELEASED:
                    uow.ip_pools.save_lease(lease.model_copy(update={"state": LeaseState.RELEASED, "updated_at": now}))
            sync_silence(uow, record, now)
            return "marked-gone", True, gone

        result = await self._store.transaction(txn)
        self._relay.kick()
        return result


def _in_pool(ranges: tuple[IpRange, ...], address: IPv4Address) -> bool:
    value = int(address)
    return any(int(r.start) <= value <= int(r.end) for r in ranges)
