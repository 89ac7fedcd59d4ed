"""vmscale's own metric families: Prometheus names and types, bounded labels, promtool's lint."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from shared import subjects
from shared.metrics import BusMetrics, ConsumeOutcome, ServiceMetrics, bounded, gauge_function
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings
from testkit.promtool import lint_metrics

CLONE = subjects.CMD_VM_CLONE.name


def families(registry: CollectorRegistry) -> dict[str, str]:
    """``name → type`` as a scraper parses the exposition."""
    text = generate_latest(registry).decode()
    return {family.name: family.type for family in text_string_to_metric_families(text)}


def test_every_service_exposes_the_common_families_with_their_types(tmp_path: Path) -> None:
    runtime = ServiceRuntime("monitoring", ServiceSettings(state_dir=tmp_path))
    runtime.bus.metrics.published.labels(CLONE).inc()
    runtime.bus.metrics.dead_lettered.labels(CLONE).inc()
    found = families(runtime.registry)
    expected = {
        "vmscale_service_up": "gauge",
        "vmscale_service_start_time_seconds": "gauge",
        "vmscale_dependency_up": "gauge",
        "vmscale_bus_published": "counter",
        "vmscale_bus_publish_errors": "counter",
        "vmscale_bus_consume_errors": "counter",
        "vmscale_dead_letters": "counter",
    }
    assert {name: found.get(name) for name in expected} == expected
    text = generate_latest(runtime.registry).decode()
    assert f'vmscale_bus_published_total{{subject="{CLONE}"}} 1.0' in text
    assert f'vmscale_dead_letters_total{{subject="{CLONE}"}} 1.0' in text


def test_promtool_accepts_the_common_exposition(tmp_path: Path) -> None:
    runtime = ServiceRuntime("scaler", ServiceSettings(state_dir=tmp_path))
    runtime.metrics.started(1_700_000_000.0)
    runtime.metrics.checked({"nats": "ok", "database": "ok", "redis": "refused"})
    runtime.bus.metrics.consume_errors.labels(subjects.ALERT_FIRED.name, ConsumeOutcome.RETRIED.value).inc()
    assert lint_metrics(generate_latest(runtime.registry).decode()) is None


async def test_each_health_round_sets_one_dependency_gauge_per_check(tmp_path: Path) -> None:
    runtime = ServiceRuntime("monitoring", ServiceSettings(state_dir=tmp_path))

    async def fine() -> None:
        return None

    async def refused() -> str:
        return "grafana is unreachable"

    runtime.add_check("prometheus", fine, critical=False)
    runtime.add_check("grafana", refused, critical=False)
    await runtime.health()
    value = runtime.registry.get_sample_value
    assert value("vmscale_dependency_up", {"service": "monitoring", "dependency": "prometheus"}) == 1.0
    assert value("vmscale_dependency_up", {"service": "monitoring", "dependency": "grafana"}) == 0.0
    # the bus was never connected: the gauge says so, whatever the health reply's fixed "nats: ok"
    assert value("vmscale_dependency_up", {"service": "monitoring", "dependency": "nats"}) == 0.0


def test_the_service_gauges_follow_start_and_stop() -> None:
    registry = CollectorRegistry()
    metrics = ServiceMetrics(registry, "inventory")
    metrics.started(1234.5)
    assert registry.get_sample_value("vmscale_service_up", {"service": "inventory"}) == 1.0
    assert registry.get_sample_value("vmscale_service_start_time_seconds", {"service": "inventory"}) == 1234.5
    metrics.stopped()
    assert registry.get_sample_value("vmscale_service_up", {"service": "inventory"}) == 0.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [(subjects.CMD_VM_CLONE.name, subjects.CMD_VM_CLONE.name), ("web-20261207-0001", "other"), ("", "other")],
    ids=["known", "a VM name", "empty"],
)
def test_a_label_outside_its_set_becomes_other(value: str, expected: str) -> None:
    assert bounded(value, frozenset({subjects.CMD_VM_CLONE.name})) == expected


def test_a_function_gauge_reads_at_scrape_time_and_is_nan_while_unknown() -> None:
    registry = CollectorRegistry()
    current: list[float | None] = [None]
    gauge_function(registry, "vmscale_test_age_seconds", "test", lambda: current[0])
    assert math.isnan(registry.get_sample_value("vmscale_test_age_seconds") or 0.0)
    current[0] = 4.5
    assert registry.get_sample_value("vmscale_test_age_seconds") == 4.5


def test_two_registries_never_collide() -> None:
    BusMetrics(CollectorRegistry())
    BusMetrics(CollectorRegistry())  # a second service in one process: no duplicate-timeseries error
