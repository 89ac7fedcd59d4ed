"""A real scaler process killed at each step in turn resumes from the database.

The scaler runs as ``python -m services.scaler`` against real NATS, PostgreSQL and Redis; the
test plays inventory, monitoring and the load balancer (the fake world on the bus) and serves
the new VM's health path on its loopback address. When the chosen command reaches the fake
world, the scaler is SIGKILLed before the reply goes out, then started again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.scaler.adapters.sql import SqlStore
from services.scaler.domain import InstanceState, LeaseState
from shared import subjects
from shared.db import make_engine
from shared.errors import RetryableError
from shared.messages import AlertFired, GroupStatusQuery, utcnow
from testkit.scaler.fake_world import FakeWorld
from tests.integration.scaler.scaler_process import ScalerProcess, scaler_env
from tests.integration.scaler.scaler_replica import (
    group_spec,
    health_servers,
    lab_pool,
    make_bus,
    seed,
    start_world,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("js_cleanup")

ADDRESSES = ("127.0.10.10", "127.0.10.11")


@pytest.fixture
async def app_port() -> AsyncIterator[int]:
    """The application's health path, served on every address the pool hands out."""
    async with health_servers(ADDRESSES) as port:
        yield port


KILL_POINTS = [
    ("before the clone reply", subjects.CMD_VM_CLONE.name, None),
    ("before the power-on reply", subjects.CMD_VM_POWER_ON.name, None),
    ("after the health wait, before registering", subjects.CMD_MONITORING_REGISTER.name, None),
    ("before the pool reply", subjects.CMD_POOL_ADD.name, None),
    ("during the rollback, before the destroy reply", subjects.CMD_VM_DESTROY.name, "register"),
]


@pytest.mark.parametrize(("kill_at", "failing"), [k[1:] for k in KILL_POINTS], ids=[k[0] for k in KILL_POINTS])
async def test_a_scaler_killed_at_a_step_resumes_and_ends_with_at_most_one_vm(
    kill_at: str,
    failing: str | None,
    nats_url: str,
    redis_url: str,
    clean_db: str,
    prefix: str,
    app_port: int,
    tmp_path: Path,
) -> None:
    world = FakeWorld()
    if failing:
        world.fail(failing, times=10)
    store = SqlStore(make_engine(clean_db))
    # at min: the only scale-out is the alert's (below min, the loop would clone before the alert)
    await seed(store, [group_spec("web", member_port=app_port)], lab_pool(*ADDRESSES), at_min=True)
    env = scaler_env(nats_url, redis_url, clean_db, prefix, tmp_path)
    scaler = ScalerProcess(env, tmp_path / "scaler.log")
    killed = asyncio.Event()

    async def on_command(name: str) -> None:
        if name == kill_at and not killed.is_set():
            scaler.kill()
            killed.set()

    fake = await start_world(nats_url, prefix, world, on_command)
    client = make_bus(nats_url, prefix, "gateway")
    await client.broker.start()

    async def answering() -> bool:
        try:
            await client.request(subjects.QUERY_SCALER_GROUP_STATUS, GroupStatusQuery(group="web"), timeout=0.5)
        except RetryableError:
            return False
        return True

    try:
        scaler.start()
        await wait_until(answering, timeout=30, what="the scaler answering")
        # Prometheus is unreachable: a fresh alert still scales out (and the alert is durable,
        # unlike a request whose reply the kill could swallow).
        alert = AlertFired(group="web", alertname="web_HighResourceUsage", fingerprint="f", starts_at=utcnow())
        await client.publish(subjects.ALERT_FIRED, alert)
        await asyncio.wait_for(killed.wait(), timeout=30)
        scaler.start()

        async def ended() -> bool:
            found = await store.transaction(lambda uow: uow.activities.recent("web"))
            return bool(found) and found[0].status.terminal

        await wait_until(ended, timeout=60, what="the activity ending after the restart")
        (activity,) = await store.transaction(lambda uow: uow.activities.recent("web"))
        instances = [i for i in await store.transaction(lambda uow: uow.instances.all("web")) if not i.base]
        leases = await store.transaction(lambda uow: uow.ip_pools.leases("lab"))
    finally:
        scaler.stop()
        await client.broker.stop()
        await fake.stop()
        store.dispose()
    assert world.clones <= 1
    if failing is None:
        assert activity.status == "succeeded", (activity.status, activity.reason)
        (instance,) = instances
        assert instance.state is InstanceState.IN_SERVICE
        assert [lease.state for lease in leases] == [LeaseState.CONFIRMED]
        assert world.leftovers()["vms"] == [instance.vm_name]
        assert world.leftovers()["members"] == [instance.vm_name]
    else:
        assert activity.status == "rolled_back", (activity.status, activity.reason)
        assert world.leftovers() == {"vms": [], "targets": [], "members": []}
        assert all(lease.state is LeaseState.RELEASED for lease in leases)
        assert [i.state for i in instances] == [InstanceState.TERMINATED]
