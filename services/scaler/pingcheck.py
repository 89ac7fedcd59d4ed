"""The ping check of IP pools (``IpPool.ping_check``): before a scale-out takes addresses, probe
the ones it would take next; those that answer are skipped (not leased) and recorded with the
decision (``observed.ip_in_use``), and a warning is logged. The probe runs outside any
transaction; the decision transaction then reserves only probed, silent addresses."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

from services.scaler.domain import ipam
from services.scaler.domain.model import IpLease, IpPool, ScalingGroup
from services.scaler.ports import AddressProbe, Store, UnitOfWork
from shared.telemetry import get_logger

__all__ = ["PING_ROUNDS", "PingCheck", "free_ips", "ping_check"]

log = get_logger(__name__)

PING_ROUNDS = 4
"""How many batches of next-free addresses one check probes at most."""


@dataclass(frozen=True)
class PingCheck:
    """What a ping check found: the addresses probed and those that answered."""

    probed: frozenset[IPv4Address]
    answered: frozenset[IPv4Address]


async def ping_check(store: Store, probe: AddressProbe, spec: ScalingGroup) -> PingCheck | None:
    """Probe the next free addresses of the group's pool (None when the pool has no ping check).

    Answering addresses are skipped and the next ones probed, up to ``PING_ROUNDS`` batches of
    ``scale_out_step`` addresses."""

    def read(uow: UnitOfWork) -> tuple[IpPool | None, list[IpLease]]:
        pool = uow.ip_pools.get(spec.ip_pool)
        return pool, uow.ip_pools.leases(spec.ip_pool) if pool is not None and pool.ping_check else []

    pool, leases = await store.transaction(read)
    if pool is None or not pool.ping_check:
        return None
    probed: set[IPv4Address] = set()
    answered: set[IPv4Address] = set()
    for _ in range(PING_ROUNDS):
        batch = [a for a in ipam.candidates(pool, leases, spec.scale_out_step, answered) if a not in probed]
        if not batch:
            break
        probed.update(batch)
        answered |= await probe.in_use(batch)
    if answered:
        log.warning("addresses answer the ping check; skipped", pool=pool.name, addresses=sorted(map(str, answered)))
    return PingCheck(probed=frozenset(probed), answered=frozenset(answered))


def free_ips(pool: IpPool | None, leases: list[IpLease], ping: PingCheck | None) -> int:
    """Free addresses of the pool, less the free ones that answered the ping check."""
    if pool is None:
        return 0
    answering = (ping.answered - ipam.held(leases)) if ping is not None else frozenset()
    return max(ipam.free_count(pool, leases) - len(answering), 0)
