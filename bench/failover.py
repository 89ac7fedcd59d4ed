"""Failover time after the lease holder dies, per kind of singleton, against the configured TTL.

python -m bench.failover [--ttl 0.9] [--trials 5] [--sqlite]

Two replicas (two owners) over one database (the tests' PostgreSQL, ``testkit.servers.postgres_server``;
``--sqlite`` uses a SQLite file instead). For each kind the holder runs,
the other waits; then the holder's process "dies" (cancelled without releasing its lease) at a
random moment, and the time until the other replica's first run of the work is measured.

Time is scaled: every kind runs with its default settings divided by the same factor (the
default singleton TTL of 15 s becomes ``--ttl``), so failover is printed in TTLs (the ratio to
the configured TTL, what the code promises) and projected to seconds at the default settings.
The load balancer's health/drain waits are claims, not a singleton loop: every replica's resume
pass (every half the claim TTL) takes over a dead replica's wait once its claim expired.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from services.loadbalancer.adapters.sql import SqlRecords
from services.loadbalancer.adapters.tables import leases as lease_table
from services.loadbalancer.membership import Membership, Timings, WaitClaims
from shared.db import make_engine, upgrade
from shared.loops import every
from shared.messages import AddPoolMember, MemberHealth
from shared.singleton import Singleton
from shared.singleton_sql import SqlLeases
from shared.telemetry import configure_logging
from testkit.loadbalancer.memory import InMemoryPools
from testkit.servers import fresh_database, postgres_server

DEFAULT_TTL_S = 15.0
"""``singleton_ttl_s``'s default: the unit the other defaults are scaled by."""


@dataclass(frozen=True)
class Kind:
    """One kind of singleton work at its default settings (seconds)."""

    name: str
    ttl_s: float
    interval_s: float
    wait_first: bool


KINDS = [
    Kind("scaler reconciliation", DEFAULT_TTL_S, 1.0, False),  # tick_interval_s
    Kind("scaler orphan sweep", DEFAULT_TTL_S, 60.0, True),  # orphan_sweep_s
    Kind("loadbalancer reconcile", DEFAULT_TTL_S, 60.0, True),  # reconcile_interval_s
    Kind("inventory orphan pass", DEFAULT_TTL_S, 15.0, True),  # operation_claim_ttl_s / 2
]
WAIT_CLAIM_TTL_S = 30.0
"""``wait_claim_ttl_s``'s default; the resume pass runs every half of it."""


class Dying(SqlLeases):
    """A replica's leases; once ``dead`` its release never reaches the store (a killed process)."""

    dead = False

    def release(self, name: str, owner: str) -> None:
        if not self.dead:
            super().release(name, owner)


async def _first(event: asyncio.Event) -> float:
    await event.wait()
    return time.monotonic()


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def singleton_failover(engine: Engine, kind: Kind, scale: float, trial: int) -> float:
    """Seconds from the holder's death to the other replica's first run of the work."""
    name = f"{kind.name}-{trial}"
    ran = {"a": asyncio.Event(), "b": asyncio.Event()}
    leases = {"a": Dying(engine, lease_table), "b": Dying(engine, lease_table)}

    def start(who: str) -> asyncio.Task[Any]:
        async def work() -> None:
            ran[who].set()

        lease = Singleton(leases[who], name, f"replica-{who}", kind.ttl_s * scale, log=_Quiet())
        loop = lease.every(kind.interval_s * scale, work, name=name, log=_Quiet(), wait_first=kind.wait_first)
        return asyncio.create_task(_run(loop))

    holder = start("a")
    await ran["a"].wait()
    other = start("b")
    await asyncio.sleep(random.uniform(0, kind.ttl_s * scale))  # the holder dies at any phase
    leases["a"].dead = True
    died = time.monotonic()
    await _cancel(holder)
    took = await _first(ran["b"]) - died
    await _cancel(other)
    return took


async def wait_claim_failover(engine: Engine, scale: float, trial: int) -> float:
    """Seconds from a replica's death to the other replica's start of its health wait."""
    ttl = WAIT_CLAIM_TTL_S * scale
    pools = InMemoryPools(["web"], health=lambda address, port: MemberHealth.DOWN)
    timings = Timings(health_poll_s=0.01)
    sides = {}
    for who in ("a", "b"):
        leases = Dying(engine, lease_table)
        claims = WaitClaims(leases, f"replica-{who}", ttl)
        sides[who] = (leases, Membership(pools, SqlRecords(engine), _Sink(), timings, claims=claims))
    name = f"web-{trial}"
    await sides["a"][1].add(AddPoolMember(pool="web", name=name, address="127.0.10.9", port=8080, timeout_s=3600))
    b = sides["b"][1]
    started = asyncio.Event()

    async def resume_pass() -> None:
        await b.resume()
        if ("web", name) in b.running():
            started.set()

    passes = asyncio.create_task(_run(every(ttl / 2, resume_pass, name="resume", log=_Quiet(), wait_first=True)))
    await asyncio.sleep(random.uniform(0, ttl))
    sides["a"][0].dead = True
    died = time.monotonic()
    await sides["a"][1].close()
    took = await _first(started) - died
    await _cancel(passes)
    await b.close()
    await SqlRecords(engine).delete("web", name)
    return took


async def _run(loop: Awaitable[Any]) -> None:
    await loop


class _Sink:
    async def publish(self, subject: Any, message: Any) -> None:
        return None


class _Quiet:
    """A logger that drops everything (the bench prints its own lines)."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


def _line(label: str, seconds: list[float], ttl_s: float, scale: float) -> None:
    in_ttl = [s / (ttl_s * scale) for s in seconds]
    median = statistics.median(in_ttl)
    print(
        f"{label:<26} TTL {ttl_s:>4g} s  failover in TTLs: min {min(in_ttl):.2f} median {median:.2f} "
        f"max {max(in_ttl):.2f}  -> at defaults: median {median * ttl_s:.1f} s, max {max(in_ttl) * ttl_s:.1f} s"
    )


async def main(ttl: float, trials: int, force_sqlite: bool) -> None:
    configure_logging("bench", "ERROR", "console")
    scale = ttl / DEFAULT_TTL_S
    with contextlib.ExitStack() as stack:
        if force_sqlite:
            db, which = f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory())}/failover.db", "SQLite"
        else:
            db = stack.enter_context(fresh_database(stack.enter_context(postgres_server()), "bench"))
            which = "PostgreSQL"
        upgrade("loadbalancer", db)
        engine = make_engine(db)
        print(f"{which}; time scaled by {scale:.3f} (singleton TTL {DEFAULT_TTL_S:g} s -> {ttl:g} s), {trials} trials")
        for kind in KINDS:
            took = [await singleton_failover(engine, kind, scale, i) for i in range(trials)]
            _line(kind.name, took, kind.ttl_s, scale)
        took = [await wait_claim_failover(engine, scale, i) for i in range(trials)]
        _line("loadbalancer wait claim", took, WAIT_CLAIM_TTL_S, scale)
        engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ttl", type=float, default=0.9, help="the singleton TTL the run uses (default 0.9 s)")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--sqlite", action="store_true", help="use SQLite even when PostgreSQL answers")
    args = parser.parse_args()
    asyncio.run(main(args.ttl, args.trials, args.sqlite))
