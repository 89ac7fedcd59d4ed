"""The scaler on real NATS, PostgreSQL and Redis: handlers, queries, and two racing replicas."""

from __future__ import annotations

import asyncio

import pytest

from services.scaler.adapters.sql import SqlStore
from shared import subjects
from shared.db import make_engine
from shared.messages import (
    AlertFired,
    GetGroup,
    GroupStatusQuery,
    ListDecisions,
    ListInstances,
    ManualScale,
    SaveGroup,
    SaveIpPool,
    utcnow,
)
from testkit.scaler.fake_world import FakeWorld
from tests.integration.scaler.scaler_replica import (
    group_spec,
    lab_pool,
    make_bus,
    seed,
    start_replica,
    start_world,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("js_cleanup")


async def test_two_replicas_and_100_alerts_for_20_groups_start_exactly_one_activity_per_group(
    nats_url: str, redis_url: str, clean_db: str, prefix: str, redis_prefix: str
) -> None:
    world = FakeWorld()
    names = [f"g{n:02d}" for n in range(20)]
    store = SqlStore(make_engine(clean_db))
    await seed(store, [group_spec(n) for n in names], lab_pool())
    fake = await start_world(nats_url, prefix, world)
    # Each replica decides four alerts at once: 8 concurrent deciders over one IP pool.
    one = await start_replica(nats_url, prefix, clean_db, redis_url, redis_prefix, world, "r1", alert_workers=4)
    two = await start_replica(nats_url, prefix, clean_db, redis_url, redis_prefix, world, "r2", alert_workers=4)
    for replica in (one, two):
        for name in names:
            replica.metrics.set(name, cpu=95, memory=40)
    publisher = make_bus(nats_url, prefix, "gateway")
    await publisher.broker.start()
    try:
        alerts = [
            AlertFired(
                group=name,
                alertname=f"{name}_HighResourceUsage",
                fingerprint=f"fp{k}",
                starts_at=utcnow(),
                labels={"service": name},
            )
            for name in names
            for k in range(5)
        ]
        await asyncio.gather(*(publisher.publish(subjects.ALERT_FIRED, alert) for alert in alerts))

        async def all_done() -> bool:
            found = await store.transaction(lambda uow: [uow.activities.recent(n) for n in names])
            return all(len(a) == 1 and a[0].status.terminal for a in found)

        await wait_until(all_done, timeout=60, what="one finished activity per group")
        await asyncio.sleep(1.0)  # late duplicates would show up now
        per_group = await store.transaction(lambda uow: [len(uow.activities.recent(n)) for n in names])
        assert per_group == [1] * 20
        statuses = await store.transaction(lambda uow: {a.status for n in names for a in uow.activities.recent(n)})
        assert statuses == {"succeeded"}
        assert world.clones == 20
        decisions = await store.transaction(lambda uow: uow.decisions.find(None, True, None, None, 1000))
        assert len(decisions) == 20
        leases = await store.transaction(lambda uow: uow.ip_pools.leases("lab"))
        assert len(leases) == 20 and len({lease.address for lease in leases}) == 20
    finally:
        await publisher.broker.stop()
        for part in (one, two, fake):
            await part.stop()
        store.dispose()


async def test_queries_and_operator_requests_over_the_bus(
    nats_url: str, redis_url: str, clean_db: str, prefix: str, redis_prefix: str
) -> None:
    world = FakeWorld()
    fake = await start_world(nats_url, prefix, world)
    replica = await start_replica(nats_url, prefix, clean_db, redis_url, redis_prefix, world, "r1")
    client = make_bus(nats_url, prefix, "gateway")
    await client.broker.start()
    try:
        pool = {"name": "lab", "network": "127.0.10.0/24", "ranges": [{"start": "127.0.10.10", "end": "127.0.10.12"}]}
        saved = await client.request(subjects.QUERY_SCALER_SAVE_IP_POOL, SaveIpPool(spec=pool))
        assert saved.error is None and saved.pool.capacity == 3
        bad = group_spec("web").model_dump(mode="json") | {"min_size": 5}
        refused = await client.request(subjects.QUERY_SCALER_SAVE_GROUP, SaveGroup(spec=bad))
        # the kind is the shared.errors class (InvalidPolicy is the scaler's own): the gateway's 422
        assert refused.error_kind == "InvalidInput" and "min_size" in refused.error
        spec = group_spec("web", enabled=False).model_dump(mode="json")
        created = await client.request(subjects.QUERY_SCALER_SAVE_GROUP, SaveGroup(spec=spec))
        assert created.error is None and created.group.name == "web" and not created.group.enabled
        status = await client.request(subjects.QUERY_SCALER_GROUP_STATUS, GroupStatusQuery(group="web"))
        assert status.exists and not status.enabled
        missing = await client.request(subjects.QUERY_SCALER_GROUP, GetGroup(name="nope"))
        assert missing.error_kind == "NotFound"
        nobody = await client.request(subjects.QUERY_SCALER_INSTANCES, ListInstances(group="nope"))
        assert nobody.error_kind == "NotFound", "no group is not a group without instances"
        await seed(replica.store, [group_spec("web")], lab_pool("127.0.10.10", "127.0.10.12"), at_min=True)
        scaled = await client.request(subjects.QUERY_SCALER_SCALE, ManualScale(group="web", desired=3, actor="alice"))
        assert scaled.decision.allowed and scaled.decision.delta == 2

        async def succeeded() -> bool:
            reply = await client.request(subjects.QUERY_SCALER_GROUP, GetGroup(name="web"))
            return bool(reply.activities) and reply.activities[0].status == "succeeded"

        await wait_until(succeeded, what="the manual scale-out")
        detail = await client.request(subjects.QUERY_SCALER_GROUP, GetGroup(name="web"))
        assert detail.group.size == 3 and detail.group.in_service == 3
        assert {s.step for s in detail.activities[0].steps} >= {"clone", "power_on", "add_pool_member", "in_service"}
        decisions = await client.request(subjects.QUERY_SCALER_DECISIONS, ListDecisions(group="web"))
        (manual,) = [d for d in decisions.decisions if d.trigger == "manual:alice"]
        assert manual.allowed and manual.delta == 2
        too_many = await client.request(subjects.QUERY_SCALER_SCALE, ManualScale(group="web", desired=9))
        after = await client.request(subjects.QUERY_SCALER_GROUP, GetGroup(name="web"))
        running = [(a.kind, a.status, a.cause) for a in after.activities]
        assert too_many.decision.reason == "at_max", (too_many.decision, running)
    finally:
        await client.broker.stop()
        await replica.stop()
        await fake.stop()
