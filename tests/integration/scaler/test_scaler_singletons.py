"""Two scaler replicas over one PostgreSQL: the reconciliation loop runs on one at a time, and the
other takes it over once the holder dies (its lease expires unrenewed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.engine import Engine

from services.scaler.adapters.tables import leases as lease_table
from shared.db import make_engine, upgrade
from testkit.clock import FakeClock
from testkit.scaler.memory import MemoryLease
from testkit.scaler.memory_store import MemoryStore
from tests.integration.shared.lease_replicas import DyingLeases, until
from tests.unit.scaler.scaler_harness import Harness

TTL_S = 0.6
TICK_S = 0.05


@pytest.fixture
def engine(postgres_database: str) -> Iterator[Engine]:
    upgrade("scaler", postgres_database)
    engine = make_engine(postgres_database)
    yield engine
    engine.dispose()


async def test_one_scaler_reconciles_at_a_time_and_the_other_takes_over_when_it_dies(engine: Engine) -> None:
    clock = FakeClock()
    store, lease = MemoryStore(clock), MemoryLease(clock)
    replicas = {owner: Harness(clock, store=store, lease=lease, owner=owner) for owner in ("r1", "r2")}
    rounds = {owner: 0 for owner in replicas}
    for owner, harness in replicas.items():
        original = harness.scaler.reconciler.tick

        async def counted(owner: str = owner, original: Callable[[], object] = original) -> None:
            rounds[owner] += 1
            await original()  # type: ignore[misc]

        harness.scaler.reconciler.tick = counted  # type: ignore[method-assign]
    leases = {owner: DyingLeases(engine, lease_table) for owner in replicas}
    first, second = replicas["r1"].scaler, replicas["r2"].scaler
    await first.start(TICK_S, leases=leases["r1"], lease_ttl_s=TTL_S)
    await until(lambda: rounds["r1"] >= 3)
    await second.start(TICK_S, leases=leases["r2"], lease_ttl_s=TTL_S)
    await until(lambda: rounds["r1"] >= 3 + 4 * TTL_S / TICK_S)  # several TTLs with both replicas up
    assert rounds["r2"] == 0
    leases["r1"].dead = True  # r1's process vanishes: its lease is left to expire
    await first.stop()
    await until(lambda: rounds["r2"] >= 3)
    await second.stop()
