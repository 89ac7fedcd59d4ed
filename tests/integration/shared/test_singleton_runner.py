"""Two replicas (two owners) of a singleton loop over one PostgreSQL: one runs the work at a time;
the other takes over once the holder stops renewing (it died, or stalled past the TTL)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from services.loadbalancer.adapters.tables import leases as table
from shared.db import make_engine, upgrade
from shared.singleton import Singleton
from shared.singleton_sql import SqlLeases
from tests.integration.shared.lease_replicas import until

TTL_S = 0.6
NAME = "reconcile"


@pytest.fixture
def engine(postgres_database: str) -> Iterator[Engine]:
    upgrade("loadbalancer", postgres_database)
    engine = make_engine(postgres_database)
    yield engine
    engine.dispose()


class Replica:
    """One replica's view of the store; ``die()`` makes it vanish without a word (no release),
    ``stall()`` blocks its store calls (a paused process) until ``resume()``."""

    def __init__(self, engine: Engine, owner: str) -> None:
        self.sql = SqlLeases(engine, table)
        self.owner = owner
        self.dead = False
        self.running = threading.Event()
        self.running.set()
        self.runs: list[tuple[int, bool]] = []
        self.singleton = Singleton(self, NAME, owner, TTL_S)

    def acquire(self, name: str, owner: str, ttl_s: float) -> int | None:
        self.running.wait()
        return self.sql.acquire(name, owner, ttl_s)

    def holds(self, name: str, owner: str, token: int) -> bool:
        self.running.wait()
        return self.sql.holds(name, owner, token)

    def release(self, name: str, owner: str) -> None:
        if not self.dead:
            self.sql.release(name, owner)

    async def work(self) -> None:
        token = self.singleton.token
        assert token is not None
        # what the store says at the moment of the side effect: this replica holds the lease
        self.runs.append((token, await asyncio.to_thread(self.sql.holds, NAME, self.owner, token)))


def _start(replica: Replica) -> asyncio.Task[None]:
    return asyncio.create_task(replica.singleton.every(0.05, replica.work, name="test work"))


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_one_replica_runs_the_work_and_the_other_takes_over_when_it_dies(engine: Engine) -> None:
    a, b = Replica(engine, "replica-a"), Replica(engine, "replica-b")
    task_a = _start(a)
    await until(lambda: len(a.runs) >= 3)
    task_b = _start(b)
    await until(lambda: len(a.runs) >= 3 * TTL_S / 0.05)  # a few TTLs with both replicas up
    assert b.runs == []
    a.dead = True  # the holder's process vanishes: no release, no renewal
    await _stop(task_a)
    await until(lambda: len(b.runs) >= 3)
    await _stop(task_b)
    assert all(held for _, held in a.runs + b.runs)
    assert min(token for token, _ in b.runs) > max(token for token, _ in a.runs)


async def test_a_stalled_holder_stops_its_work_and_the_other_replica_takes_over(engine: Engine) -> None:
    a, b = Replica(engine, "replica-a"), Replica(engine, "replica-b")
    task_a = _start(a)
    await until(lambda: len(a.runs) >= 3)
    task_b = _start(b)
    a.running.clear()  # replica-a pauses past its TTL: its renewal and its next check hang
    await until(lambda: len(b.runs) >= 3)
    runs_before_waking = len(a.runs)
    a.running.set()  # it wakes up: its renewal is refused, its work stops, it never runs again
    await until(lambda: a.singleton.token is None)
    await until(lambda: len(b.runs) >= 3 + 3 * TTL_S / 0.05)
    await _stop(task_a)
    await _stop(task_b)
    assert len(a.runs) == runs_before_waking
    assert all(held for _, held in a.runs + b.runs)


async def test_a_holder_that_stops_cleanly_hands_over_without_waiting_for_the_ttl(engine: Engine) -> None:
    a, b = Replica(engine, "replica-a"), Replica(engine, "replica-b")
    task_a = _start(a)
    await until(lambda: len(a.runs) >= 1)
    task_b = _start(b)
    await _stop(task_a)  # released on the way out
    await until(lambda: len(b.runs) >= 1)
    await _stop(task_b)
    assert SqlLeases(engine, table).acquire(NAME, "replica-c", TTL_S) is not None  # b released too


async def test_a_takeover_runs_the_work_at_once_though_the_loop_waits_after_a_start(engine: Engine) -> None:
    """``wait_first`` lets a starting service settle; the replica taking over a dead holder's
    lease does not wait the interval again (the dead holder's pass is overdue)."""
    a, b = Replica(engine, "replica-a"), Replica(engine, "replica-b")
    hour = 3600.0

    def start(replica: Replica) -> asyncio.Task[None]:
        return asyncio.create_task(replica.singleton.every(hour, replica.work, name="test work", wait_first=True))

    task_a = start(a)
    await until(lambda: a.singleton.token is not None)  # found free: it waits its hour first
    assert not a.singleton.took_over
    task_b = start(b)
    a.dead = True  # the holder vanishes before its first pass
    await _stop(task_a)
    await until(lambda: len(b.runs) >= 1)  # at once after the TTL, not an hour later
    await _stop(task_b)
    assert a.runs == [] and b.singleton.took_over
