"""Pure IP-pool arithmetic: which addresses may be handed out, which are free, reservations.

Network, broadcast and gateway addresses and the pool's exclusions are never handed out
(docs/original-system.md §13.3 MUST). A lease that is not released holds its address.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from ipaddress import IPv4Address

from services.scaler.domain.errors import PoolExhausted
from services.scaler.domain.model import IpLease, IpPool, LeaseState

__all__ = ["candidates", "capacity", "confirm", "free_count", "held", "release", "reserve", "usable"]


def _never(pool: IpPool) -> set[IPv4Address]:
    never = set(pool.exclusions) | set(pool.network_addresses())
    if pool.gateway is not None:
        never.add(pool.gateway)
    return never


def usable(pool: IpPool) -> Iterator[IPv4Address]:
    """Every address the pool may hand out, in order, each once."""
    never = _never(pool)
    seen: set[int] = set()
    for rng in pool.ranges:
        for value in range(int(rng.start), int(rng.end) + 1):
            if value in seen:
                continue
            seen.add(value)
            address = IPv4Address(value)
            if address not in never:
                yield address


def capacity(pool: IpPool) -> int:
    """How many addresses the pool can hand out in total."""
    values: set[int] = set()
    for rng in pool.ranges:
        values.update(range(int(rng.start), int(rng.end) + 1))
    never = {int(a) for a in _never(pool)}
    return len(values - never)


def held(leases: Iterable[IpLease]) -> set[IPv4Address]:
    """Addresses held by reserved or confirmed leases."""
    return {lease.address for lease in leases if lease.state is not LeaseState.RELEASED}


def free_count(pool: IpPool, leases: Iterable[IpLease]) -> int:
    """How many addresses are free right now."""
    taken = {a for a in held(leases) if any(int(r.start) <= int(a) <= int(r.end) for r in pool.ranges)}
    return max(capacity(pool) - len(taken - _never(pool)), 0)


def candidates(
    pool: IpPool, leases: Iterable[IpLease], count: int, skip: Collection[IPv4Address] = ()
) -> tuple[IPv4Address, ...]:
    """The first ``count`` free addresses (not held, not in ``skip``): what ``reserve`` would
    pick next, so these are the ones a ping check probes."""
    taken = held(leases) | set(skip)
    picked: list[IPv4Address] = []
    for address in usable(pool):
        if len(picked) == count:
            break
        if address not in taken:
            picked.append(address)
    return tuple(picked)


def reserve(
    pool: IpPool,
    leases: Iterable[IpLease],
    group: str,
    vm_names: Collection[str],
    activity_id: str,
    now: datetime,
    unavailable: Collection[IPv4Address] = (),
) -> tuple[IpLease, ...]:
    """Reserve one address per VM, first free address first.

    ``unavailable`` are addresses found in use by another means (a ping answered). Raises
    ``PoolExhausted`` when there are fewer free addresses than VMs; nothing is reserved then.
    """
    picked = candidates(pool, leases, len(vm_names), unavailable)
    if len(picked) < len(vm_names):
        raise PoolExhausted(f"IP pool {pool.name} has {len(picked)} free of {len(vm_names)} needed", pool=pool.name)
    return tuple(
        IpLease(pool=pool.name, address=a, group=group, vm_name=name, activity_id=activity_id, updated_at=now)
        for a, name in zip(picked, vm_names, strict=True)
    )


def confirm(lease: IpLease, now: datetime) -> IpLease:
    """The VM is in service with this address."""
    return lease.model_copy(update={"state": LeaseState.CONFIRMED, "updated_at": now})


def release(lease: IpLease, now: datetime) -> IpLease:
    """The address is free again."""
    return lease.model_copy(update={"state": LeaseState.RELEASED, "updated_at": now})
