"""Groups sharing one IP pool, deciding at the same moment on PostgreSQL: no address twice.

Decisions of different groups hold different group locks, so only the pool serialises them. A
lease row that does not exist yet cannot be locked: without a lock on the pool itself, two
transactions could both pick the same next free address and the second upsert would take it over
(two VMs, one address). Concurrent consumers of ``alert.fired`` (and several replicas) do exactly
this; the test runs the decisions concurrently in one process against the real database.
"""

from __future__ import annotations

import asyncio

import pytest

from services.scaler.adapters.sql import SqlStore
from services.scaler.domain import LeaseState
from services.scaler.service import Ports, Scaler
from shared.clock import SystemClock
from shared.db import make_engine
from shared.messages import AlertFired, utcnow
from testkit.scaler.memory import (
    MemoryHealthProbe,
    MemoryHooks,
    MemoryLease,
    MemoryMetrics,
    MemoryResourceChecker,
    RecordingPublisher,
)
from tests.integration.scaler.scaler_replica import group_spec, lab_pool, seed

GROUPS = [f"g{n:02d}" for n in range(12)]


@pytest.mark.parametrize("round_", range(3))
async def test_concurrent_scale_outs_of_groups_sharing_a_pool_never_share_an_address(
    round_: int, clean_db: str
) -> None:
    store = SqlStore(make_engine(clean_db, pool_size=len(GROUPS)))
    await seed(store, [group_spec(name, scale_out_step=2, max_size=4) for name in GROUPS], lab_pool(), at_min=True)
    metrics = MemoryMetrics()
    for name in GROUPS:
        metrics.set(name, cpu=95, memory=50)
    clock = SystemClock()
    ports = Ports(
        store=store,
        lease=MemoryLease(clock),
        metrics=metrics,
        probe=MemoryHealthProbe(lambda url: True),
        hooks=MemoryHooks(),
        checker=MemoryResourceChecker(),
        publisher=RecordingPublisher(),
        clock=clock,
    )
    scaler = Scaler(ports, owner="r1")
    alerts = [
        AlertFired(group=name, alertname=f"{name}_HighResourceUsage", fingerprint="f", starts_at=utcnow())
        for name in GROUPS
    ]
    try:
        decisions = await asyncio.gather(*(scaler.triggers.on_alert_fired(a) for a in alerts))
        leases = await store.transaction(lambda uow: uow.ip_pools.leases("lab"))
        instances = [i for i in await store.transaction(lambda uow: uow.instances.all()) if not i.base]
    finally:
        await scaler.stop()
        store.dispose()
    assert all(d is not None and d.allowed and d.delta == 2 for d in decisions), decisions
    held = [lease for lease in leases if lease.state is LeaseState.RESERVED]
    assert len(held) == 2 * len(GROUPS)
    assert len({lease.address for lease in held}) == len(held)
    assert sorted((i.vm_name, str(i.address)) for i in instances) == sorted(
        (lease.vm_name, str(lease.address)) for lease in held
    )
