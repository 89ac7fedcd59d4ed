"""Benchmarks of the loadbalancer drivers: membership churn and a loss-free drain.

python -m bench.loadbalancer [--members 500] [--connections 100]

1. Add then remove N members with the in-memory fake (the baseline), real HAProxy (runtime
   API + config persistence) and the F5 simulator (iControl REST over loopback HTTP); prints
   operations per second and each driver's ratio to the baseline measured in this run.
2. Opens C slow requests through HAProxy to one member, adds a second member, drains the
   first through the service's ``Membership`` use case and counts requests that did not
   complete with 200 (expected: none), plus the drain time and final connection count.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from lab.config import LabConfig
from lab.loadbalancer import LAB_CHECK, LAB_POOL, F5Paths, HAProxyPaths, f5sim_part, haproxy_part
from lab.runner import Lab
from services.loadbalancer.adapters.f5 import F5Pools
from services.loadbalancer.adapters.f5_session import F5Session
from services.loadbalancer.adapters.haproxy import HAProxyPools
from services.loadbalancer.adapters.haproxy_config import ConfigFile
from services.loadbalancer.adapters.haproxy_runtime import RuntimeClient
from services.loadbalancer.membership import Membership, Timings
from services.loadbalancer.ports import PoolMembers
from shared import subjects
from shared.embedded import free_port
from shared.messages import AddPoolMember, DrainPoolMember, MemberHealth
from testkit.loadbalancer.memory import InMemoryPools, InMemoryRecords


async def churn(driver: PoolMembers, pool: str, count: int) -> float:
    """Add then remove ``count`` members; operations per second."""
    started = time.perf_counter()
    for i in range(count):
        await driver.add(pool, f"bench-{i}", f"127.0.{20 + i // 250}.{i % 250 + 1}", 20000 + i)
    for i in range(count):
        await driver.remove(pool, f"bench-{i}")
    return 2 * count / (time.perf_counter() - started)


class SlowApp:
    """An HTTP backend whose ``/slow`` answers after ``delay`` seconds."""

    def __init__(self, name: str, address: str, delay: float) -> None:
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                if self.path.startswith("/slow"):
                    time.sleep(delay)
                body = name.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

            def handle_error(self, request: Any, client_address: Any) -> None:
                return

        self.server = Server((address, 0), Handler)
        self.name, self.address, self.port = name, address, int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        del app

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


class Sink:
    """Keeps published events."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    async def publish(self, subject: Any, message: Any) -> None:
        self.events.append((subject.name, message))


async def drain_bench(haproxy: HAProxyPools, frontend: str, connections: int) -> dict[str, Any]:
    """C slow requests on member A; drain A while they run; count failures."""
    a, b = SlowApp("bench-a", "127.0.10.31", 3.0), SlowApp("bench-b", "127.0.10.32", 0.0)
    sink = Sink()
    membership = Membership(haproxy, InMemoryRecords(), sink, Timings(health_poll_s=0.1, drain_poll_s=0.1))
    try:
        await membership.add(AddPoolMember(pool=LAB_POOL, name=a.name, address=a.address, port=a.port, timeout_s=10))
        await membership.wait_idle()
        limits = httpx.Limits(max_connections=connections + 10)
        async with httpx.AsyncClient(base_url=frontend, timeout=30, limits=limits) as client:
            slow = [asyncio.create_task(client.get("/slow")) for _ in range(connections)]
            await asyncio.sleep(0.5)
            held = next(m for m in await haproxy.members(LAB_POOL) if m.name == a.name).connections
            await membership.add(
                AddPoolMember(pool=LAB_POOL, name=b.name, address=b.address, port=b.port, timeout_s=10)
            )
            await membership.wait_idle()
            await membership.drain(DrainPoolMember(pool=LAB_POOL, name=a.name, timeout_s=30))
            at_drain = next(m for m in await haproxy.members(LAB_POOL) if m.name == a.name).connections
            during = [(await client.get("/")).text for _ in range(20)]
            await membership.wait_idle()
            results = await asyncio.gather(*slow, return_exceptions=True)
        ok = sum(1 for r in results if isinstance(r, httpx.Response) and r.status_code == 200 and r.text == a.name)
        [drained] = [m for s, m in sink.events if s == subjects.POOL_MEMBER_DRAINED.name]
        return {
            "connections_held": held,
            "connections_when_drain_started": at_drain,
            "completed": ok,
            "dropped": connections - ok,
            "new_requests_to_drained_member": sum(1 for text in during if text == a.name),
            "drain_seconds": drained.drain_seconds,
            "final_connections": drained.final_connections,
        }
    finally:
        a.stop()
        b.stop()


async def run(members: int, connections: int) -> None:
    """Start HAProxy and the F5 simulator in a scratch lab, run both benchmarks, print figures."""
    with tempfile.TemporaryDirectory() as scratch:
        lab_dir = Path(scratch)
        f5_port = free_port()
        config = LabConfig(
            lab_dir=lab_dir, haproxy_frontend_port=free_port(), haproxy_stats_port=free_port(), f5_port=f5_port
        )
        parts = [haproxy_part(config), f5sim_part(config)]
        lab = Lab(lab_dir, parts)
        lab.up()
        try:
            memory = InMemoryPools([LAB_POOL], health=lambda address, port: MemberHealth.UP)
            baseline = await churn(memory, LAB_POOL, members)
            paths = HAProxyPaths(lab.part_dir(parts[0]))
            haproxy = HAProxyPools(
                RuntimeClient(str(paths.socket)), ConfigFile(paths.config), check_options="check inter 10s"
            )
            haproxy_rate = await churn(haproxy, LAB_POOL, members)
            password = F5Paths(lab.part_dir(parts[1])).password_file.read_text().strip()
            async with httpx.AsyncClient(timeout=10) as client:
                await client.post(
                    f"http://127.0.0.1:{f5_port}/mgmt/tm/ltm/pool", json={"name": "bench"}, auth=("admin", password)
                )
                session = F5Session(client, [f"http://127.0.0.1:{f5_port}"], "admin", password)
                f5_rate = await churn(F5Pools(session), "bench", members)
                await session.aclose()
            print(f"membership churn: add then remove {members} members (operations per second)")
            print(f"  in-memory baseline : {baseline:12.1f} ops/s  (ratio 1.0)")
            print(f"  HAProxy runtime API: {haproxy_rate:12.1f} ops/s  (ratio {haproxy_rate / baseline:.5f})")
            print(f"  F5 simulator (REST): {f5_rate:12.1f} ops/s  (ratio {f5_rate / baseline:.5f})")
            print(f"  F5 / HAProxy       : {f5_rate / haproxy_rate:.3f}")
            frontend = f"http://127.0.0.1:{config.haproxy_frontend_port}"
            checked = HAProxyPools(RuntimeClient(str(paths.socket)), ConfigFile(paths.config), check_options=LAB_CHECK)
            figures = await drain_bench(checked, frontend, connections)
            print(f"drain through HAProxy with {connections} open requests:")
            for key, value in figures.items():
                print(f"  {key:32}: {value}")
        finally:
            lab.down()


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(prog="python -m bench.loadbalancer")
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--connections", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(run(args.members, args.connections))


if __name__ == "__main__":
    main()
