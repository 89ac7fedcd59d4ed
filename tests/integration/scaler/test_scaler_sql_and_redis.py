"""The store contract on PostgreSQL, the lease contract on Redis, and the migrations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from scaler_lease import GroupLeaseContract
from scaler_store import StoreContract, activity
from sqlalchemy import inspect

from services.scaler.adapters.redis_lease import RedisLease
from services.scaler.adapters.sql import SqlStore
from services.scaler.domain.errors import ActivityRunning
from shared.db import downgrade, make_engine, upgrade
from shared.errors import Contention, ServiceUnavailable

pytestmark = pytest.mark.integration


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
