"""Webhook ingest: the gateway as a real process (1 and 4 workers) on real NATS and Redis.

Each request is a new alert episode, so every one is de-duplicated in Redis and published to
JetStream. A raw asyncio HTTP/1.1 client (keep-alive, many connections) drives it for a few
seconds; the baseline is ``GET /healthz`` on the same server in the same run, so the printed
ratios cancel out machine noise. Afterwards the stream must hold exactly one event per accepted
request (none lost).

Target (issue 7): >= 1,500 requests/s at p99 <= 50 ms on a 2-core machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nats
from faststream.nats import NatsRouter

from shared import subjects
from shared.bus import Topology, build_broker
from shared.messages import GroupStatusQuery, GroupStatusReply
from shared.testing.servers import delete_streams, free_port, wait_port

DURATION_S = float(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
TOKEN = "bench-" + uuid.uuid4().hex
NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def _body(n: int) -> bytes:
    alert = {
        "status": "firing",
        "labels": {"alertname": "web_HighResourceUsage", "service": "web"},
        "annotations": {},
        "startsAt": "2026-01-01T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": f"{n:016x}",
    }
    return json.dumps({"version": "4", "status": "firing", "receiver": "web", "alerts": [alert]}).encode()


async def _worker(port: int, make_request, deadline: float, latencies: list[float], errors: list[int], counter) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            request = make_request(next(counter))
            started = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            status = int(status_line.split()[1])
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def _load(port: int, make_request) -> dict[str, float]:
    import itertools

    latencies: list[float] = []
    errors: list[int] = []
    counter = itertools.count()
    started = time.perf_counter()
    deadline = started + DURATION_S
    await asyncio.gather(
        *(_worker(port, make_request, deadline, latencies, errors, counter) for _ in range(CONNECTIONS))
    )
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": ordered[len(ordered) // 2] * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "errors": len(errors),
    }


def _healthz(_: int) -> bytes:
    return b"GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n"


def _webhook(prefix: str):
    def make(n: int) -> bytes:
        body = _body(n)
        return (
            f"POST /api/webhook/autoscale/web HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    return make


async def _run(workers: int) -> None:
    prefix = "bench" + uuid.uuid4().hex[:8]
    bus = build_broker(NATS_URL, client_name="bench-scaler", topology=Topology(prefix))
    router = NatsRouter()

    @bus.responder(router, subjects.QUERY_SCALER_GROUP_STATUS, "scaler")
    async def group_status(query: GroupStatusQuery) -> GroupStatusReply:
        return GroupStatusReply(group=query.group, exists=True, enabled=True)

    bus.broker.include_router(router)
    await bus.connect()
    await bus.broker.start()
    port = free_port()
    state = Path(tempfile.mkdtemp(prefix="vmscale-bench-"))
    env = {
        **os.environ,
        "NATS_URL": NATS_URL,
        "REDIS_URL": REDIS_URL,
        "SUBJECT_PREFIX": prefix,
        "STATE_DIR": str(state),
        "HTTP_PORT": str(port),
        "HTTP_WORKERS": str(workers),
        "WEBHOOK_TOKEN": TOKEN,
        "WEBHOOK_RATE_PER_MIN": "10000000",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, before the measurement
        [sys.executable, "-m", "services.gateway"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        await asyncio.to_thread(wait_port, "127.0.0.1", port, 60.0)
        await asyncio.sleep(1.0 + workers)
        await _load(port, _healthz)  # warm-up
        baseline = await _load(port, _healthz)
        webhook = await _load(port, _webhook(prefix))
        await asyncio.sleep(1.0)
        nc = await nats.connect(NATS_URL)
        try:
            info = await nc.jetstream().stream_info(f"{prefix}_VMSCALE_EVENTS")
            stored = int(info.state.messages)
        finally:
            await nc.close()
    finally:
        process.terminate()
        process.wait(15)
        await bus.broker.stop()
        await delete_streams(NATS_URL, prefix)
    accepted = webhook["requests"] - webhook["errors"]
    print(f"workers={workers} connections={CONNECTIONS} duration={DURATION_S:.0f}s")
    for name, r in (("GET /healthz (baseline)", baseline), ("POST webhook", webhook)):
        print(
            f"  {name:24s} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms"
            f"  errors {r['errors']}"
        )
    print(f"  webhook/baseline throughput ratio: {webhook['rps'] / baseline['rps']:.2f}")
    print(f"  accepted {accepted}, stored in JetStream {stored}: {'none lost' if stored == accepted else 'LOST'}")
    target = webhook["rps"] >= 1500 and webhook["p99_ms"] <= 50
    print(f"  target >= 1500 req/s at p99 <= 50 ms: {'met' if target else 'not met'}")


async def main() -> None:
    """Measure with 1 and 4 workers."""
    for workers in (1, 4):
        await _run(workers)


if __name__ == "__main__":
    asyncio.run(main())
