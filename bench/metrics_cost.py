"""The cost of vmscale's own metrics on its hot paths, as ratios measured in one run.

1. Webhook requests per second: the gateway as a real process on real NATS and Redis (one
   worker, access log off in both), with the HTTP metrics middleware on and off
   (``HTTP_METRICS``), alternated twice so a drift of the machine falls on both sides.
2. Decision latency: the scaler's ``on_alert_fired`` → decision recorded and first command
   published, over the in-memory ports, one alert per group, with the metrics observer
   (``ScalerMetrics.observe`` on every published event, and the latency histogram) on and off.

Target (issue 16): each ratio (on against off) >= 0.95.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from faststream.nats import NatsRouter
from prometheus_client import CollectorRegistry

from bench.gateway_webhook import NATS_URL, REDIS_URL, TOKEN, _load, _webhook
from bench.scaler import alert, seed
from services.scaler.activities import EngineConfig
from services.scaler.metrics import ScalerMetrics
from services.scaler.service import Ports, Scaler
from shared import subjects
from shared.bus import Topology, build_broker
from shared.clock import SystemClock
from shared.embedded import free_port, wait_port
from shared.messages import GroupStatusQuery, GroupStatusReply
from testkit.scaler.memory import (
    MemoryHealthProbe,
    MemoryHooks,
    MemoryLease,
    MemoryMetrics,
    MemoryResourceChecker,
    RecordingPublisher,
)
from testkit.scaler.memory_store import MemoryStore
from testkit.servers import delete_streams

GROUPS = int(os.environ.get("BENCH_GROUPS", "300"))


async def webhook_rps(http_metrics: bool, extra_env: dict[str, str] | None = None) -> float:
    """Webhook requests per second of one gateway process (``extra_env`` laid over its settings)."""
    prefix = "benchm" + uuid.uuid4().hex[:8]
    bus = build_broker(NATS_URL, client_name="bench-scaler", topology=Topology(prefix))
    router = NatsRouter()

    @bus.responder(router, subjects.QUERY_SCALER_GROUP_STATUS, "scaler")
    async def group_status(query: GroupStatusQuery) -> GroupStatusReply:
        return GroupStatusReply(group=query.group, exists=True, enabled=True)

    bus.broker.include_router(router)
    await bus.connect()
    await bus.broker.start()
    port = free_port()
    env = {
        **os.environ,
        "NATS_URL": NATS_URL,
        "REDIS_URL": REDIS_URL,
        "SUBJECT_PREFIX": prefix,
        "STATE_DIR": tempfile.mkdtemp(prefix="vmscale-bench-"),
        "HTTP_PORT": str(port),
        "HTTP_WORKERS": "1",
        "WEBHOOK_TOKEN": TOKEN,
        "WEBHOOK_RATE_PER_MIN": "10000000",
        "LOG_LEVEL": "WARNING",
        "ACCESS_LOG": "false",
        "HTTP_METRICS": "true" if http_metrics else "false",
        **(extra_env or {}),
    }
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, before the measurement
        [sys.executable, "-m", "services.gateway"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        await asyncio.to_thread(wait_port, "127.0.0.1", port, 60.0)
        await asyncio.sleep(2.0)
        await _load(port, _webhook(prefix))  # warm-up
        result = await _load(port, _webhook(prefix))
    finally:
        process.terminate()
        process.wait(15)
        await bus.broker.stop()
        await delete_streams(NATS_URL, prefix)
    if result["errors"]:
        raise RuntimeError(f"{result['errors']} webhook requests failed")
    return float(result["rps"])


async def decision_latencies(observed: bool) -> list[float]:
    """Seconds per alert decision (stored and its commands published), in memory."""
    clock = SystemClock()
    store = MemoryStore(clock)
    publisher = RecordingPublisher()
    metrics = ScalerMetrics(CollectorRegistry()) if observed else None
    if metrics is not None:
        publisher.listeners.append(metrics.observe)
    ports = Ports(
        store,
        MemoryLease(clock),
        MemoryMetrics(),
        MemoryHealthProbe(lambda url: True),
        MemoryHooks(),
        MemoryResourceChecker(),
        publisher,
        clock,
    )
    scaler = Scaler(ports, owner="bench", engine=EngineConfig(owner="bench"))
    names = [f"g{i:04d}" for i in range(GROUPS)]
    await seed(store, names)
    for name in names:
        ports.metrics.set(name, cpu=95, memory=50)  # type: ignore[attr-defined]
    latencies = []
    for name in names:
        event = alert(name)
        started = time.perf_counter()
        decision = await scaler.triggers.on_alert_fired(event)
        if metrics is not None and decision is not None:
            metrics.decided(event, clock.now())
        latencies.append(time.perf_counter() - started)
    return latencies


async def main() -> None:
    """Measure both hot paths with metrics on and off; print the ratios."""
    rps: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(2):
        for on in (True, False):
            rps[on].append(await webhook_rps(on))
    on_rps, off_rps = statistics.mean(rps[True]), statistics.mean(rps[False])
    print(f"webhook, 1 worker: metrics on {on_rps:7.0f} req/s, off {off_rps:7.0f} req/s")
    print(f"  throughput ratio on/off: {on_rps / off_rps:.3f}")
    means: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(3):
        for on in (True, False):
            means[on].append(statistics.mean(await decision_latencies(on)))
    on_ms, off_ms = min(means[True]) * 1000, min(means[False]) * 1000
    print(f"decision latency, {GROUPS} groups in memory: metrics on {on_ms:.3f} ms, off {off_ms:.3f} ms")
    print(f"  latency ratio off/on (1.0 = no cost): {off_ms / on_ms:.3f}")
    met = on_rps / off_rps >= 0.95 and off_ms / on_ms >= 0.95
    print(f"target: both ratios >= 0.95: {'met' if met else 'not met'}")


if __name__ == "__main__":
    asyncio.run(main())
