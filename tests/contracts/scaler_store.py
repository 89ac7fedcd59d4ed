"""The contract of the scaler's ``Store`` port, run against memory and SQL (STYLE rule 12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from typing import Any

import pytest

from services.scaler.domain import (
    FailureBackoff,
    Instance,
    InstanceState,
    IpLease,
    IpPool,
    LeaseState,
    ScalingGroup,
    saga,
)
from services.scaler.domain.errors import ActivityRunning
from services.scaler.ports import AlertRecord, DecisionRecord, GroupRecord, Store
from shared import subjects
from shared.errors import Contention
from shared.messages import ActivityKind, RemoveGroupAlerts, ScaleDirection
from shared.telemetry import build_tracer_provider

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def group(name: str = "web") -> GroupRecord:
    spec = ScalingGroup(
        name=name,
        vm_prefix=name,
        template="t",
        prometheus_job=name,
        min_size=1,
        max_size=3,
        pool="p",
        vip="127.0.0.1",
        ip_pool="lab",
    )
    return GroupRecord(spec=spec, created_at=NOW, updated_at=NOW)


def activity(activity_id: str, group_name: str = "web") -> saga.Activity:
    return saga.plan(
        activity_id, group_name, ActivityKind.SCALE_OUT, [("vm-1", "127.0.10.5")], cause="t", now=NOW, with_hook=False
    )


class StoreContract:
    """Subclasses provide ``store`` as a fixture of an empty store."""

    @pytest.fixture
    def store(self) -> Store:
        raise NotImplementedError

    async def test_a_transaction_that_raises_leaves_nothing(self, store: Store) -> None:
        def txn(uow: Any) -> None:
            uow.groups.save(group())
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await store.transaction(txn)
        assert await store.transaction(lambda uow: uow.groups.get("web")) is None

    async def test_groups_round_trip_and_delete(self, store: Store) -> None:
        record = group()
        backoff = FailureBackoff(direction=ScaleDirection.OUT, until=NOW, activity_id="act-1", reason="no resources")
        state = record.state.model_copy(
            update={"last_scale_out_at": NOW, "scale_in_silenced": True, "failure_backoff": backoff}
        )
        await store.transaction(lambda uow: uow.groups.save(record.model_copy(update={"state": state})))
        await store.transaction(lambda uow: uow.groups.save(group("api")))
        got = await store.transaction(lambda uow: uow.groups.get("web", for_update=True))
        assert got.spec == record.spec and got.state.scale_in_silenced and got.state.last_scale_out_at == NOW
        assert got.state.failure_backoff == backoff
        assert [g.spec.name for g in await store.transaction(lambda uow: uow.groups.all())] == ["api", "web"]
        await store.transaction(lambda uow: uow.groups.delete("web"))
        await store.transaction(lambda uow: uow.groups.delete("web"))
        assert await store.transaction(lambda uow: uow.groups.get("web")) is None

    async def test_instances_are_listed_oldest_first_and_replaced_by_key(self, store: Store) -> None:
        old = Instance(group="web", vm_name="b", created_at=NOW)
        new = Instance(group="web", vm_name="a", created_at=NOW + timedelta(seconds=1))
        other = Instance(group="api", vm_name="c", created_at=NOW)
        await store.transaction(lambda uow: [uow.instances.save(i) for i in (new, old, other)])
        await store.transaction(
            lambda uow: uow.instances.save(old.model_copy(update={"state": InstanceState.IN_SERVICE}))
        )
        listed = await store.transaction(lambda uow: uow.instances.all("web"))
        assert [i.vm_name for i in listed] == ["b", "a"] and listed[0].state is InstanceState.IN_SERVICE
        assert len(await store.transaction(lambda uow: uow.instances.all())) == 3
        await store.transaction(lambda uow: uow.instances.delete("web", "b"))
        assert await store.transaction(lambda uow: uow.instances.get("web", "b")) is None

    async def test_pools_and_leases(self, store: Store) -> None:
        pool = IpPool.model_validate(
            {"name": "lab", "network": "127.0.10.0/24", "ranges": [{"start": "127.0.10.9", "end": "127.0.10.20"}]}
        )
        await store.transaction(lambda uow: uow.ip_pools.save(pool))
        leases = [
            IpLease(pool="lab", address=IPv4Address(f"127.0.10.{n}"), group="web", vm_name=f"v{n}", updated_at=NOW)
            for n in (12, 10)
        ]
        await store.transaction(lambda uow: [uow.ip_pools.save_lease(x) for x in leases])
        released = leases[0].model_copy(update={"state": LeaseState.RELEASED})
        await store.transaction(lambda uow: uow.ip_pools.save_lease(released))
        got = await store.transaction(lambda uow: uow.ip_pools.leases("lab", for_update=True))
        assert [(str(x.address), x.state) for x in got] == [("127.0.10.10", "reserved"), ("127.0.10.12", "released")]
        assert await store.transaction(lambda uow: uow.ip_pools.get("lab")) == pool
        await store.transaction(lambda uow: uow.ip_pools.delete("lab"))
        assert [x.vm_name for x in await store.transaction(lambda uow: uow.ip_pools.leases("lab"))] == ["v10"]

    async def test_only_one_active_activity_per_group(self, store: Store) -> None:
        await store.transaction(lambda uow: uow.activities.save(activity("a1")))
        with pytest.raises((ActivityRunning, Contention)):
            await store.transaction(lambda uow: uow.activities.save(activity("a2")))
        await store.transaction(lambda uow: uow.activities.save(activity("b1", "api")))
        done = activity("a1").model_copy(update={"status": saga.ActivityStatus.SUCCEEDED})
        await store.transaction(lambda uow: uow.activities.save(done))
        await store.transaction(lambda uow: uow.activities.save(activity("a2")))
        assert [a.id for a in await store.transaction(lambda uow: uow.activities.active("web"))] == ["a2"]
        assert {a.id for a in await store.transaction(lambda uow: uow.activities.recent("web"))} == {"a1", "a2"}
        assert [a.id for a in await store.transaction(lambda uow: uow.activities.recent(status="succeeded"))] == ["a1"]
        assert (await store.transaction(lambda uow: uow.activities.get("a1", for_update=True))).status == "succeeded"

    async def test_recent_activities_are_bounded_by_when_they_were_created(self, store: Store) -> None:
        for n, group_name in enumerate(("a", "b", "c", "d")):
            made = activity(f"x{n}", group_name).model_copy(update={"created_at": NOW - timedelta(hours=n)})
            await store.transaction(lambda uow, made=made: uow.activities.save(made))

        def ids(**bounds: Any) -> Any:
            return store.transaction(lambda uow: [a.id for a in uow.activities.recent(**bounds)])

        assert await ids() == ["x0", "x1", "x2", "x3"]
        assert await ids(since=NOW - timedelta(hours=2)) == ["x0", "x1", "x2"]  # inclusive
        assert await ids(until=NOW - timedelta(hours=1)) == ["x1", "x2", "x3"]
        span = {"since": NOW - timedelta(hours=2, minutes=30), "until": NOW - timedelta(minutes=30)}
        assert await ids(**span) == ["x1", "x2"]
        assert await ids(group="b", **span) == ["x1"]
        assert await ids(limit=1, **span) == ["x1"]

    async def test_an_activity_keeps_its_cooldown_claim(self, store: Store) -> None:
        claim = saga.CooldownClaim(claimed_at=NOW, previous=NOW - timedelta(hours=1))
        await store.transaction(
            lambda uow: uow.activities.save(activity("a1").model_copy(update={"cooldown_claim": claim}))
        )
        assert (await store.transaction(lambda uow: uow.activities.get("a1"))).cooldown_claim == claim

    async def test_decisions_filter_newest_first(self, store: Store) -> None:
        def decision(n: int, allowed: bool) -> DecisionRecord:
            return DecisionRecord(
                id=f"00000000-0000-0000-0000-00000000000{n}",
                group="web",
                at=NOW + timedelta(minutes=n),
                allowed=allowed,
                reason="x",
                message="m",
                trigger="t",
                rule="step",
                observed={"size": n},
            )

        await store.transaction(lambda uow: [uow.decisions.add(decision(n, n % 2 == 0)) for n in range(4)])
        got = await store.transaction(lambda uow: uow.decisions.find("web", None, None, None, 10))
        assert [d.observed["size"] for d in got] == [3, 2, 1, 0]
        allowed = await store.transaction(
            lambda uow: uow.decisions.find("web", True, NOW + timedelta(minutes=1), None, 10)
        )
        assert [d.observed["size"] for d in allowed] == [2]

    async def test_outbox_keeps_order_dedupes_and_marks(self, store: Store) -> None:
        first = RemoveGroupAlerts(group="a")
        second = RemoveGroupAlerts(group="b")
        subject = subjects.CMD_MONITORING_REMOVE_ALERTS
        await store.transaction(lambda uow: [uow.outbox.add(subject, m) for m in (first, second, first)])
        pending = await store.transaction(lambda uow: uow.outbox.pending())
        assert [p.id for p in pending] == [str(first.message_id), str(second.message_id)]
        assert subject.model.model_validate_json(pending[0].payload) == first
        await store.transaction(lambda uow: uow.outbox.mark_published([pending[0].id, "nope"], NOW))
        assert [p.id for p in await store.transaction(lambda uow: uow.outbox.pending())] == [str(second.message_id)]

    async def test_an_outbox_entry_keeps_the_trace_context_it_was_added_in(self, store: Store) -> None:
        traced, untraced = RemoveGroupAlerts(group="a"), RemoveGroupAlerts(group="b")
        subject = subjects.CMD_MONITORING_REMOVE_ALERTS
        tracer = build_tracer_provider("scaler").get_tracer("contract")
        with tracer.start_as_current_span("alert") as span:
            recorded = await store.transaction(lambda uow: [uow.outbox.add(subject, traced), uow.outbox.recorded()][1])
        await store.transaction(lambda uow: uow.outbox.add(subject, untraced))
        pending = {p.id: p.trace_context for p in await store.transaction(lambda uow: uow.outbox.pending())}
        trace_id = format(span.get_span_context().trace_id, "032x")
        assert trace_id in recorded[0].trace_context and trace_id in pending[str(traced.message_id)]
        assert pending[str(untraced.message_id)] == ""

    async def test_inbox_claims_once(self, store: Store) -> None:
        assert await store.transaction(lambda uow: uow.inbox.claim("m1", "s"))
        assert not await store.transaction(lambda uow: uow.inbox.claim("m1", "s"))

    async def test_alerts_firing_until_resolved(self, store: Store) -> None:
        alert = AlertRecord(group="web", fingerprint="f", alertname="x", starts_at=NOW, received_at=NOW)
        await store.transaction(lambda uow: uow.alerts.save(alert))
        assert len(await store.transaction(lambda uow: uow.alerts.firing("web"))) == 1
        await store.transaction(lambda uow: uow.alerts.save(alert.model_copy(update={"resolved_at": NOW})))
        assert await store.transaction(lambda uow: uow.alerts.firing()) == []
        assert (await store.transaction(lambda uow: uow.alerts.get("web", "f"))).resolved_at == NOW

    async def test_a_transaction_reads_its_own_writes(self, store: Store) -> None:
        pool = IpPool.model_validate(
            {"name": "lab", "network": "127.0.10.0/24", "ranges": [{"start": "127.0.10.9", "end": "127.0.10.20"}]}
        )
        await store.transaction(lambda uow: [uow.groups.save(group()), uow.ip_pools.save(pool)])

        def txn(uow: Any) -> tuple[Any, ...]:
            locked = uow.groups.get("web", for_update=True)
            assert uow.instances.all("web") == []
            uow.groups.save(locked.model_copy(update={"state": locked.state.model_copy(update={"lease_fence": 7})}))
            first = Instance(group="web", vm_name="v1", created_at=NOW)
            uow.instances.save(first)
            uow.instances.save(first.model_copy(update={"state": InstanceState.PROVISIONING}))
            uow.instances.save(Instance(group="web", vm_name="v0", created_at=NOW - timedelta(seconds=1)))
            uow.instances.delete("web", "v0")
            lease = IpLease(pool="lab", address=IPv4Address("127.0.10.9"), group="web", vm_name="v1", updated_at=NOW)
            uow.ip_pools.save_lease(lease)
            alert = AlertRecord(group="web", fingerprint="f", alertname="x", starts_at=NOW, received_at=NOW)
            uow.alerts.save(alert)
            uow.alerts.save(alert.model_copy(update={"last_evaluated_at": NOW}))
            uow.outbox.add(subjects.CMD_MONITORING_REMOVE_ALERTS, RemoveGroupAlerts(group="web"))
            return (
                uow.groups.get("web").state.lease_fence,
                uow.groups.get("web", for_update=True).state.lease_fence,
                [(i.vm_name, i.state) for i in uow.instances.all("web")],
                uow.instances.get("web", "v0"),
                [x.vm_name for x in uow.ip_pools.leases("lab", for_update=True)],
                uow.alerts.get("web", "f").last_evaluated_at,
                len(uow.alerts.firing("web")),
                len(uow.outbox.pending()),
            )

        assert await store.transaction(txn) == (7, 7, [("v1", InstanceState.PROVISIONING)], None, ["v1"], NOW, 1, 1)
        after = await store.transaction(
            lambda uow: (uow.groups.get("web").state.lease_fence, uow.instances.get("web", "v1").state)
        )
        assert after == (7, InstanceState.PROVISIONING)

    async def test_recorded_lists_only_new_outbox_entries_in_order(self, store: Store) -> None:
        old, first, second = (RemoveGroupAlerts(group=g) for g in ("old", "a", "b"))
        subject = subjects.CMD_MONITORING_REMOVE_ALERTS
        await store.transaction(lambda uow: uow.outbox.add(subject, old))

        def txn(uow: Any) -> list[str]:
            for message in (first, old, second, first):
                uow.outbox.add(subject, message)
            return [e.id for e in uow.outbox.recorded()]

        assert await store.transaction(txn) == [str(first.message_id), str(second.message_id)]
        pending = await store.transaction(lambda uow: uow.outbox.pending())
        assert [p.id for p in pending] == [str(m.message_id) for m in (old, first, second)]
