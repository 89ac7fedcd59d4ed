"""The ping check by TCP connect, on loopback only: a test listener makes 127.0.66.10 answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.scaler.adapters.ping import TcpAddressProbe
from services.scaler.adapters.sql import SqlStore
from services.scaler.domain import IpPool
from shared import subjects
from shared.db import make_engine
from shared.messages import AlertFired, utcnow
from testkit.scaler.fake_world import FakeWorld
from tests.contracts.scaler_address_probe import AddressProbeContract
from tests.integration.scaler.scaler_replica import (
    group_spec,
    make_bus,
    seed,
    start_replica,
    start_world,
    unique,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("js_cleanup")

TAKEN = "127.0.66.10"


@pytest.fixture
async def listener() -> AsyncIterator[int]:
    """Someone already uses 127.0.66.10: a TCP listener on it (port chosen by the kernel)."""

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(accept, TAKEN, 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


class TestTcpAddressProbe(AddressProbeContract):
    @pytest.fixture
    def probe(self, listener: int) -> TcpAddressProbe:
        return TcpAddressProbe(listener, timeout_s=0.5)


async def test_a_scale_out_skips_the_answering_address_and_records_it(
    listener: int, nats_url: str, redis_url: str, clean_db: str, prefix: str, redis_prefix: str
) -> None:
    world, name = FakeWorld(), unique("ping")
    store = SqlStore(make_engine(clean_db))
    pool = IpPool.model_validate(
        {
            "name": "lab",
            "network": "127.0.66.0/24",
            "ranges": [{"start": TAKEN, "end": "127.0.66.12"}],
            "ping_check": True,
        }
    )
    await seed(store, [group_spec(name)], pool, at_min=True)
    fake = await start_world(nats_url, prefix, world)
    probe = TcpAddressProbe(listener, timeout_s=0.5)
    replica = await start_replica(nats_url, prefix, clean_db, redis_url, redis_prefix, world, "r1", probe)
    replica.metrics.set(name, cpu=95, memory=40)
    gateway = make_bus(nats_url, prefix, "gateway")
    await gateway.broker.start()
    try:
        alert = AlertFired(
            group=name, alertname=f"{name}_HighResourceUsage", fingerprint="f", starts_at=utcnow(), labels={}
        )
        await gateway.publish(subjects.ALERT_FIRED, alert)

        async def done() -> bool:
            found = await store.transaction(lambda uow: uow.activities.recent(name))
            return bool(found) and found[0].status == "succeeded"

        await wait_until(done, what="the scale-out")
        leases = await store.transaction(lambda uow: uow.ip_pools.leases("lab"))
        assert [(str(x.address), x.state) for x in leases] == [("127.0.66.11", "confirmed")]
        decisions = await store.transaction(lambda uow: uow.decisions.find(name, allowed=True))
        # the alert or the loop's own evaluation (whichever took the lease first) scaled out
        (scaled,) = decisions
        assert scaled.observed["ip_in_use"] == [TAKEN]
    finally:
        await gateway.broker.stop()
        await replica.stop()
        await fake.stop()
        store.dispose()
