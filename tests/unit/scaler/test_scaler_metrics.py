"""The scaler's metrics follow what it does: decisions, activities and steps counted from the
events it publishes, group and pool gauges from its tables, all lint-clean for Prometheus."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from services.scaler.metrics import Capacity, ScalerMetrics
from shared.messages import (
    ActivityKind,
    ActivitySucceeded,
    DecisionRecorded,
    GroupView,
    IpPoolView,
    OrphanVmsDetected,
    utcnow,
)
from testkit.promtool import lint_metrics
from tests.unit.scaler.scaler_harness import Harness


def observed_harness() -> tuple[Harness, ScalerMetrics, CollectorRegistry]:
    registry = CollectorRegistry()
    metrics = ScalerMetrics(registry)
    h = Harness()
    h.publisher.listeners.append(metrics.observe)  # what Bus.observe does in the service
    return h, metrics, registry


async def test_a_scale_out_counts_one_allowed_decision_one_activity_and_its_steps() -> None:
    h, _, registry = observed_harness()
    await h.setup()
    await h.fire()
    value = registry.get_sample_value
    assert value("vmscale_decisions_total", {"group": "web", "direction": "out", "reason": "allowed"}) == 1.0
    assert value("vmscale_activities_started_total", {"group": "web", "kind": "scale_out"}) == 1.0
    assert value("vmscale_activities_total", {"group": "web", "kind": "scale_out", "outcome": "succeeded"}) == 1.0
    assert value("vmscale_activity_duration_seconds_count", {"kind": "scale_out", "outcome": "succeeded"}) == 1.0
    for step in ("clone", "power_on", "register_monitoring", "add_pool_member"):
        assert value("vmscale_activity_step_duration_seconds_count", {"step": step, "phase": "forward"}) == 1.0


async def test_a_rolled_back_scale_out_is_counted_as_rolled_back_with_its_compensations() -> None:
    h, _, registry = observed_harness()
    await h.setup()
    h.world.fail(operation="register", times=5)
    await h.fire()
    value = registry.get_sample_value
    labels = {"group": "web", "kind": "scale_out"}
    assert value("vmscale_activities_total", {**labels, "outcome": "rolled_back"}) == 1.0
    assert value("vmscale_activities_total", {**labels, "outcome": "succeeded"}) is None
    compensated = [
        sample
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        if family.name == "vmscale_activity_step_duration_seconds"
        for sample in family.samples
        if sample.name.endswith("_count") and sample.labels["phase"] == "compensate"
    ]
    assert compensated and all(sample.value >= 1 for sample in compensated)


async def test_a_blocked_decision_is_counted_by_its_reason_and_the_direction_it_wanted() -> None:
    h, _, registry = observed_harness()
    await h.setup(max_size=2)  # two base VMs: already at max
    await h.fire()
    assert (
        registry.get_sample_value("vmscale_decisions_total", {"group": "web", "direction": "out", "reason": "at_max"})
        == 1.0
    )


def test_a_reason_outside_the_known_set_is_counted_as_other() -> None:
    registry = CollectorRegistry()
    ScalerMetrics(registry).observe(
        None,  # type: ignore[arg-type]
        DecisionRecorded(group="web", allowed=False, reason="something new: text", trigger="evaluation"),
    )
    labels = {"group": "web", "direction": "none", "reason": "other"}
    assert registry.get_sample_value("vmscale_decisions_total", labels) == 1.0


async def test_the_gauges_show_each_group_and_pool_as_last_read() -> None:
    h, metrics, registry = observed_harness()
    await h.setup()
    await h.fire()
    metrics.capacity(Capacity(tuple(await h.scaler.views.groups()), tuple(await h.scaler.views.pools())))
    value = registry.get_sample_value
    group = {"group": "web"}
    assert value("vmscale_group_size", group) == 3.0
    assert value("vmscale_group_in_service", group) == 3.0
    assert value("vmscale_group_desired_size", group) == 3.0
    assert (value("vmscale_group_min_size", group), value("vmscale_group_max_size", group)) == (2.0, 4.0)
    assert value("vmscale_ip_pool_addresses", {"pool": "lab"}) == 10.0
    assert value("vmscale_ip_pool_free_addresses", {"pool": "lab"}) == 9.0
    metrics.capacity(Capacity())  # the group was deleted: its series go with it
    assert value("vmscale_group_size", group) is None


async def test_an_ended_activity_has_the_gauges_read_again_without_waiting_for_the_interval() -> None:
    registry = CollectorRegistry()
    metrics = ScalerMetrics(registry)
    reads: asyncio.Queue[float] = asyncio.Queue()

    async def groups() -> tuple[GroupView, ...]:
        reads.put_nowait(registry.get_sample_value("vmscale_capacity_snapshot_timestamp_seconds") or 0.0)
        return ()

    async def pools() -> tuple[IpPoolView, ...]:
        return ()

    follower = asyncio.create_task(metrics.follow(groups, pools, interval_s=3600))
    try:
        await asyncio.wait_for(reads.get(), 10)  # the first read, at once
        ended = ActivitySucceeded(activity_id="a1", group="web", kind=ActivityKind.SCALE_OUT, duration_s=1.0)
        metrics.observe(None, ended)  # type: ignore[arg-type]
        previous = await asyncio.wait_for(reads.get(), 10)  # a second read, long before the hour is up
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
    stamp = registry.get_sample_value("vmscale_capacity_snapshot_timestamp_seconds")
    assert previous > 0.0 and stamp is not None and stamp >= previous


def test_the_decision_latency_runs_from_the_gateway_taking_the_alert_to_the_decision() -> None:
    registry = CollectorRegistry()
    metrics = ScalerMetrics(registry)
    h = Harness()
    alert = h.alert()
    metrics.decided(alert, alert.occurred_at + timedelta(milliseconds=300))
    assert registry.get_sample_value("vmscale_decision_latency_seconds_count") == 1.0
    assert registry.get_sample_value("vmscale_decision_latency_seconds_sum") == pytest.approx(0.3)
    assert registry.get_sample_value("vmscale_decision_latency_seconds_bucket", {"le": "0.25"}) == 0.0
    assert registry.get_sample_value("vmscale_decision_latency_seconds_bucket", {"le": "0.5"}) == 1.0


def test_orphans_and_lease_changes_are_shown_per_group() -> None:
    registry = CollectorRegistry()
    metrics = ScalerMetrics(registry)
    metrics.observe(None, OrphanVmsDetected(group="web", vm_names=("web-x", "web-y")))  # type: ignore[arg-type]
    metrics.lease_taken("web")
    assert registry.get_sample_value("vmscale_group_orphan_vms", {"group": "web"}) == 2.0
    assert registry.get_sample_value("vmscale_lease_holder_changes_total", {"group": "web"}) == 1.0
    metrics.observe(None, OrphanVmsDetected(group="web"))  # type: ignore[arg-type]
    assert registry.get_sample_value("vmscale_group_orphan_vms", {"group": "web"}) == 0.0


async def test_promtool_accepts_the_scaler_exposition_after_real_work() -> None:
    h, metrics, registry = observed_harness()
    await h.setup()
    await h.fire()
    metrics.capacity(Capacity(tuple(await h.scaler.views.groups()), tuple(await h.scaler.views.pools())))
    metrics.decided(h.alert(), utcnow())
    text = generate_latest(registry).decode()
    assert await asyncio.to_thread(lint_metrics, text) is None
    types = {family.name: family.type for family in text_string_to_metric_families(text)}
    assert types["vmscale_decision_latency_seconds"] == "histogram"
    assert types["vmscale_activity_step_duration_seconds"] == "histogram"
    assert types["vmscale_decisions"] == "counter" and types["vmscale_group_size"] == "gauge"
