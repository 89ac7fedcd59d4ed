"""Two load balancer replicas over one PostgreSQL: a health or drain wait runs on one replica at a
time; a dead replica's wait is resumed by the other once its claim expires, a stalled one stops
its wait when it wakes up; a command handled by the replica that does not hold the wait stops the
holder's wait (or hands it the new one), and its result is published once. Expiry reads a shared
``FakeClock``; renewals run every TTL/3."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from services.loadbalancer.adapters.sql import SqlRecords
from services.loadbalancer.adapters.tables import leases as lease_table
from services.loadbalancer.membership import Membership, Timings, WaitClaims
from services.loadbalancer.records import Desired
from shared import subjects
from shared.db import make_engine, upgrade
from shared.messages import AddPoolMember, CancelDrain, DrainPoolMember, MemberAdmin, MemberHealth, RemovePoolMember
from shared.singleton_sql import SqlLeases
from testkit.clock import FakeClock
from testkit.loadbalancer.memory import InMemoryPools
from tests.contracts.loadbalancer_records import MemberRecordsContract
from tests.integration.shared.lease_replicas import until

POOL, NAME = "web", "web-7"
KEY = (POOL, NAME)
TTL_S = 0.3
FAST = Timings(health_poll_s=0.01, drain_poll_s=0.01)


@pytest.fixture
def engine(postgres_database: str) -> Iterator[Engine]:
    upgrade("loadbalancer", postgres_database)
    engine = make_engine(postgres_database)
    yield engine
    engine.dispose()


class TestSqlRecords(MemberRecordsContract):
    @pytest.fixture
    def records(self, engine: Engine) -> SqlRecords:
        return SqlRecords(engine)


class Replica:
    """One replica: its own ``Membership`` over the shared records, claims and load balancer.
    ``dead`` makes it vanish without releasing anything; ``stalled`` blocks its claim calls."""

    def __init__(self, engine: Engine, owner: str, pools: InMemoryPools, clock: FakeClock) -> None:
        self.sql = SqlLeases(engine, lease_table, clock)
        self.dead = False
        self.awake = threading.Event()
        self.awake.set()
        self.events: list[tuple[str, Any]] = []
        self.membership = Membership(pools, SqlRecords(engine), self, FAST, claims=WaitClaims(self, owner, TTL_S))

    async def publish(self, subject: Any, message: Any) -> None:
        self.events.append((subject.name, message))

    def acquire(self, name: str, owner: str, ttl_s: float) -> int | None:
        self.awake.wait()
        return self.sql.acquire(name, owner, ttl_s)

    def holds(self, name: str, owner: str, token: int) -> bool:
        self.awake.wait()
        return self.sql.holds(name, owner, token)

    def release(self, name: str, owner: str) -> None:
        if not self.dead:
            self.sql.release(name, owner)

    def added(self) -> list[Any]:
        return [m for n, m in self.events if n == subjects.POOL_MEMBER_ADDED.name]

    def results(self) -> list[str]:
        """The result events this replica published (everything but ``pool.updated``)."""
        return [n for n, _ in self.events if n != subjects.POOL_UPDATED.name]


@pytest.fixture
def world(engine: Engine) -> tuple[Replica, Replica, FakeClock, list[MemberHealth]]:
    health = [MemberHealth.DOWN]
    pools = InMemoryPools([POOL], health=lambda address, port: health[0])
    clock = FakeClock()
    return Replica(engine, "replica-a", pools, clock), Replica(engine, "replica-b", pools, clock), clock, health


ADD = AddPoolMember(pool=POOL, name=NAME, address="127.0.10.7", port=8080, timeout_s=600)


async def test_the_other_replica_never_resumes_a_held_wait_and_takes_over_a_dead_ones(world: Any) -> None:
    a, b, clock, health = world
    await a.membership.add(ADD)
    assert a.membership.running() == {KEY: "add"}
    await asyncio.sleep(TTL_S)  # a few renewals by replica-a
    assert await b.membership.resume() == 0
    assert b.membership.running() == {}
    a.dead = True  # replica-a's process vanishes: its claim is left to expire
    await a.membership.close()
    assert await b.membership.resume() == 0, "the dead replica's claim has not expired yet"
    clock.advance(TTL_S + 0.1)
    assert await b.membership.resume() == 1
    health[0] = MemberHealth.UP
    await until(lambda: b.added(), 15.0)
    await b.membership.wait_idle()
    assert [m.name for m in b.added()] == [NAME]
    assert a.added() == []
    assert await b.membership.resume() == 0  # done: the member is active, nothing left to resume


async def test_a_stalled_replica_stops_its_wait_once_the_other_took_it_over(world: Any) -> None:
    a, b, clock, health = world
    await a.membership.add(ADD)
    a.awake.clear()  # replica-a pauses: its next renewal hangs
    clock.advance(TTL_S + 0.1)
    assert await b.membership.resume() == 1
    a.awake.set()  # it wakes: the renewal is refused and its wait is cancelled
    await until(lambda: a.membership.running() == {}, 15.0)
    health[0] = MemberHealth.UP
    await until(lambda: b.added(), 15.0)
    await b.membership.wait_idle()
    assert (len(a.added()), len(b.added())) == (0, 1)
    await a.membership.close()
    await b.membership.close()


async def test_a_replica_that_stops_cleanly_hands_its_waits_over_at_once(world: Any) -> None:
    a, b, _clock, _health = world
    await a.membership.add(ADD)
    await a.membership.close()  # a graceful stop releases the claim
    assert await b.membership.resume() == 1
    await b.membership.close()


async def _draining_on_a(a: Replica, health: list[MemberHealth]) -> InMemoryPools:
    """The member added and active, then draining on replica-a with connections left."""
    pools = a.membership.driver
    assert isinstance(pools, InMemoryPools)
    health[0] = MemberHealth.UP
    await a.membership.add(ADD)
    await a.membership.wait_idle()
    pools.set_connections(POOL, NAME, 5)
    await a.membership.drain(DrainPoolMember(pool=POOL, name=NAME, timeout_s=600))
    assert a.membership.running() == {KEY: "drain"}
    a.events.clear()
    return pools


async def test_a_cancel_drain_handled_by_the_other_replica_stops_the_holders_drain(world: Any) -> None:
    a, b, _clock, health = world
    pools = await _draining_on_a(a, health)
    await b.membership.cancel_drain(CancelDrain(pool=POOL, name=NAME))
    assert b.membership.running() == {}
    await until(lambda: a.membership.running() == {}, 15.0)  # the holder's drain stopped
    pools.set_connections(POOL, NAME, 0)  # a drain still running would now finish and report
    assert await a.membership.resume() == await b.membership.resume() == 0  # claim released, nothing to resume
    await a.membership.wait_idle()
    assert (a.results(), b.results()) == ([], [subjects.POOL_DRAIN_CANCELLED.name])
    assert [m.admin for m in await pools.members(POOL)] == [MemberAdmin.ENABLED]


async def test_a_remove_handled_by_the_other_replica_stops_the_holders_drain(world: Any) -> None:
    a, b, _clock, health = world
    pools = await _draining_on_a(a, health)
    await b.membership.remove(RemovePoolMember(pool=POOL, name=NAME))
    await until(lambda: a.membership.running() == {}, 15.0)
    assert (a.results(), b.results()) == ([], [subjects.POOL_MEMBER_REMOVED.name])
    assert await pools.members(POOL) == []


async def test_a_drain_handled_by_the_other_replica_replaces_the_holders_add_wait(world: Any) -> None:
    a, b, _clock, _health = world  # health stays down: replica-a's add waits
    await a.membership.add(ADD)
    assert a.membership.running() == {KEY: "add"}
    pools = a.membership.driver
    assert isinstance(pools, InMemoryPools)
    pools.set_connections(POOL, NAME, 3)
    await b.membership.drain(DrainPoolMember(pool=POOL, name=NAME, timeout_s=600))
    assert b.membership.running() == {}, "replica-a holds the member's wait"
    await until(lambda: a.membership.running() == {KEY: "drain"}, 15.0)  # the same claim, now a drain
    await a.membership.add(ADD)  # an add on replica-a replaces its drain (not taken for the old add)
    assert a.membership.running() == {KEY: "add"}
    await b.membership.drain(DrainPoolMember(pool=POOL, name=NAME, timeout_s=600))
    await until(lambda: a.membership.running() == {KEY: "drain"}, 15.0)
    pools.set_connections(POOL, NAME, 0)
    await until(lambda: a.membership.running() == {}, 15.0)
    await b.membership.wait_idle()  # replica-b may have claimed the wait after replica-a finished it
    assert a.results() + b.results() == [subjects.POOL_MEMBER_DRAINED.name]
    assert [m.admin for m in await pools.members(POOL)] == [MemberAdmin.OFFLINE]


class _LateOffline:
    """replica-a's view of the shared pools whose ``force_offline`` first lets ``meanwhile`` run:
    a command another replica handles lands during the holder's final load balancer call."""

    def __init__(self, pools: InMemoryPools, meanwhile: Callable[[], Awaitable[None]]) -> None:
        self._pools = pools
        self._meanwhile = meanwhile

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pools, name)

    async def force_offline(self, pool: str, name: str) -> None:
        await self._meanwhile()
        await self._pools.force_offline(pool, name)


