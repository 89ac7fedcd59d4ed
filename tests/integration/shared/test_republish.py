"""A result whose publish hits a NATS outage reaches the stream on the runtime's next re-publish pass."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest

from shared import subjects
from shared.messages import PoolMemberAdded
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings

pytestmark = pytest.mark.usefixtures("js_cleanup")


async def stored(nats_url: str, stream: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        return int((await nc.jetstream().stream_info(stream)).state.messages)
    finally:
        await nc.close()


async def drained(runtime: ServiceRuntime, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while runtime.results.pending:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the re-publish pass did not send the kept result")
        await asyncio.sleep(0.05)


async def test_a_result_published_while_its_stream_is_unavailable_is_stored_by_the_next_pass(
    nats_url: str, prefix: str, tmp_path: Path
) -> None:
    settings = ServiceSettings(nats_url=nats_url, subject_prefix=prefix, state_dir=tmp_path, republish_interval_s=0.2)
    runtime = ServiceRuntime("loadbalancer", settings)
    await runtime.start()
    events = runtime.bus.topology.events.name
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().delete_stream(events)  # the blip: nothing stores events right now
        result = PoolMemberAdded(pool="web", name="web-1", address="127.0.10.31", port=8080, state="up")
        await runtime.results.publish(subjects.POOL_MEMBER_ADDED, result)  # kept, not raised
        assert runtime.results.pending == 1
        await runtime.bus.ensure_streams()  # NATS is back
        await drained(runtime)
        assert await stored(nats_url, events) == 1
        await runtime.results.publish(subjects.POOL_MEMBER_ADDED, result)  # a repeat: same message id
        assert await stored(nats_url, events) == 1
    finally:
        await nc.close()
        await runtime.stop()
