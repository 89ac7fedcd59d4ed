"""``pool.updated`` on the real bus → the group's drift stored and ``decision.drift_detected``."""

from __future__ import annotations

import pytest

from services.scaler.adapters.sql import SqlStore
from shared import subjects
from shared.db import make_engine
from shared.messages import GroupDriftDetected, MemberState, PoolMember, PoolUpdated
from testkit.scaler.fake_world import FakeWorld
from tests.integration.scaler.scaler_replica import (
    group_spec,
    lab_pool,
    make_bus,
    seed,
    start_replica,
    unique,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("js_cleanup")


async def test_a_pool_member_no_instance_accounts_for_is_reported(
    nats_url: str, redis_url: str, clean_db: str, prefix: str, redis_prefix: str
) -> None:
    name = unique("drift")
    store = SqlStore(make_engine(clean_db))
    await seed(store, [group_spec(name)], lab_pool())
    replica = await start_replica(nats_url, prefix, clean_db, redis_url, redis_prefix, FakeWorld(), "r1")
    other = make_bus(nats_url, prefix, "loadbalancer")
    seen: list[GroupDriftDetected] = []

    @other.broker.subscriber(other.topology.subject(subjects.GROUP_DRIFT_DETECTED))
    async def on_drift(event: GroupDriftDetected) -> None:
        seen.append(event)

    await other.broker.start()
    try:
        member = PoolMember(name="stranger", address="127.0.10.250", port=18080, state=MemberState.UP)
        await other.publish(subjects.POOL_UPDATED, PoolUpdated(pool=f"{name}-pool", members=(member,)))

        async def reported() -> bool:
            return any(e.group == name and e.unexpected_in_pool == ("stranger",) for e in seen)

        await wait_until(reported, what="the drift event")
        record = await store.transaction(lambda uow: uow.groups.get(name))
        assert record.state.pool_unexpected == ("stranger",) and record.state.pool_members == 1
    finally:
        await other.broker.stop()
        await replica.stop()
        store.dispose()
