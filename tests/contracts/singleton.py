"""The contract of ``Leases`` (``shared/singleton.py``): every adapter, two replicas as two owners.

Subclass ``LeasesContract`` and provide the fixture ``leases``: the adapter and the ``FakeClock``
its expiry reads, so a holder "paused" past its TTL is one ``advance`` away.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.singleton import Leases
from testkit.clock import FakeClock

__all__ = ["LeasesContract"]

NAME = "orphan-pass"
TTL_S = 30.0


class LeasesContract:
    """Run against every ``Leases`` implementation."""

    @pytest.fixture
    def leases(self) -> tuple[Leases, FakeClock]:
        raise NotImplementedError

    def test_a_first_acquire_is_granted_and_renewing_keeps_its_token(self, leases: tuple[Leases, FakeClock]) -> None:
        store, clock = leases
        token = store.acquire(NAME, "replica-a", TTL_S)
        assert token is not None
        clock.advance(TTL_S / 2)
        assert store.acquire(NAME, "replica-a", TTL_S) == token
        clock.advance(TTL_S * 0.9)  # past the first expiry, within the renewed one
        assert store.holds(NAME, "replica-a", token)

    def test_the_other_replica_is_refused_while_the_lease_lives(self, leases: tuple[Leases, FakeClock]) -> None:
        store, clock = leases
        token = store.acquire(NAME, "replica-a", TTL_S)
        clock.advance(TTL_S - 1)
        assert store.acquire(NAME, "replica-b", TTL_S) is None
        assert token is not None and store.holds(NAME, "replica-a", token)
        assert store.acquire("reconcile", "replica-b", TTL_S) is not None  # other names are free

    def test_a_holder_paused_past_its_ttl_loses_the_lease_and_its_token_is_refused(
        self, leases: tuple[Leases, FakeClock]
    ) -> None:
        store, clock = leases
        old = store.acquire(NAME, "replica-a", TTL_S)
        assert old is not None
        clock.advance(TTL_S + 0.5)  # replica-a stalls: no renewal within the TTL
        assert not store.holds(NAME, "replica-a", old)
        new = store.acquire(NAME, "replica-b", TTL_S)
        assert new is not None and new > old
        assert store.acquire(NAME, "replica-a", TTL_S) is None  # waking up, it cannot renew
        assert not store.holds(NAME, "replica-a", old)
        assert store.holds(NAME, "replica-b", new)

    def test_a_released_lease_is_free_at_once_with_a_higher_token(self, leases: tuple[Leases, FakeClock]) -> None:
        store, _clock = leases
        first = store.acquire(NAME, "replica-a", TTL_S)
        store.release(NAME, "replica-b")  # not the holder: nothing happens
        assert store.acquire(NAME, "replica-b", TTL_S) is None
        store.release(NAME, "replica-a")
        store.release(NAME, "replica-a")  # idempotent
        second = store.acquire(NAME, "replica-b", TTL_S)
        assert first is not None and second is not None and second > first
        store.release(NAME, "replica-b")
        third = store.acquire(NAME, "replica-b", TTL_S)  # the same owner again after a release
        assert third is not None and third > second

    def test_holds_checks_name_owner_and_token(self, leases: tuple[Leases, FakeClock]) -> None:
        store, _clock = leases
        token = store.acquire(NAME, "replica-a", TTL_S)
        assert token is not None
        assert not store.holds(NAME, "replica-b", token)
        assert not store.holds(NAME, "replica-a", token + 1)
        assert not store.holds("unknown", "replica-a", token)

    def test_two_replicas_acquiring_at_once_get_one_lease(self, leases: tuple[Leases, FakeClock]) -> None:
        store, clock = leases
        for round_ in range(5):
            name = f"race-{round_}"
            with ThreadPoolExecutor(2) as pool:
                owners = ["replica-a", "replica-b"]
                tokens = list(pool.map(store.acquire, [name, name], owners, [TTL_S, TTL_S]))
            assert sorted(t is None for t in tokens) == [False, True]
        clock.advance(TTL_S + 1)  # all expired: a race on a takeover also has one winner
        with ThreadPoolExecutor(2) as pool:
            tokens = list(pool.map(store.acquire, ["race-0"] * 2, ["replica-c", "replica-d"], [TTL_S, TTL_S]))
        assert sorted(t is None for t in tokens) == [False, True]
