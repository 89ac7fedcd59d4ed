"""Two inventory services over one PostgreSQL: the orphan pass runs on one replica at a time, and
the other takes it over once the holder dies; both keep following vCenter (their own caches)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from services.inventory.adapters.tables import leases as lease_table
from services.inventory.context import Timeouts
from services.inventory.service import InventoryService
from shared.db import make_engine, upgrade
from testkit.clock import FakeClock
from testkit.inventory.memory import MemoryOperationClaims, MemoryOperationStore
from tests.integration.shared.lease_replicas import DyingLeases, until
from tests.unit.inventory.memory_world import seeded_vcenter

LEASE_TTL_S = 0.6
CLAIM_TTL_S = 0.2  # the orphan pass runs every half of it


@pytest.fixture
def engine(postgres_database: str) -> Iterator[Engine]:
    upgrade("inventory", postgres_database)
    engine = make_engine(postgres_database)
    yield engine
    engine.dispose()


async def _nothing(subject: Any, event: Any) -> None:
    return None


async def test_one_replica_runs_the_orphan_pass_and_the_other_takes_over_when_it_dies(engine: Engine) -> None:
    world, store, claims = seeded_vcenter(), MemoryOperationStore(), MemoryOperationClaims(FakeClock())
    passes = {"a": 0, "b": 0}
    services, leases = {}, {}

    async def start(owner: str) -> None:
        service = InventoryService(world, world, _nothing, timeouts=Timeouts(claim_ttl_s=CLAIM_TTL_S), wait_s=1)
        leases[owner] = DyingLeases(engine, lease_table)
        await service.start(store, claims=claims, owner=owner, leases=leases[owner], lease_ttl_s=LEASE_TTL_S)
        original = service.lifecycle.resume_orphans

        async def counted() -> None:
            passes[owner] += 1
            await original()

        service.lifecycle.resume_orphans = counted  # type: ignore[method-assign]
        services[owner] = service

    await start("a")
    await until(lambda: passes["a"] >= 2)
    await start("b")
    await until(lambda: passes["a"] >= 2 + 4 * LEASE_TTL_S / (CLAIM_TTL_S / 2))  # several TTLs, both up
    assert passes["b"] == 0
    assert services["b"].watcher.synced.is_set()  # b follows vCenter all the same
    leases["a"].dead = True  # a's process vanishes: its lease is left to expire
    await services["a"].stop()
    await until(lambda: passes["b"] >= 2)
    await services["b"].stop()
