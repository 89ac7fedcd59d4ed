"""The original's two alert rules per scaling group, rendered into the group's own rule file.

Contract kept from the original (docs/original-system.md §7.1): rule group ``<svc>-autoscale``, alerts
``<svc>_HighResourceUsage`` (scale-out: the busiest instance is above the CPU **or** memory
threshold) and ``<svc>_LowResourceUsage`` (scale-in: the busiest instance is below the CPU
**and** memory thresholds, i.e. every instance is low — ``max()``, never ``min()``, lesson 12),
labels ``severity`` (warning / info), ``service``, ``autoscaleConfigId``, ``instance: all`` and
``scaleAction: scale-in`` on the scale-in rule. The rate window and the group interval are
settings (``5m`` / ``15s`` in production, compressed in the lab).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from services.monitoring.domain.names import alert_names, check_group, check_job, rule_group_name
from shared.errors import InvalidInput
from shared.vocabulary import AlertRuleSpec

__all__ = ["RuleOptions", "cpu_expr", "duration", "memory_expr", "render_rules", "rule_file_name"]


@dataclass(frozen=True)
class RuleOptions:
    """Deployment-wide rendering options."""

    interval: str = "15s"
    rate_window: str = "5m"


def duration(seconds: int) -> str:
    """A Prometheus duration: whole minutes as ``Nm`` (the original's unit), else ``Ns``."""
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def cpu_expr(job: str, window: str) -> str:
    """Per-instance CPU use in percent."""
    return f'100 - (avg by (instance) (rate(node_cpu_seconds_total{{mode="idle",job="{job}"}}[{window}])) * 100)'


def memory_expr(job: str) -> str:
    """Per-instance memory use in percent."""
    return (
        f'(1 - (avg by (instance) (node_memory_MemAvailable_bytes{{job="{job}"}})'
        f' / avg by (instance) (node_memory_MemTotal_bytes{{job="{job}"}}))) * 100'
    )


def rule_file_name(group: str) -> str:
    """The group's rule file: ``<group>.yml`` in the rules directory."""
    return f"{check_group(group)}.yml"


def _check(spec: AlertRuleSpec) -> None:
    if spec.cpu_low >= spec.cpu_high or spec.memory_low >= spec.memory_high:
        raise InvalidInput("scale-in thresholds must be below the scale-out thresholds")
    if spec.in_for_s <= spec.out_for_s:
        raise InvalidInput("the scale-in duration must be longer than the scale-out duration")


def render_rules(group: str, spec: AlertRuleSpec, config_id: str, options: RuleOptions) -> str:
    """The YAML rule file of ``group`` (one rule group with the two alerts).

    Raises ``InvalidInput`` for a bad group or job name or inconsistent thresholds.
    """
    check_group(group)
    job = check_job(spec.job)
    _check(spec)
    high, low = alert_names(group)
    cpu, mem = cpu_expr(job, options.rate_window), memory_expr(job)
    out_for, in_for = duration(spec.out_for_s), duration(spec.in_for_s)
    instances = "{{ $labels.job }}/{{ $labels.instance }}"
    rules: list[dict[str, Any]] = [
        {
            "alert": high,
            "expr": f"(\n  max({cpu}) > {spec.cpu_high:g}\n  or\n  max({mem}) > {spec.memory_high:g}\n)\n",
            "for": out_for,
            "labels": {
                "severity": "warning",
                "service": group,
                "autoscaleConfigId": config_id,
                "instance": "all",
            },
            "annotations": {
                "summary": f"{group} needs a scale-out (high resource usage)",
                "description": (
                    f"The busiest instance of job {job} is above {spec.cpu_high:g}% CPU or "
                    f"{spec.memory_high:g}% memory for {out_for}."
                ),
                "instances": instances,
            },
        },
        {
            "alert": low,
            "expr": f"(\n  max({cpu}) < {spec.cpu_low:g}\n  and\n  max({mem}) < {spec.memory_low:g}\n)\n",
            "for": in_for,
            "labels": {
                "severity": "info",
                "service": group,
                "autoscaleConfigId": config_id,
                "scaleAction": "scale-in",
                "instance": "all",
            },
            "annotations": {
                "summary": f"{group} can scale in (low resource usage)",
                "description": (
                    f"Every instance of job {job} is below {spec.cpu_low:g}% CPU and "
                    f"{spec.memory_low:g}% memory for {in_for}."
                ),
                "instances": instances,
            },
        },
    ]
    document = {"groups": [{"name": rule_group_name(group), "interval": options.interval, "rules": rules}]}
    return yaml.safe_dump(document, sort_keys=False, width=200)