async def test_a_cancel_landing_during_the_holders_final_call_wins_and_nothing_is_published_twice(
    engine: Engine,
) -> None:
    health = [MemberHealth.UP]
    pools = InMemoryPools([POOL], health=lambda address, port: health[0])
    clock = FakeClock()
    b = Replica(engine, "replica-b", pools, clock)
    cancel = CancelDrain(pool=POOL, name=NAME)
    a = Replica(engine, "replica-a", _LateOffline(pools, lambda: b.membership.cancel_drain(cancel)), clock)  # type: ignore[arg-type]
    await a.membership.add(ADD)
    await a.membership.wait_idle()
    pools.set_connections(POOL, NAME, 5)
    await a.membership.drain(DrainPoolMember(pool=POOL, name=NAME, timeout_s=600))
    a.events.clear()
    pools.set_connections(POOL, NAME, 0)  # the drain ends: replica-a forces it offline, and b cancels meanwhile
    await until(lambda: a.membership.running() == {}, 15.0)
    assert (a.results(), b.results()) == ([], [subjects.POOL_DRAIN_CANCELLED.name])
    assert [m.admin for m in await pools.members(POOL)] == [MemberAdmin.ENABLED]  # the cancel's state, again
    stored = await SqlRecords(engine).get(POOL, NAME)
    assert stored is not None and (stored.desired, stored.causation_id) == (Desired.ACTIVE, str(cancel.message_id))
