"""The real scaler process's /metrics after a scale-out and a rolled-back one (real NATS, Redis,
PostgreSQL; the fake world plays the other services on the bus): the families carry the right
counts, and ``promtool check metrics`` accepts the exposition."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.scaler.adapters.sql import SqlStore
from shared import subjects
from shared.db import make_engine
from shared.embedded import free_port
from shared.errors import RetryableError
from shared.messages import AlertFired, GroupStatusQuery, utcnow
from testkit.promtool import lint_metrics
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

ADDRESSES = ("127.0.10.30", "127.0.10.31")


@pytest.fixture
async def app_port() -> AsyncIterator[int]:
    """The application's health path, served on every address the pool hands out."""
    async with health_servers(ADDRESSES) as port:
        yield port


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_a_scale_out_and_a_rolled_back_one_are_counted_on_the_scalers_metrics(
    nats_url: str, redis_url: str, clean_db: str, prefix: str, app_port: int, tmp_path: Path
) -> None:
    world = FakeWorld()
    store = SqlStore(make_engine(clean_db))
    await seed(
        store,
        [group_spec("web", member_port=app_port, scale_out_cooldown_s=0)],
        lab_pool(*ADDRESSES),
        at_min=True,
    )
    metrics_port = free_port()
    env = {**scaler_env(nats_url, redis_url, clean_db, prefix, tmp_path), "METRICS_PORT": str(metrics_port)}
    env["CAPACITY_METRICS_INTERVAL_S"] = "0.2"
    env["FAILURE_BACKOFF_S"] = "0"
    scaler = ScalerProcess(env, tmp_path / "scaler.log")
    fake = await start_world(nats_url, prefix, world)
    client = make_bus(nats_url, prefix, "gateway")
    await client.broker.start()

    async def answering() -> bool:
        try:
            await client.request(subjects.QUERY_SCALER_GROUP_STATUS, GroupStatusQuery(group="web"), timeout=0.5)
        except RetryableError:
            return False
        return True

    async def scrape() -> str:
        async with httpx.AsyncClient(trust_env=False) as http:
            return (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text

    async def ended(count: int) -> bool:
        found = await store.transaction(lambda uow: uow.activities.recent("web"))
        return len(found) >= count and all(a.status.terminal for a in found)

    try:
        scaler.start()
        await wait_until(answering, timeout=30, what="the scaler answering")
        for number, fail in enumerate((False, True), start=1):
            if fail:
                world.fail("register", times=10)
            # One alert, one activity: an alert arriving while the loop evaluates the group waits
            # for the loop's lease and is decided (it is not answered "in progress").
            alert = AlertFired(
                group="web", alertname="web_HighResourceUsage", fingerprint=f"f{number}", starts_at=utcnow()
            )
            await client.publish(subjects.ALERT_FIRED, alert)
            await wait_until(lambda n=number: ended(n), timeout=60, what=f"activity {number}")  # type: ignore[misc]

        # The group and pool gauges are a snapshot of the tables: wait for one whose read began
        # after both activities were seen ended (an older one may still count the rolled-back VM).
        both_ended = time.time()

        async def gauges_read() -> bool:
            stamp = samples(await scrape()).get(("vmscale_capacity_snapshot_timestamp_seconds", ()))
            return stamp is not None and stamp > both_ended

        await wait_until(gauges_read, timeout=20, what="a capacity snapshot read after the activities ended")
        text = await scrape()
        decided = await store.transaction(lambda uow: uow.decisions.find("web", allowed=True))
    finally:
        scaler.stop()
        await client.broker.stop()
        await fake.stop()
        store.dispose()
    found = samples(text)
    out = (("direction", "out"), ("group", "web"), ("reason", "allowed"))
    allowed = [(d.trigger, d.delta, d.reason, d.message) for d in decided]
    # on a failure, every sample of the families below and the decisions are printed
    shown = ("vmscale_decision", "vmscale_activit", "vmscale_group_size", "vmscale_ip_pool", "vmscale_bus_published")
    context = ({k: v for k, v in found.items() if k[0].startswith(shown)}, allowed)
    assert found.get(("vmscale_decisions_total", out)) == 2.0, context
    for outcome in ("succeeded", "rolled_back"):
        labels = (("group", "web"), ("kind", "scale_out"), ("outcome", outcome))
        assert found.get(("vmscale_activities_total", labels)) == 1.0, (outcome, context)
    # each alert that led to a decision (one the loop decides instead is not an alert's latency)
    assert found.get(("vmscale_decision_latency_seconds_count", ()), 0.0) >= 1.0, context
    assert found.get(("vmscale_group_size", (("group", "web"),))) == 2.0, context  # min 1 + the one that succeeded
    assert found.get(("vmscale_ip_pool_free_addresses", (("pool", "lab"),))) == 1.0, context
    assert found.get(("vmscale_dependency_up", (("dependency", "redis"), ("service", "scaler")))) == 1.0, context
    assert found.get(("vmscale_bus_published_total", (("subject", subjects.CMD_VM_CLONE.name),))) == 2.0, context
    assert await asyncio.to_thread(lint_metrics, text) is None
