"""The stand-in back ends' default data: pool members, rule groups as Prometheus shows them."""

from __future__ import annotations

from typing import Any

import yaml

from services.monitoring.domain.rules import RuleOptions, render_rules, rule_file_name
from shared.messages import AlertRuleSpec, MemberAdmin, MemberHealth, MemberState, PoolMember

__all__ = ["rule_groups_of", "up_member"]


def up_member(name: str, address: str) -> PoolMember:
    """A pool member on port 80, enabled and up."""
    return PoolMember(
        name=name,
        address=address,
        port=80,
        state=MemberState.UP,
        admin=MemberAdmin.ENABLED,
        health=MemberHealth.UP,
    )


def rule_groups_of(group: str, job: str) -> tuple[dict[str, Any], ...]:
    """``group``'s rule group as Prometheus' ``/api/v1/rules`` shows it, rendered by the monitoring
    service's own code from the default thresholds (so its PromQL is the real one)."""
    spec = AlertRuleSpec(job=job, cpu_high=80, memory_high=80, cpu_low=30, memory_low=30, out_for_s=300, in_for_s=600)
    [rendered] = yaml.safe_load(render_rules(group, spec, group, RuleOptions()))["groups"]
    rules = [
        {
            "name": rule["alert"],
            "query": rule["expr"],
            "duration": int(rule["for"].removesuffix("m")) * 60,
            "labels": rule["labels"],
            "annotations": rule["annotations"],
            "alerts": [],
            "health": "ok",
            "type": "alerting",
            "state": "inactive",
        }
        for rule in rendered["rules"]
    ]
    file = f"/etc/prometheus/rules/{rule_file_name(group)}"
    return ({"name": rendered["name"], "file": file, "interval": 15, "rules": rules},)
