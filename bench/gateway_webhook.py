"""Webhook ingest: the gateway as a real process (1 and 4 workers) on real NATS and Redis, and
as two gateway processes (replicas, each on its own port) against one.

Each request is a new alert episode, so every one is de-duplicated in Redis and published to
JetStream. A raw asyncio HTTP/1.1 client (keep-alive, many connections) drives it for a few
seconds; the baseline is ``GET /healthz`` on the same server in the same run, so the printed
ratios cancel out machine noise. With two processes the client's connections alternate between
their ports (a balancer's round robin), and the replica ratio is the webhook's throughput with
two processes over that with one, both measured in this run. Afterwards the stream must hold
exactly one event per accepted request (none lost).

``python -m bench.gateway_webhook`` runs 1 worker, 4 workers and the replica comparison;
``python -m bench.gateway_webhook replicas`` only the comparison.

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
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import nats
from faststream.nats import NatsRouter

from shared import subjects
from shared.bus import Topology, build_broker
from shared.embedded import free_port, wait_port
from shared.messages import GroupStatusQuery, GroupStatusReply
from testkit.servers import delete_streams

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


async def _worker(
    port: int,
    make_request: Callable[[int], bytes],
    deadline: float,
    latencies: list[float],
    errors: list[int],
    counter: Iterator[int],
) -> None:
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


async def _load(port: int | Sequence[int], make_request: Callable[[int], bytes]) -> dict[str, float]:
    """Drive ``port`` (or the ports in turn, one per connection) for ``DURATION_S``."""
    import itertools

    ports = [port] if isinstance(port, int) else list(port)

    latencies: list[float] = []
    errors: list[int] = []
    counter = itertools.count()
    started = time.perf_counter()
    deadline = started + DURATION_S
    await asyncio.gather(
        *(
            _worker(ports[index % len(ports)], make_request, deadline, latencies, errors, counter)
            for index in range(CONNECTIONS)
        )
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


def _webhook(prefix: str) -> Callable[[int], bytes]:
    def make(n: int) -> bytes:
        body = _body(n)
        return (
            f"POST /api/webhook/autoscale/web HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    return make


def _start_gateway(prefix: str, port: int, workers: int, state: Path) -> subprocess.Popen[bytes]:
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
    return subprocess.Popen(
        [sys.executable, "-m", "services.gateway"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def _run(workers: int, processes: int = 1) -> dict[str, float]:
    """Measure ``processes`` gateway processes of ``workers`` workers each (one database, one
    Redis, one prefix: replicas); print the figures and return the webhook's."""
    prefix = "bench" + uuid.uuid4().hex[:8]
    bus = build_broker(NATS_URL, client_name="bench-scaler", topology=Topology(prefix))
    router = NatsRouter()

    @bus.responder(router, subjects.QUERY_SCALER_GROUP_STATUS, "scaler")
    async def group_status(query: GroupStatusQuery) -> GroupStatusReply:
        return GroupStatusReply(group=query.group, exists=True, enabled=True)

    bus.broker.include_router(router)
    await bus.connect()
    await bus.broker.start()
    state = Path(tempfile.mkdtemp(prefix="vmscale-bench-"))
    ports = [free_port() for _ in range(processes)]
    started: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:  # one after the other: the first migrates the shared database
            started.append(_start_gateway(prefix, port, workers, state))
            await asyncio.to_thread(wait_port, "127.0.0.1", port, 60.0)
        await asyncio.sleep(1.0 + workers)
        await _load(ports, _healthz)  # warm-up
        baseline = await _load(ports, _healthz)
        webhook = await _load(ports, _webhook(prefix))
        await asyncio.sleep(1.0)
        nc = await nats.connect(NATS_URL)
        try:
            info = await nc.jetstream().stream_info(f"{prefix}_VMSCALE_EVENTS")
            stored = int(info.state.messages)
        finally:
            await nc.close()
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(15)
        await bus.broker.stop()
        await delete_streams(NATS_URL, prefix)
    accepted = webhook["requests"] - webhook["errors"]
    print(f"processes={processes} workers={workers} connections={CONNECTIONS} duration={DURATION_S:.0f}s")
    for name, r in (("GET /healthz (baseline)", baseline), ("POST webhook", webhook)):
        print(
            f"  {name:24s} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms"
            f"  errors {r['errors']}"
        )
    print(f"  webhook/baseline throughput ratio: {webhook['rps'] / baseline['rps']:.2f}")
    print(f"  accepted {accepted}, stored in JetStream {stored}: {'none lost' if stored == accepted else 'LOST'}")
    target = webhook["rps"] >= 1500 and webhook["p99_ms"] <= 50
    print(f"  target >= 1500 req/s at p99 <= 50 ms: {'met' if target else 'not met'}")
    return webhook


async def _replicas() -> None:
    """One gateway process against two behind the same NATS, Redis and database, in alternating
    rounds (``BENCH_ROUNDS``, 2) of the same run, so a change of the machine's load hits both."""
    ones: list[float] = []
    twos: list[float] = []
    for _ in range(int(os.environ.get("BENCH_ROUNDS", "2"))):
        ones.append((await _run(1, processes=1))["rps"])
        twos.append((await _run(1, processes=2))["rps"])
    rounds = ", ".join(f"{two / one:.2f}" for one, two in zip(ones, twos, strict=True))
    print(
        f"replicas: webhook {sum(twos) / len(twos):.0f} req/s with two gateway processes,"
        f" {sum(ones) / len(ones):.0f} with one: ratio {sum(twos) / sum(ones):.2f}"
        f" (per round {rounds}; cores: {os.cpu_count()}, load generator in this process)"
    )


async def main() -> None:
    """Measure with 1 and 4 workers, then two gateway processes against one."""
    if sys.argv[1:] == ["replicas"]:
        await _replicas()
        return
    for workers in (1, 4):
        await _run(workers)
    await _replicas()


if __name__ == "__main__":
    asyncio.run(main())
