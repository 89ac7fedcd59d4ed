"""Bus cost: a JetStream command round trip (publish with ack → durable consumer → ack) against
core NATS request/reply on the same server, in the same process.

Prints medians and p99 and the ratio JetStream / core, so machine noise cancels out.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid

from faststream.nats import NatsRouter

from shared import subjects
from shared.bus import Topology, build_broker
from shared.messages import HealthQuery, HealthReply, PowerOnVm
from testkit.servers import delete_streams

N = int(os.environ.get("BENCH_N", "300"))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    """Measure and print."""
    url = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
    prefix = "bench" + uuid.uuid4().hex[:8]
    bus = build_broker(url, client_name="bench", topology=Topology(prefix))
    router = NatsRouter()
    arrived: asyncio.Queue[float] = asyncio.Queue()

    @bus.consumer(router, subjects.CMD_VM_POWER_ON, "bench")
    async def on_command(cmd: PowerOnVm) -> None:
        await arrived.put(time.perf_counter())

    @bus.responder(router, subjects.health_query("inventory"), "bench")
    async def on_query(query: HealthQuery) -> HealthReply:
        return HealthReply(service="bench", healthy=True)

    bus.broker.include_router(router)
    await bus.connect()
    await bus.broker.start()
    try:
        js_times, core_times = [], []
        for _ in range(N):
            started = time.perf_counter()
            await bus.publish(subjects.CMD_VM_POWER_ON, PowerOnVm(activity_id="bench", vm_name="vm-1"))
            js_times.append((await arrived.get()) - started)
            started = time.perf_counter()
            await bus.request(subjects.health_query("inventory"), HealthQuery())
            core_times.append(time.perf_counter() - started)
    finally:
        await bus.broker.stop()
        await delete_streams(url, prefix)
    js_median, core_median = statistics.median(js_times), statistics.median(core_times)
    print(f"n={N}")
    print(f"core request/reply      p50 {core_median * 1e3:7.2f} ms  p99 {_pct(core_times, 0.99) * 1e3:7.2f} ms")
    print(f"JetStream cmd → handler p50 {js_median * 1e3:7.2f} ms  p99 {_pct(js_times, 0.99) * 1e3:7.2f} ms")
    print(f"ratio JetStream/core (p50): {js_median / core_median:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
