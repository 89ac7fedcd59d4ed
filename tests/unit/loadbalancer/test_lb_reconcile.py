"""The reconcile reports drift when it changes and repairs only when told to."""

from __future__ import annotations

from services.loadbalancer.membership import Membership
from services.loadbalancer.reconcile import Reconciler
from shared import subjects
from shared.messages import AddPoolMember, MemberAdmin
from testkit.loadbalancer.memory import InMemoryPools, InMemoryRecords
from tests.unit.loadbalancer.test_lb_membership import FAST, Recorder


async def setup(repair: bool) -> tuple[InMemoryPools, Recorder, Reconciler]:
    lb = InMemoryPools(["web"])
    sink = Recorder()
    membership = Membership(lb, InMemoryRecords(), sink, FAST)
    for name, address in [("vm-1", "127.0.10.5"), ("vm-2", "127.0.10.6")]:
        await membership.add(AddPoolMember(pool="web", name=name, address=address, port=8080))
    await membership.wait_idle()
    return lb, sink, Reconciler(membership, repair=repair)


async def test_a_clean_pool_reports_nothing() -> None:
    _, sink, reconciler = await setup(repair=False)
    assert await reconciler.run_once() == []
    assert sink.named(subjects.POOL_DRIFT_DETECTED.name) == []


async def test_drift_is_reported_once_and_not_repaired_by_default() -> None:
    lb, _, reconciler = await setup(repair=False)
    await lb.remove("web", "vm-1")
    await lb.disable("web", "vm-2")
    await lb.add("web", "base-vm", "127.0.10.9", 8080)
    [drift] = await reconciler.run_once()
    assert (drift.missing, drift.mismatched, drift.unexpected, drift.repaired) == (
        ("vm-1",),
        ("vm-2",),
        ("base-vm",),
        (),
    )
    assert await reconciler.run_once() == []  # unchanged drift is not re-published
    assert [m.name for m in await lb.members("web")] == ["base-vm", "vm-2"]


async def test_with_repair_missing_members_come_back_and_states_are_restored() -> None:
    lb, _, reconciler = await setup(repair=True)
    await lb.remove("web", "vm-1")
    await lb.force_offline("web", "vm-2")
    [drift] = await reconciler.run_once()
    assert set(drift.repaired) == {"vm-1", "vm-2"}
    await reconciler.membership.wait_idle()
    members = {m.name: m.admin for m in await lb.members("web")}
    assert members == {"vm-1": MemberAdmin.ENABLED, "vm-2": MemberAdmin.ENABLED}
    [cleared] = await reconciler.run_once()
    assert (cleared.missing, cleared.mismatched) == ((), ())
