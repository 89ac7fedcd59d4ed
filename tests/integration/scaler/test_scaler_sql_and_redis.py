"""The store contract on PostgreSQL, the lease contract on Redis, and the migrations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect

from services.scaler.adapters.redis_lease import RedisLease
from services.scaler.adapters.sql import SqlStore
from services.scaler.domain.errors import ActivityRunning
from shared.db import downgrade, make_engine, upgrade
from shared.errors import Contention, ServiceUnavailable
from tests.contracts.scaler_lease import GroupLeaseContract
from tests.contracts.scaler_store import StoreContract, activity


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store(self, clean_db: str) -> Iterator[SqlStore]:
        store = SqlStore(make_engine(clean_db))
        yield store
        store.dispose()


class TestSqliteStore(StoreContract):
    """SQLite is the default database (``make run`` with nothing configured): same contract."""

    @pytest.fixture
    def store(self, tmp_path) -> Iterator[SqlStore]:
        url = f"sqlite:///{tmp_path / 'scaler.db'}"
        upgrade("scaler", url)
        store = SqlStore(make_engine(url))
        yield store
        store.dispose()


class TestRedisLease(GroupLeaseContract):
    ttl_s = 0.3

    @pytest.fixture
    async def lease(self, redis_url: str, redis_prefix: str) -> AsyncIterator[RedisLease]:
        lease = RedisLease.from_url(redis_url, redis_prefix)
        yield lease
        await lease.close()

    async def pass_time(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def test_concurrent_inserts_of_active_activities_yield_exactly_one(clean_db: str) -> None:
    store = SqlStore(make_engine(clean_db, pool_size=10))
    outcomes = await asyncio.gather(
        *(store.transaction(lambda uow, n=n: uow.activities.save(activity(f"a{n}"))) for n in range(8)),
        return_exceptions=True,
    )
    store.dispose()
    assert sum(1 for o in outcomes if o is None) == 1
    assert all(isinstance(o, ActivityRunning | Contention) for o in outcomes if o is not None)


async def test_a_dead_database_is_service_unavailable() -> None:
    store = SqlStore(make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none"))
    with pytest.raises(ServiceUnavailable):
        await store.transaction(lambda uow: uow.groups.all())


async def test_a_dead_redis_is_service_unavailable() -> None:
    lease = RedisLease.from_url("redis://127.0.0.1:1/0")
    with pytest.raises(ServiceUnavailable):
        await lease.acquire("web", "r1", 1)
    await lease.close()


def test_migrations_go_down_and_up_again(scaler_db_url: str) -> None:
    downgrade("scaler", scaler_db_url, "scaler_0001")
    engine = make_engine(scaler_db_url)
    assert "scaler_groups" not in inspect(engine).get_table_names()
    upgrade("scaler", scaler_db_url)
    assert {"scaler_groups", "scaler_activities", "scaler_outbox"} <= set(inspect(engine).get_table_names())
    engine.dispose()


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
async def test_a_group_state_stored_with_reason_at_iso_quiet_marks_still_reads(
    backend: str, clean_db: str, tmp_path
) -> None:
    """Rows written before quiet marks were values hold ``"<reason>@<iso time>"`` strings."""
    from sqlalchemy import text

    from services.scaler.domain.model import QuietMark
    from tests.contracts.scaler_store import group

    url = clean_db if backend == "postgres" else f"sqlite:///{tmp_path / 'scaler.db'}"
    if backend == "sqlite":
        upgrade("scaler", url)
    engine = make_engine(url)
    store = SqlStore(engine)
    record = group("web")
    await store.transaction(lambda uow: uow.groups.save(record))
    legacy = '{"quiet_blocks": {"step": "at_max@2026-01-01T12:00:00+00:00"}, "lease_fence": 7}'
    with engine.begin() as conn:
        conn.execute(text("UPDATE scaler_groups SET state = :state WHERE name = 'web'"), {"state": legacy})
    read = await store.transaction(lambda uow: uow.groups.get("web"))
    store.dispose()
    assert read is not None and read.state.lease_fence == 7
    assert read.state.quiet_blocks == {"step": QuietMark(reason="at_max", at=datetime(2026, 1, 1, 12, tzinfo=UTC))}
