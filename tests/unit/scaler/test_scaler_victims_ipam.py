"""Victim selection and IP arithmetic (docs/original-system.md §11.2, §13.3)."""

from __future__ import annotations

from datetime import timedelta
from ipaddress import IPv4Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.scaler.domain import InstanceState, IpLease, LeaseState, PoolExhausted, VictimOrder, ipam, pick_victims
from tests.unit.scaler.scaler_factories import NOW, instances, pool


def test_newest_autoscaled_first_and_base_never() -> None:
    insts = instances(5, base=2)
    victims = pick_victims(insts, 5)
    assert [v.vm_name for v in victims] == ["web-04", "web-03", "web-02"]


def test_oldest_and_least_busy_orders() -> None:
    insts = list(instances(5, base=1))
    insts[2] = insts[2].model_copy(update={"load": 5.0})
    insts[3] = insts[3].model_copy(update={"load": 50.0})
    assert [v.vm_name for v in pick_victims(insts, 2, VictimOrder.OLDEST)] == ["web-01", "web-02"]
    assert [v.vm_name for v in pick_victims(insts, 2, VictimOrder.LEAST_BUSY)] == ["web-02", "web-03"]


def test_protected_and_not_in_service_are_never_chosen() -> None:
    insts = list(instances(4))
    insts[3] = insts[3].model_copy(update={"protected": True})
    insts[2] = insts[2].model_copy(update={"state": InstanceState.PROVISIONING})
    assert [v.vm_name for v in pick_victims(insts, 4)] == ["web-01", "web-00"]


@given(st.integers(0, 8), st.integers(0, 8), st.integers(0, 10), st.sampled_from(list(VictimOrder)))
def test_victims_are_a_bounded_subset_of_removable(n: int, base: int, count: int, order: VictimOrder) -> None:
    insts = instances(n, base=min(base, n))
    victims = pick_victims(insts, count, order)
    assert len(victims) == min(count, sum(1 for i in insts if i.removable))
    assert all(v.removable for v in victims)
    assert len({v.vm_name for v in victims}) == len(victims)


def lease(address: str, state: LeaseState = LeaseState.RESERVED) -> IpLease:
    return IpLease(pool="lab", address=IPv4Address(address), group="web", vm_name=address, state=state, updated_at=NOW)


def test_network_broadcast_gateway_and_exclusions_are_never_handed_out() -> None:
    p = pool(ranges=[{"start": "127.0.10.0", "end": "127.0.10.255"}], exclusions=["127.0.10.7"])
    addresses = set(ipam.usable(p))
    for never in ("127.0.10.0", "127.0.10.255", "127.0.10.1", "127.0.10.7"):
        assert IPv4Address(never) not in addresses
    assert ipam.capacity(p) == 252


def test_first_free_address_and_never_one_already_reserved() -> None:
    p = pool()
    leases = [lease("127.0.10.10"), lease("127.0.10.11", LeaseState.RELEASED)]
    got = ipam.reserve(p, leases, "web", ["a", "b"], "act", NOW, unavailable=[IPv4Address("127.0.10.12")])
    assert [str(g.address) for g in got] == ["127.0.10.11", "127.0.10.13"]
    assert all(g.state is LeaseState.RESERVED and g.activity_id == "act" for g in got)


def test_exhaustion_is_a_clean_error_and_reserves_nothing() -> None:
    p = pool(ranges=[{"start": "127.0.10.10", "end": "127.0.10.12"}])
    leases = [lease("127.0.10.10"), lease("127.0.10.11")]
    assert ipam.free_count(p, leases) == 1
    with pytest.raises(PoolExhausted):
        ipam.reserve(p, leases, "web", ["a", "b"], "act", NOW)


def test_confirm_and_release_change_only_the_state() -> None:
    held = lease("127.0.10.10")
    later = NOW + timedelta(seconds=5)
    assert ipam.confirm(held, later).state is LeaseState.CONFIRMED
    released = ipam.release(held, later)
    assert released.state is LeaseState.RELEASED and released.address == held.address
    assert ipam.free_count(pool(), [released]) == ipam.capacity(pool())


@given(st.lists(st.integers(10, 19), unique=True), st.integers(1, 4))
def test_reservations_are_distinct_free_usable_addresses(taken: list[int], count: int) -> None:
    p = pool()
    leases = [lease(f"127.0.10.{t}") for t in taken]
    names = [f"vm{i}" for i in range(count)]
    try:
        got = ipam.reserve(p, leases, "web", names, "act", NOW)
    except PoolExhausted:
        assert ipam.free_count(p, leases) < count
        return
    addresses = [g.address for g in got]
    assert len(set(addresses)) == count
    assert not set(addresses) & ipam.held(leases)
    assert set(addresses) <= set(ipam.usable(p))
