"""Schema-valid domain values for the scaler's unit tests, with overrides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.scaler.domain import (
    AlertSignal,
    Instance,
    InstanceState,
    IpPool,
    MetricHistory,
    MetricPoint,
    MetricReading,
    Observed,
    ScalingGroup,
    assess,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def group(**overrides: Any) -> ScalingGroup:
    values: dict[str, Any] = {
        "name": "web",
        "vm_prefix": "web",
        "template": "web-template",
        "prometheus_job": "web",
        "min_size": 2,
        "max_size": 4,
        "pool": "web-pool",
        "vip": "127.0.0.1",
        "member_port": 8080,
        "ip_pool": "lab",
        "scale_out_cooldown_s": 300,
        "scale_in_cooldown_s": 600,
        "enabled": True,
    }
    values.update(overrides)
    return ScalingGroup.model_validate(values)


def pool(**overrides: Any) -> IpPool:
    values: dict[str, Any] = {
        "name": "lab",
        "network": "127.0.10.0/24",
        "gateway": "127.0.10.1",
        "ranges": [{"start": "127.0.10.10", "end": "127.0.10.19"}],
    }
    values.update(overrides)
    return IpPool.model_validate(values)


def instances(
    n: int, *, base: int = 0, state: InstanceState = InstanceState.IN_SERVICE, group_name: str = "web"
) -> tuple[Instance, ...]:
    out = []
    for index in range(n):
        out.append(
            Instance(
                group=group_name,
                vm_name=f"{group_name}-{index:02d}",
                address=f"127.0.10.{10 + index}",
                state=state,
                base=index < base,
                created_at=NOW - timedelta(hours=n - index),
            )
        )
    return tuple(out)


def alert(name: str = "web_HighResourceUsage", *, received: datetime = NOW, **labels: str) -> AlertSignal:
    return AlertSignal(
        alertname=name, fingerprint="f1", starts_at=received - timedelta(minutes=1), received_at=received, labels=labels
    )


def high() -> MetricReading:
    return MetricReading(available=True, cpu=92.0, memory=40.0)


def low() -> MetricReading:
    return MetricReading(available=True, cpu=5.0, memory=10.0)


def history_of(metrics: MetricReading | None, span_s: int = 700, step_s: int = 15) -> MetricHistory:
    """What Prometheus' range query would return had ``metrics`` held for the last ``span_s``."""
    if metrics is None or not metrics.available:
        return MetricHistory(available=False, error=(metrics.error if metrics else None) or "down", step_s=step_s)
    points = tuple(
        MetricPoint(at=NOW - timedelta(seconds=s), cpu=metrics.cpu, memory=metrics.memory)
        for s in range(span_s, -1, -step_s)
    )
    return MetricHistory(available=True, points=points, step_s=step_s)


def conditioned(g: ScalingGroup, obs: Observed) -> Observed:
    """``obs`` with the step policy's condition read from its metrics (held steadily)."""
    if obs.condition is not None:
        return obs
    return obs.model_copy(update={"condition": assess(g, history_of(obs.metrics), NOW)})


def observed(**overrides: Any) -> Observed:
    values: dict[str, Any] = {"instances": instances(3, base=2), "free_ips": 5, "alert": alert(), "metrics": high()}
    values.update(overrides)
    return Observed.model_validate(values)
