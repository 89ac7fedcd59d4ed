"""Observation: the ONE builder of a decision's inputs (``Observed``).

A decision looks at the group, the policy, the time and ``Observed``. ``Observed`` is built in
two parts, the same way for every caller:

1. ``read`` — what is asked outside any transaction: the step policy's condition over its
   ``for:`` windows (``read_condition``), target tracking's metric, the ping check of the
   addresses a scale-out would take, the instances' loads for ``least_busy``. The result is a
   ``Readings`` value.
2. ``snapshot`` + ``observe`` — what the database says (the group, its instances, its running
   activity, its pool and leases), combined with the readings and the alert by the pure
   ``observe``.

The live path (``decisions.py``) reads the snapshot with its rows locked inside the decision
transaction; the dry run (``preview.py``) reads it without locks and takes no lease; a
back-test builds the ``Snapshot`` and ``Readings`` from history and calls ``observe`` and
``decide`` (docs/architecture.md §3a: one decision code for every clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.scaler.domain.condition import assess
from services.scaler.domain.decide import classify_alert
from services.scaler.domain.model import (
    AlertSignal,
    Condition,
    Converge,
    GroupState,
    MetricReading,
    Observed,
    Policy,
    ScalingGroup,
    StepPolicy,
    TargetTrackingPolicy,
    VictimOrder,
)
from services.scaler.domain.timers import last_direction
from services.scaler.pingcheck import PingCheck, free_ips, ping_check
from services.scaler.ports import AddressProbe, AlertRecord, GroupRecord, MetricsQuery, Store, UnitOfWork
from services.scaler.records import Snapshot
from shared.vocabulary import ScaleDirection

__all__ = ["Readings", "Snapshot", "Sources", "observe", "read", "read_condition", "snapshot"]


@dataclass(frozen=True)
class Readings:
    """What one decision read outside the database, before its transaction."""

    condition: Condition | None = None
    """The step policy's rules (step policy only)."""
    metrics: MetricReading | None = None
    """Target tracking's metric (target tracking only; the dry run reads it for every trigger)."""
    ping: PingCheck | None = None
    """The ping check of the next free addresses (a scale-out from a pool with ``ping_check``)."""
    loads: dict[str, float] | None = None
    """Each instance's load by address (``least_busy`` victim order)."""


async def read_condition(
    metrics: MetricsQuery, spec: ScalingGroup, state: GroupState, now: datetime, step_s: float
) -> Condition:
    """The step policy's rules over their ``for:`` windows (one range query every ``step_s``),
    judged with fresh evidence only after the group's latest activity."""
    span = max(spec.thresholds.out_for_s, spec.thresholds.in_for_s) + 2 * step_s
    history = await metrics.history(spec, now - timedelta(seconds=span), now, step_s)
    return assess(spec, history, now, floor=state.last_activity_end_at, last_direction=last_direction(state))


@dataclass(frozen=True)
class Sources:
    """Where ``read`` asks: Prometheus, the address probe (None: no ping checks) and the store."""

    metrics: MetricsQuery
    addresses: AddressProbe | None
    store: Store
    step_s: float


async def read(
    sources: Sources,
    record: GroupRecord,
    policy: Policy,
    now: datetime,
    *,
    alert: AlertRecord | None = None,
    condition: Condition | None = None,
) -> Readings:
    """Read what ``policy`` needs for ``record``'s group now (``condition`` when the caller has
    already read the step policy's rules)."""
    spec = record.spec
    metrics: MetricReading | None = None
    if isinstance(policy, StepPolicy) and condition is None:
        condition = await read_condition(sources.metrics, spec, record.state, now, sources.step_s)
    elif isinstance(policy, TargetTrackingPolicy):
        metrics = await sources.metrics.read(spec, policy)
    removing_lost = isinstance(policy, Converge) and bool(policy.lost)
    ping = None
    if sources.addresses is not None and not removing_lost and _may_scale_out(spec, policy, alert, condition):
        ping = await ping_check(sources.store, sources.addresses, spec)
    loads = None
    if spec.victim_order is VictimOrder.LEAST_BUSY and not removing_lost:
        loads = await sources.metrics.instance_loads(spec)  # the victims' ranking, read now
    return Readings(condition=condition, metrics=metrics, ping=ping, loads=loads)


def _may_scale_out(spec: ScalingGroup, policy: Policy, alert: AlertRecord | None, condition: Condition | None) -> bool:
    """Whether the decision may take addresses (then they are probed first)."""
    if not isinstance(policy, StepPolicy):
        return True
    if condition is not None and condition.direction is ScaleDirection.OUT:
        return True
    hinted = alert is not None and classify_alert(spec, alert.alertname, alert.labels) is ScaleDirection.OUT
    return hinted and (condition is None or not condition.available)


def snapshot(uow: UnitOfWork, group: str, *, for_update: bool) -> Snapshot | None:
    """The group's rows; ``for_update`` locks the group and its pool's leases (the live path)."""
    record = uow.groups.get(group, for_update=for_update)
    if record is None:
        return None
    pool = uow.ip_pools.get(record.spec.ip_pool)
    leases = uow.ip_pools.leases(record.spec.ip_pool, for_update=for_update) if pool is not None else []
    return Snapshot(
        record=record,
        instances=tuple(uow.instances.all(group)),
        active=tuple(uow.activities.active(group)),
        pool=pool,
        leases=tuple(leases),
    )


def _signal(alert: AlertRecord) -> AlertSignal:
    return AlertSignal(
        alertname=alert.alertname,
        fingerprint=alert.fingerprint,
        starts_at=alert.starts_at,
        received_at=alert.received_at,
        labels=alert.labels,
        first=alert.last_evaluated_at is None,
    )


def observe(snap: Snapshot, readings: Readings, alert: AlertRecord | None = None) -> Observed:
    """The decision's inputs from the database's snapshot, the readings and the alert (pure)."""
    state = snap.record.state
    instances = snap.instances
    if readings.loads is not None:
        loads = readings.loads
        instances = tuple(i.model_copy(update={"load": loads.get(str(i.address))}) for i in instances)
    return Observed(
        instances=instances,
        in_progress=snap.active[0].id if snap.active else None,
        last_scale_out_at=state.last_scale_out_at,
        last_scale_in_at=state.last_scale_in_at,
        free_ips=free_ips(snap.pool, list(snap.leases), readings.ping),
        alert=_signal(alert) if alert is not None else None,
        metrics=readings.metrics,
        recommendations=state.recommendations,
        failure_backoff=state.failure_backoff,
        last_activity_end_at=state.last_activity_end_at,
        condition=readings.condition,
        replacements=state.replacements_owed,
    )
