"""A pool result whose publish fails is stored in PostgreSQL and published by the next process.

The loadbalancer stores each result before publishing it (``services.loadbalancer.outbox``).
Here NATS really refuses the publish (the events stream is deleted), the process stops with the
result stored, and a new process over the same database publishes it at start: the scaler's
JetStream consumer gets it once per message id, also when it is published again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.msg import Msg

from lab.loadbalancer import LAB_CHECK, LAB_POOL
from services.loadbalancer.adapters.sql_results import SqlResults
from services.loadbalancer.app import create_app
from services.loadbalancer.outbox import ResultOutbox
from services.loadbalancer.settings import LoadbalancerSettings
from shared import subjects
from shared.bus import Bus, DeadLetterPolicy, Topology, build_broker
from shared.db import make_engine, upgrade
from shared.messages import AddPoolMember, PoolMemberRemoved
from shared.runtime import ServiceRuntime
from tests.contracts.loadbalancer_results import ResultStoreContract
from tests.integration.loadbalancer.lb_support import Backend, RunningHAProxy

pytestmark = pytest.mark.usefixtures("js_cleanup")


class TestSqlResults(ResultStoreContract):
    @pytest.fixture
    def store(self, postgres_database: str) -> Iterator[SqlResults]:
        upgrade("loadbalancer", postgres_database)
        engine = make_engine(postgres_database)
        yield SqlResults(engine)
        engine.dispose()


@contextlib.asynccontextmanager
async def loadbalancer(settings: LoadbalancerSettings) -> AsyncIterator[ServiceRuntime]:
    """One loadbalancer process: started, consuming, stopped on exit."""
    runtime = ServiceRuntime("loadbalancer", settings)
    create_app(settings, runtime)
    await runtime.start()
    await runtime.bus.broker.start()
    try:
        yield runtime
    finally:
        await runtime.bus.broker.stop()
        await runtime.stop()


async def until(condition: Any, what: str, timeout: float = 15.0) -> None:
    """Wait until ``await condition()`` is true; fail with ``what`` after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(what)


async def test_a_result_stored_when_nats_refused_it_is_published_once_by_the_next_process(
    haproxy: RunningHAProxy,
    backends: tuple[Backend, Backend],
    nats_url: str,
    prefix: str,
    postgres_database: str,
    tmp_path: Path,
) -> None:
    settings = LoadbalancerSettings(
        nats_url=nats_url,
        subject_prefix=prefix,
        state_dir=tmp_path,
        database_url=postgres_database,
        metrics_port=0,
        health_poll_s=0.1,
        reconcile_interval_s=0,
        republish_interval_s=0.2,
        lb_driver="haproxy",
        haproxy_runtime=str(haproxy.paths.socket),
        haproxy_config=haproxy.paths.config,
        haproxy_check=LAB_CHECK,
    )
    topology = Topology(prefix)
    scaler: Bus = build_broker(nats_url, client_name="scaler", topology=topology, policy=DeadLetterPolicy())
    await scaler.connect()
    nc = await nats.connect(nats_url)
    engine = make_engine(postgres_database)
    stored = SqlResults(engine)
    received: list[Msg] = []

    async def collect(msg: Msg) -> None:
        received.append(msg)

    def ids_of(subject_name: str) -> list[str]:
        wire = topology.subject(subject_name)
        return [msg.headers["Nats-Msg-Id"] for msg in received if msg.subject == wire and msg.headers]

    try:
        app = backends[0]
        async with loadbalancer(settings):
            await nc.jetstream().delete_stream(topology.events.name)  # NATS now refuses every result
            command = AddPoolMember(pool=LAB_POOL, name="vm-kept", address=app.address, port=app.port)
            await scaler.publish(subjects.CMD_POOL_ADD, command)

            async def kept() -> bool:
                return subjects.POOL_MEMBER_ADDED.name in [r.subject for r in await stored.pending()]

            await until(kept, "the failed pool.member_added was not stored")
        # the first process is gone (as after a crash) with its result stored, unpublished
        kept_ids = [r.message_id for r in await stored.pending()]
        assert kept_ids
        await scaler.ensure_streams()  # NATS takes events again; the scaler listens
        events = topology.events.name
        await nc.jetstream().subscribe(topology.subject("pool.>"), stream=events, cb=collect, ordered_consumer=True)

        async with loadbalancer(settings) as second:
            assert await stored.pending() == []  # published by the start hook, before consumers ran

            async def delivered() -> bool:
                return len(ids_of(subjects.POOL_MEMBER_ADDED.name)) >= 1

            await until(delivered, "pool.member_added never reached the scaler")
            added = subjects.POOL_MEMBER_ADDED.model.model_validate_json(
                next(m.data for m in received if m.subject == topology.subject(subjects.POOL_MEMBER_ADDED))
            )
            assert added.name == "vm-kept"
            assert str(added.causation_id) == str(command.message_id)

            # published again (a second process, a pass racing a late ack): JetStream keeps one
            again = ResultOutbox(stored, second.bus.publish)
            await again.publish(subjects.POOL_MEMBER_ADDED, added)
            sentinel = PoolMemberRemoved(pool=LAB_POOL, name="sentinel")
            await scaler.publish(subjects.POOL_MEMBER_REMOVED, sentinel)

            async def sentinel_seen() -> bool:
                return str(sentinel.message_id) in ids_of(subjects.POOL_MEMBER_REMOVED.name)

            await until(sentinel_seen, "the sentinel never arrived")  # the consumer is in stream order
        every_id = [msg.headers["Nats-Msg-Id"] for msg in received if msg.headers]
        assert sorted(set(every_id)) == sorted(every_id), every_id
        assert ids_of(subjects.POOL_MEMBER_ADDED.name) == [str(added.message_id)]
        assert set(kept_ids) <= set(every_id)
        assert await stored.pending() == []
    finally:
        await nc.close()
        await scaler.broker.stop()
        engine.dispose()
