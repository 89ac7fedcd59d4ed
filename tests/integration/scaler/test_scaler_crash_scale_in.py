"""A real scaler process killed at each step of a scale-in resumes and removes the VM cleanly.

Same shape as the scale-out crash test: ``python -m services.scaler`` on real NATS, PostgreSQL
and Redis, the fake world on the bus playing inventory, monitoring and the load balancer. The
group holds a base VM and one autoscaled VM (in service, its address leased, its target
registered, its pool member up). An operator's request (``query.scaler.scale``, delta -1) starts
the scale-in, so no Prometheus is needed. When the chosen command reaches the fake world the
scaler is SIGKILLed; the world applies the command and publishes its reply while the scaler is
down; the scaler is started again and must finish from the database.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from services.scaler.adapters.sql import SqlStore
from services.scaler.domain import Instance, InstanceState, IpLease, LeaseState
from shared import subjects
from shared.db import make_engine
from shared.errors import RetryableError
from shared.messages import GroupStatusQuery, ManualScale, MemberState, PowerState
from testkit.scaler.fake_world import FakeVm, FakeWorld
from tests.integration.scaler.scaler_process import ScalerProcess, scaler_env
from tests.integration.scaler.scaler_replica import group_spec, lab_pool, make_bus, seed, start_world, wait_until

pytestmark = pytest.mark.usefixtures("js_cleanup")

BASE = ("web-base-0", "127.0.10.9")
VICTIM = ("web-20260101000000", "127.0.10.10")

KILL_POINTS = [
    ("after drain, before its reply is recorded", subjects.CMD_POOL_DRAIN.name),
    ("after remove member, before its reply is recorded", subjects.CMD_POOL_REMOVE.name),
    ("after deregister, before its reply is recorded", subjects.CMD_MONITORING_DEREGISTER.name),
    ("after destroy, before its reply is recorded", subjects.CMD_VM_DESTROY.name),
]


def populate(world: FakeWorld, pool: str, job: str, port: int) -> None:
    """Both VMs exist, run, are scraped and serve in the pool."""
    for name, ip in (BASE, VICTIM):
        world.vms[name] = FakeVm(name=name, group="web", template="tpl", ip=ip, power=PowerState.ON)
        world.targets[(job, name)] = f"{ip}:9100"
        world.members[(pool, name)] = (ip, port, MemberState.UP)


async def seed_instances(store: SqlStore) -> None:
    """The base VM (no lease: outside the pool's ranges) and the autoscaled one with its lease."""
    now = datetime.now(UTC)

    def txn(uow: Any) -> None:
        uow.instances.save(
            Instance(
                group="web",
                vm_name=BASE[0],
                address=IPv4Address(BASE[1]),
                state=InstanceState.IN_SERVICE,
                protected=True,
                base=True,
                created_at=now - timedelta(days=1),
            )
        )
        uow.instances.save(
            Instance(
                group="web",
                vm_name=VICTIM[0],
                address=IPv4Address(VICTIM[1]),
                state=InstanceState.IN_SERVICE,
                activity_id="act-earlier",
                created_at=now - timedelta(hours=1),
            )
        )
        uow.ip_pools.save_lease(
            IpLease(
                pool="lab",
                address=IPv4Address(VICTIM[1]),
                group="web",
                vm_name=VICTIM[0],
                activity_id="act-earlier",
                state=LeaseState.CONFIRMED,
                updated_at=now - timedelta(hours=1),
            )
        )

    await store.transaction(txn)


@pytest.mark.parametrize("kill_at", [k[1] for k in KILL_POINTS], ids=[k[0] for k in KILL_POINTS])
async def test_a_scaler_killed_during_a_scale_in_resumes_and_leaves_nothing_inconsistent(
    kill_at: str,
    nats_url: str,
    redis_url: str,
    clean_db: str,
    prefix: str,
    tmp_path: Path,
) -> None:
    spec = group_spec("web", min_size=1, max_size=3)
    world = FakeWorld()
    populate(world, spec.pool, spec.prometheus_job, spec.member_port)
    store = SqlStore(make_engine(clean_db))
    await seed(store, [spec], lab_pool())
    await seed_instances(store)
    scaler = ScalerProcess(scaler_env(nats_url, redis_url, clean_db, prefix, tmp_path), tmp_path / "scaler.log")
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
        try:
            reply = await client.request(
                subjects.QUERY_SCALER_SCALE, ManualScale(group="web", delta=-1, actor="crash-test"), timeout=5
            )
            assert reply.decision is not None and reply.decision.allowed, reply
        except RetryableError:
            pass  # the kill may come before the reply; the activity is in the database either way
        await asyncio.wait_for(killed.wait(), timeout=30)
        scaler.start()

        async def ended() -> bool:
            found = await store.transaction(lambda uow: uow.activities.recent("web"))
            return bool(found) and found[0].status.terminal

        await wait_until(ended, timeout=60, what="the activity ending after the restart")
        (activity,) = await store.transaction(lambda uow: uow.activities.recent("web"))
        instances = {i.vm_name: i for i in await store.transaction(lambda uow: uow.instances.all("web"))}
        leases = await store.transaction(lambda uow: uow.ip_pools.leases("lab"))
    finally:
        scaler.stop()
        await client.broker.stop()
        await fake.stop()
        store.dispose()
    assert activity.status == "succeeded", (activity.status, activity.reason)
    assert [t.vm_name for t in activity.tracks] == [VICTIM[0]]
    assert instances[VICTIM[0]].state is InstanceState.TERMINATED
    assert instances[BASE[0]].state is InstanceState.IN_SERVICE
    assert [(lease.vm_name, lease.state) for lease in leases] == [(VICTIM[0], LeaseState.RELEASED)]
    in_service = sorted(name for name, i in instances.items() if i.state is InstanceState.IN_SERVICE)
    assert world.leftovers() == {"vms": in_service, "targets": in_service, "members": in_service}
    assert world.members[(spec.pool, BASE[0])][2] is MemberState.UP
    assert world.vms[BASE[0]].power is PowerState.ON
