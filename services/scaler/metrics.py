"""The scaler's own metrics, taken from the events it publishes and from its tables.

Nothing in the control loop calls these: ``ScalerMetrics.observe`` watches every event the
scaler publishes (``Bus.observe``), the alert handler reports the decision latency, and
``follow`` reads the groups and IP pools each few seconds into a collector. So a metric can
never change what the loop decides, and the loop's code stays free of metric calls.

Families (labels are bounded: group and pool names, enum values; never VM names)::

    vmscale_decisions_total{group,direction,reason}      counter   direction: out, in, none;
                                                                   reason: allowed or the block reason
    vmscale_decision_latency_seconds                     histogram alert received by the gateway
                                                                   → decision recorded
    vmscale_activities_started_total{group,kind}         counter
    vmscale_activities_total{group,kind,outcome}         counter   outcome: succeeded, rolled_back,
                                                                   failed, cancelled
    vmscale_activity_duration_seconds{kind,outcome}      histogram
    vmscale_activity_step_duration_seconds{step,phase}   histogram phase: forward, compensate
    vmscale_group_orphan_vms{group}                      gauge     tagged VMs without an instance
    vmscale_group_drift_detected_total{group}            counter
    vmscale_lease_holder_changes_total{group}            counter   this replica took a group's lease
                                                                   from another holder
    vmscale_group_size{group} / _in_service / _desired_size / _min_size / _max_size /
    vmscale_group_enabled{group}                         gauges    from the groups table
    vmscale_ip_pool_addresses{pool} / vmscale_ip_pool_free_addresses{pool}   gauges
    vmscale_capacity_snapshot_timestamp_seconds            gauge     when the read behind the gauges
                                                                   above began (unix time)

The group and pool gauges are a snapshot: read every ``CAPACITY_METRICS_INTERVAL_S`` and at once
after an event that changes a group's size (an activity started or ended), so they lag the tables
by one read. ``time() - vmscale_capacity_snapshot_timestamp_seconds`` says how old they are (a
database the scaler cannot read keeps the last snapshot and lets that age grow).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from services.scaler.domain.decide import BlockReason
from services.scaler.domain.saga import ActivityStatus, Phase, Step
from shared.loops import every
from shared.messages import (
    ActivityKind,
    ActivityRolledBack,
    ActivityStarted,
    ActivityStepCompleted,
    ActivitySucceeded,
    AlertFired,
    DecisionRecorded,
    GroupDriftDetected,
    GroupView,
    IpPoolView,
    Message,
    OrphanVmsDetected,
)
from shared.metrics import DURATION_BUCKETS, LATENCY_BUCKETS, bounded
from shared.subjects import Subject
from shared.telemetry import get_logger

__all__ = ["Capacity", "ScalerMetrics"]

log = get_logger(__name__)

_REASONS = frozenset({"allowed", *(reason.value for reason in BlockReason)})
_OUTCOMES = frozenset(status.value for status in ActivityStatus if status.terminal)
_KINDS = frozenset(kind.value for kind in ActivityKind)
_STEPS = frozenset(step.value for step in Step)


@dataclass(frozen=True)
class Capacity:
    """What the gauges show: every group and IP pool as last read."""

    groups: tuple[GroupView, ...] = ()
    pools: tuple[IpPoolView, ...] = ()
    read_at: float | None = None
    """Unix time the read began (None: nothing read yet)."""


def desired_size(group: GroupView) -> int:
    """The size the group converges to: its counted size held within min and max."""
    return max(group.min_size, min(group.max_size, group.size))


class _CapacityCollector(Collector):
    """Gauges from one ``Capacity`` snapshot, replaced whole (a scrape never sees half of one,
    and a deleted group or pool disappears with the next snapshot)."""

    def __init__(self) -> None:
        self.snapshot = Capacity()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snapshot = self.snapshot
        per_group: list[tuple[str, str, Callable[[GroupView], float]]] = [
            ("vmscale_group_size", "VMs the group counts (pending, provisioning, in service)", lambda g: g.size),
            ("vmscale_group_in_service", "VMs of the group in service", lambda g: g.in_service),
            ("vmscale_group_desired_size", "The size the group converges to", desired_size),
            ("vmscale_group_min_size", "The group's minimum size", lambda g: g.min_size),
            ("vmscale_group_max_size", "The group's maximum size", lambda g: g.max_size),
            ("vmscale_group_enabled", "1 when the group is enabled", lambda g: 1 if g.enabled else 0),
        ]
        for name, documentation, read in per_group:
            family = GaugeMetricFamily(name, documentation, labels=["group"])
            for group in snapshot.groups:
                family.add_metric([group.name], float(read(group)))
            yield family
        total = GaugeMetricFamily("vmscale_ip_pool_addresses", "Addresses an IP pool can hand out", labels=["pool"])
        free = GaugeMetricFamily("vmscale_ip_pool_free_addresses", "Addresses of an IP pool now free", labels=["pool"])
        for pool in snapshot.pools:
            total.add_metric([pool.name], float(pool.capacity))
            free.add_metric([pool.name], float(pool.free))
        yield total
        yield free
        if snapshot.read_at is not None:
            stamp = GaugeMetricFamily(
                "vmscale_capacity_snapshot_timestamp_seconds",
                "When the read behind the group and IP pool gauges began (unix time)",
            )
            stamp.add_metric([], snapshot.read_at)
            yield stamp


class ScalerMetrics:
    """The scaler's families (module docstring) in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.decisions = Counter(
            "vmscale_decisions",
            "Decisions recorded, by group, direction and reason (allowed or why blocked)",
            ["group", "direction", "reason"],
            registry=registry,
        )
        self.decision_latency = Histogram(
            "vmscale_decision_latency_seconds",
            "From the gateway receiving an alert to the scaler recording its decision",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.activities_started = Counter(
            "vmscale_activities_started", "Activities started, by group and kind", ["group", "kind"], registry=registry
        )
        self.activities = Counter(
            "vmscale_activities",
            "Activities ended, by group, kind and outcome",
            ["group", "kind", "outcome"],
            registry=registry,
        )
        self.activity_duration = Histogram(
            "vmscale_activity_duration_seconds",
            "How long activities took, by kind and outcome",
            ["kind", "outcome"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.step_duration = Histogram(
            "vmscale_activity_step_duration_seconds",
            "How long saga steps took, by step and phase (forward or compensate)",
            ["step", "phase"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.orphans = _OrphanGauge(registry)
        self.drift = Counter(
            "vmscale_group_drift_detected",
            "Times the group's instances and its load-balancer pool were found to disagree",
            ["group"],
            registry=registry,
        )
        self.lease_changes = Counter(
            "vmscale_lease_holder_changes",
            "Times this replica took a group's lease from another holder (or after a restart)",
            ["group"],
            registry=registry,
        )
        self._capacity = _CapacityCollector()
        registry.register(self._capacity)
        self._size_changed = asyncio.Event()

    # -- from events ----------------------------------------------------------------------------

    def observe(self, subject: Subject[Any], message: Message) -> None:
        """Count what a published event says (``Bus.observe``); other messages are ignored."""
        if isinstance(message, DecisionRecorded):
            reason = bounded(message.reason.partition(":")[0].strip(), _REASONS)
            self.decisions.labels(message.group, _direction(message), reason).inc()
        elif isinstance(message, ActivityStarted):
            self.activities_started.labels(message.group, message.kind.value).inc()
            self._size_changed.set()
        elif isinstance(message, ActivitySucceeded):
            self._ended(message.group, message.kind, ActivityStatus.SUCCEEDED.value, message.duration_s)
        elif isinstance(message, ActivityRolledBack):
            outcome = bounded(message.reason.partition(":")[0].strip(), _OUTCOMES, ActivityStatus.ROLLED_BACK.value)
            self._ended(message.group, message.kind, outcome, message.duration_s)
        elif isinstance(message, ActivityStepCompleted):
            if message.duration_s is not None:
                phase = Phase.COMPENSATE if message.compensation else Phase.FORWARD
                self.step_duration.labels(bounded(message.step, _STEPS), phase.value).observe(message.duration_s)
        elif isinstance(message, OrphanVmsDetected):
            self.orphans.set(message.group, len(message.vm_names))
        elif isinstance(message, GroupDriftDetected):
            self.drift.labels(message.group).inc()

    def _ended(self, group: str, kind: ActivityKind, outcome: str, duration_s: float) -> None:
        label = bounded(kind.value, _KINDS)
        self.activities.labels(group, label, outcome).inc()
        self.activity_duration.labels(label, outcome).observe(max(0.0, duration_s))
        self._size_changed.set()

    def decided(self, alert: AlertFired, now: datetime) -> None:
        """An alert's decision was recorded at ``now``: observe the latency since the gateway took it."""
        self.decision_latency.observe(max(0.0, (now - alert.occurred_at).total_seconds()))

    def lease_taken(self, group: str) -> None:
        """This replica took ``group``'s lease from another holder."""
        self.lease_changes.labels(group).inc()

    # -- from the tables ------------------------------------------------------------------------

    def capacity(self, snapshot: Capacity) -> None:
        """Show ``snapshot`` in the group and pool gauges."""
        self._capacity.snapshot = snapshot

    async def follow(
        self,
        groups: Callable[[], Awaitable[Sequence[GroupView]]],
        pools: Callable[[], Awaitable[Sequence[IpPoolView]]],
        interval_s: float,
    ) -> None:
        """Read groups and pools every ``interval_s`` into the gauges, for the life of the service,
        and at once after an activity started or ended (its event is published after its commit,
        so the read sees it). A failed read keeps the last snapshot (the gauges say what was last
        known; the snapshot timestamp says since when)."""

        async def read() -> None:
            began = time.time()
            self.capacity(Capacity(tuple(await groups()), tuple(await pools()), read_at=began))

        await every(
            interval_s, read, name="capacity gauges refresh", log=log, level=logging.DEBUG, wake=self._size_changed
        )


class _OrphanGauge(Collector):
    """``vmscale_group_orphan_vms{group}``: the last count the orphan sweep reported per group."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._counts: dict[str, int] = {}
        registry.register(self)

    def set(self, group: str, count: int) -> None:
        """The sweep found ``count`` orphans of ``group`` (0 clears it)."""
        self._counts = {**self._counts, group: count}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "vmscale_group_orphan_vms", "VMs tagged for the group without an instance record", labels=["group"]
        )
        for group, count in sorted(self._counts.items()):
            family.add_metric([group], float(count))
        yield family


def _direction(message: DecisionRecorded) -> str:
    """``out`` / ``in`` from the delta, else from the condition or alert seen, else ``none``."""
    if message.delta > 0:
        return "out"
    if message.delta < 0:
        return "in"
    condition = message.observed.get("condition")
    if isinstance(condition, dict) and condition.get("direction") in ("out", "in"):
        return str(condition["direction"])
    alert = message.observed.get("alert")
    name = str(alert.get("alertname", "")) if isinstance(alert, dict) else message.trigger
    if name.endswith("HighResourceUsage"):
        return "out"
    if name.endswith("LowResourceUsage"):
        return "in"
    return "none"
