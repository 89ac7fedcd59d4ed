"""The instance table compared with the load balancer's pool: drift reported, never repaired."""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import IPv4Address

import pytest

from services.scaler.domain import Instance, InstanceState
from services.scaler.domain.drift import PoolDrift, pool_drift
from shared import subjects
from shared.messages import MemberState, PoolDriftDetected, PoolMember, PoolUpdated
from testkit.scaler.memory import MemoryPoolReader
from tests.unit.scaler.scaler_harness import Harness

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def vm(name: str, address: str, state: InstanceState = InstanceState.IN_SERVICE) -> Instance:
    return Instance(group="web", vm_name=name, address=IPv4Address(address), state=state, created_at=NOW)


@pytest.mark.parametrize(
    ("instances", "members", "expected"),
    [
        ([vm("a", "127.0.10.1")], [("a", "127.0.10.1")], PoolDrift()),
        ([vm("a", "127.0.10.1")], [("legacy-name", "127.0.10.1")], PoolDrift()),
        ([vm("a", "127.0.10.1")], [], PoolDrift(missing=("a",))),
        ([], [("x", "127.0.10.9")], PoolDrift(unexpected=("x",))),
        ([vm("a", "127.0.10.1", InstanceState.PROVISIONING)], [], PoolDrift()),
        ([vm("a", "127.0.10.1", InstanceState.DRAINING)], [("a", "127.0.10.1")], PoolDrift()),
        ([vm("a", "127.0.10.1", InstanceState.TERMINATED)], [("a", "127.0.10.1")], PoolDrift(unexpected=("a",))),
    ],
    ids=["agree", "match-by-address", "missing", "unexpected", "in-flight-absent", "draining-present", "terminated"],
)
def test_pool_drift_table(instances: list[Instance], members: list[tuple[str, str]], expected: PoolDrift) -> None:
    assert pool_drift(instances, members) == expected


def updated(*members: tuple[str, str]) -> PoolUpdated:
    return PoolUpdated(
        pool="web-pool",
        members=tuple(PoolMember(name=n, address=a, port=8080, state=MemberState.UP) for n, a in members),
    )


async def test_drift_is_stored_published_once_and_shown_in_the_group_detail() -> None:
    h = Harness()
    await h.setup()
    base = [(i.vm_name, str(i.address)) for i in await h.instances()]
    assert await h.scaler.drift.on_pool_updated(updated(*base)) == []
    found = await h.scaler.drift.on_pool_updated(updated(base[0], ("stranger", "127.0.10.99")))
    assert [(e.missing_from_pool, e.unexpected_in_pool) for e in found] == [((base[1][0],), ("stranger",))]
    again = await h.scaler.drift.on_pool_updated(updated(base[0], ("stranger", "127.0.10.99")))
    assert again == []
    assert len(h.publisher.of(subjects.GROUP_DRIFT_DETECTED)) == 1
    _, instances, _, drift = await h.scaler.views.group("web")
    assert drift.missing_from_pool == (base[1][0],) and drift.unexpected_in_pool == ("stranger",)
    assert drift.pool_members == 2 and len(instances) == 2  # nothing was repaired
    assert any("not in the group: stranger" in note for note in drift.notes)


async def test_the_group_detail_asks_the_load_balancer_and_says_when_it_cannot() -> None:
    reader = MemoryPoolReader()
    h = Harness(pools=reader)
    await h.setup()
    base = [(i.vm_name, str(i.address)) for i in await h.instances()]
    reader.pools["web-pool"] = [base[0]]
    *_, drift = await h.scaler.views.group("web")
    assert drift.missing_from_pool == (base[1][0],) and drift.pool_members == 1
    reader.down = True
    *_, drift = await h.scaler.views.group("web")
    assert drift.pool_members is None and any("load balancer not asked" in n for n in drift.notes)


async def test_the_load_balancers_own_drift_report_is_noted_and_passed_on() -> None:
    h = Harness()
    await h.setup()
    report = PoolDriftDetected(pool="web-pool", missing=("web-base-1",), repaired=("web-base-1",))
    found = await h.scaler.drift.on_pool_drift_detected(report)
    assert [e.group for e in found] == ["web"] and "repaired web-base-1" in found[0].note
    *_, drift = await h.scaler.views.group("web")
    assert any("load balancer reported drift on pool web-pool" in n for n in drift.notes)
