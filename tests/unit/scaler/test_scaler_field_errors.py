"""Invalid group settings come back with each message on the field it is about, once."""

from __future__ import annotations

from typing import Any

import pytest

from services.scaler.domain.errors import InvalidPolicy
from services.scaler.groups import parse_group, parse_pool

GOOD: dict[str, Any] = {
    "name": "shop",
    "vm_prefix": "shop",
    "template": "ubuntu-22-template",
    "prometheus_job": "shop",
    "min_size": 2,
    "max_size": 4,
    "pool": "web-pool",
    "vip": "127.0.10.100",
    "ip_pool": "lab",
}


def fields_of(spec: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    with pytest.raises(InvalidPolicy) as caught:
        parse_group(spec)
    return caught.value.fields


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"min_size": 5, "max_size": 2}, (("min_size", "min_size must not exceed max_size"),)),
        ({"min_size": 0}, (("min_size", "Input should be greater than or equal to 1"),)),
        (
            {"thresholds": {"cpu_low": 90}},
            (("thresholds.cpu_low", "scale-in CPU threshold must be below the scale-out one"),),
        ),
        (
            {"thresholds": {"in_for_s": 60, "out_for_s": 300}},
            (("thresholds.in_for_s", "scale-in duration must be strictly longer than the scale-out duration"),),
        ),
        ({"vm_prefix": "my-template"}, (("vm_prefix", "vm_prefix must not contain the word 'template'"),)),
        (
            {"post_provision_hook": {"kind": "jenkins", "target": ""}},
            (("post_provision_hook.target", "String should have at least 1 character"),),
        ),
    ],
    ids=["min-above-max", "min-zero", "cpu-low-above-high", "scale-in-shorter", "prefix-template", "hook-target"],
)
def test_a_rule_lands_on_the_field_it_is_about(change: dict[str, Any], expected: tuple[tuple[str, str], ...]) -> None:
    assert fields_of({**GOOD, **change}) == expected


def test_a_policy_error_names_the_policy_of_its_kind_only() -> None:
    policies = [
        {"kind": "target_tracking", "target": -1},
        {"kind": "scheduled", "name": "night", "cron": "not a cron", "desired": 2},
    ]
    assert fields_of({**GOOD, "min_size": 1, "policies": policies}) == (
        ("policies.0.target", "Input should be greater than 0"),
        ("policies.1", "invalid cron expression 'not a cron'"),
    )


def test_the_flapping_lint_is_about_the_whole_group_and_keeps_its_explanation() -> None:
    fields = fields_of({**GOOD, "min_size": 1, "max_size": 3, "thresholds": {"cpu_low": 50, "memory_low": 20}})
    assert fields == (
        ("", "settings would flap: CPU 50% on 2 VMs becomes 100% on 1, at or above the scale-out threshold 80%"),
    )


def test_the_message_still_lists_every_problem_on_its_own() -> None:
    with pytest.raises(InvalidPolicy) as caught:
        parse_group({**GOOD, "min_size": 0, "vip": ""})
    assert str(caught.value).startswith("invalid group: min_size: Input should be greater than or equal to 1; vip:")
    assert [field for field, _ in caught.value.fields] == ["min_size", "vip"]


def test_an_ip_pool_range_outside_its_network_is_on_the_pool() -> None:
    with pytest.raises(InvalidPolicy) as caught:
        parse_pool(
            {"name": "lab", "network": "127.0.50.0/24", "ranges": [{"start": "127.0.51.1", "end": "127.0.51.9"}]}
        )
    assert caught.value.fields == (("", "range 127.0.51.1-127.0.51.9 is outside 127.0.50.0/24"),)
