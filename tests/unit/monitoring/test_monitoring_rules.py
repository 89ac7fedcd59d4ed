"""Alert rules keep the original's contract, with max() over instances (lessons 12, 13)."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from services.monitoring.domain import RuleOptions, render_rules
from services.monitoring.domain.rules import duration
from shared.errors import InvalidInput
from shared.messages import AlertRuleSpec

SPEC = AlertRuleSpec(job="web-job", cpu_high=80, memory_high=85, cpu_low=30, memory_low=35, out_for_s=300, in_for_s=600)


def rendered(spec: AlertRuleSpec = SPEC, group: str = "web", options: RuleOptions | None = None) -> dict:
    return yaml.safe_load(render_rules(group, spec, "cfg-7", options or RuleOptions()))


def test_one_rule_group_named_svc_autoscale_with_the_two_alerts() -> None:
    (group,) = rendered()["groups"]
    assert group["name"] == "web-autoscale"
    assert group["interval"] == "15s"
    assert [r["alert"] for r in group["rules"]] == ["web_HighResourceUsage", "web_LowResourceUsage"]


def test_scale_out_labels_and_duration() -> None:
    high = rendered()["groups"][0]["rules"][0]
    assert high["for"] == "5m"
    assert high["labels"] == {"severity": "warning", "service": "web", "autoscaleConfigId": "cfg-7", "instance": "all"}


def test_scale_in_labels_carry_scale_action() -> None:
    low = rendered()["groups"][0]["rules"][1]
    assert low["for"] == "10m"
    assert low["labels"] == {
        "severity": "info",
        "service": "web",
        "autoscaleConfigId": "cfg-7",
        "scaleAction": "scale-in",
        "instance": "all",
    }


def test_scale_out_fires_on_the_busiest_instance_above_cpu_or_memory() -> None:
    expr = rendered()["groups"][0]["rules"][0]["expr"]
    assert expr.count("max(") == 2
    assert "min(" not in expr
    assert "> 80" in expr and "> 85" in expr and "\n  or\n" in expr
    assert 'rate(node_cpu_seconds_total{mode="idle",job="web-job"}[5m])' in expr
    assert 'node_memory_MemAvailable_bytes{job="web-job"}' in expr


def test_scale_in_needs_the_busiest_instance_below_cpu_and_memory() -> None:
    expr = rendered()["groups"][0]["rules"][1]["expr"]
    assert expr.count("max(") == 2
    assert "min(" not in expr
    assert "< 30" in expr and "< 35" in expr and "\n  and\n" in expr


def test_lab_options_compress_the_rate_window_and_interval() -> None:
    document = rendered(options=RuleOptions(interval="1s", rate_window="10s"))
    assert document["groups"][0]["interval"] == "1s"
    assert "[10s]" in document["groups"][0]["rules"][0]["expr"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(300, "5m"), (60, "1m"), (5, "5s"), (90, "90s"), (0, "0s")],
    ids=["5m", "1m", "5s", "90s", "0"],
)
def test_durations_use_minutes_when_whole(seconds: int, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(
    "changes",
    [{"cpu_low": 80}, {"memory_low": 90}, {"in_for_s": 300}, {"in_for_s": 100}],
    ids=["cpu-low-not-below", "memory-low-above", "same-duration", "shorter-scale-in"],
)
def test_inconsistent_thresholds_are_refused(changes: dict) -> None:
    with pytest.raises(InvalidInput):
        render_rules("web", SPEC.model_copy(update=changes), "c", RuleOptions())


@pytest.mark.parametrize(
    "group", ["web service", 'x"y', "", "a/b", "-lead"], ids=["space", "quote", "empty", "slash", "dash"]
)
def test_unsafe_group_names_are_refused(group: str) -> None:
    with pytest.raises(InvalidInput):
        render_rules(group, SPEC, "c", RuleOptions())


@given(
    cpu_high=st.integers(2, 100),
    memory_high=st.integers(2, 100),
    data=st.data(),
)
def test_any_valid_thresholds_render_exactly_what_was_asked(
    cpu_high: int, memory_high: int, data: st.DataObject
) -> None:
    cpu_low = data.draw(st.integers(0, cpu_high - 1))
    memory_low = data.draw(st.integers(0, memory_high - 1))
    spec = AlertRuleSpec(
        job="j",
        cpu_high=cpu_high,
        memory_high=memory_high,
        cpu_low=cpu_low,
        memory_low=memory_low,
        out_for_s=60,
        in_for_s=120,
    )
    high, low = rendered(spec)["groups"][0]["rules"]
    assert f"> {cpu_high}\n" in high["expr"] and f"> {memory_high}\n" in high["expr"]
    assert f"< {cpu_low}\n" in low["expr"] and f"< {memory_low}\n" in low["expr"]
