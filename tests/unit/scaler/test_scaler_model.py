"""Group, pool and policy validation: the original's MUST rules (docs/original-system.md §5.1)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.scaler.domain import IpPool, ManualChange, ScheduledAction, TargetTrackingPolicy, Thresholds
from tests.unit.scaler.scaler_factories import group, pool

INVALID_GROUPS = [
    ("scale-in CPU must be below scale-out", {"thresholds": {"cpu_low": 80, "cpu_high": 80}}, "CPU threshold"),
    (
        "scale-in memory must be below scale-out",
        {"thresholds": {"memory_low": 90, "memory_high": 80}},
        "memory threshold",
    ),
    ("scale-in duration strictly longer", {"thresholds": {"out_for_s": 60, "in_for_s": 60}}, "strictly longer"),
    ("threshold above 100", {"thresholds": {"cpu_high": 101}}, "less than or equal to 100"),
    ("min above max", {"min_size": 5, "max_size": 4}, "min_size must not exceed"),
    ("min at least one", {"min_size": 0}, "greater than or equal to 1"),
    ("steps at least one", {"scale_out_step": 0}, "greater than or equal to 1"),
    ("VIP port in range", {"vip_port": 70000}, "less than or equal to 65535"),
    ("member port in range", {"member_port": 0}, "greater than or equal to 1"),
    ("name is lowercase letters, digits, dashes", {"name": "Web Service"}, "pattern"),
    ("name has no surrounding spaces", {"name": " web"}, "pattern"),
    ("prefix must not say template", {"vm_prefix": "web-template"}, "template"),
    ("template name is trimmed", {"template": " auto-vm-test"}, "pattern"),
    ("flapping settings are refused", {"min_size": 1, "thresholds": {"cpu_low": 45, "cpu_high": 80}}, "flap"),
    ("a scale-in step that would flap", {"min_size": 2, "scale_in_step": 4}, "90% on 2 after a scale-in of 4"),
    (
        "duplicate policy names",
        {"policies": [{"kind": "target_tracking", "target": 50}, {"kind": "target_tracking", "target": 60}]},
        "unique",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), [c[1:] for c in INVALID_GROUPS], ids=[c[0] for c in INVALID_GROUPS])
def test_invalid_group_is_refused(overrides: dict, message: str) -> None:
    if "thresholds" in overrides:
        overrides = {**overrides, "thresholds": {**Thresholds().model_dump(), **overrides["thresholds"]}}
    with pytest.raises(ValidationError) as info:
        group(**overrides)
    assert message in str(info.value)


def test_the_original_lab_example_is_valid() -> None:
    g = group(
        name="auto-vm-test-service",
        vm_prefix="auto-vm-test",
        min_size=2,
        max_size=4,
        thresholds={
            "cpu_high": 80,
            "memory_high": 80,
            "out_for_s": 60,
            "cpu_low": 30,
            "memory_low": 30,
            "in_for_s": 300,
        },
    )
    assert g.scale_out_alert == "auto-vm-test-service_HighResourceUsage"
    assert g.scale_in_alert == "auto-vm-test-service_LowResourceUsage"


INVALID_POOLS = [
    ("range outside the network", {"ranges": [{"start": "127.0.11.1", "end": "127.0.11.5"}]}, "outside"),
    ("start after end", {"ranges": [{"start": "127.0.10.9", "end": "127.0.10.1"}]}, "after its end"),
    ("gateway outside the network", {"gateway": "127.0.11.1"}, "gateway"),
    ("octet above 255", {"ranges": [{"start": "127.0.10.256", "end": "127.0.10.9"}]}, "IPv4"),
]


@pytest.mark.parametrize(("overrides", "message"), [c[1:] for c in INVALID_POOLS], ids=[c[0] for c in INVALID_POOLS])
def test_invalid_pool_is_refused(overrides: dict, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        pool(**overrides)
    assert message in str(info.value)


def test_a_pool_accepts_the_original_netmask_form() -> None:
    p = IpPool.model_validate(
        {
            "name": "lab",
            "netmask": "255.255.255.0",
            "gateway": "127.0.10.1",
            "ranges": [{"start": "127.0.10.200", "end": "127.0.10.201"}],
        }
    )
    assert str(p.network) == "127.0.10.0/24"


def test_policies_validate_their_own_fields() -> None:
    with pytest.raises(ValidationError, match="cron"):
        ScheduledAction(name="x", cron="not a cron", desired=2)
    with pytest.raises(ValidationError, match="time zone"):
        ScheduledAction(name="x", cron="0 8 * * *", timezone="Mars/Olympus", desired=2)
    with pytest.raises(ValidationError, match="custom"):
        TargetTrackingPolicy(metric="custom", target=5)
    with pytest.raises(ValidationError, match="exactly one"):
        ManualChange(desired=3, delta=1)
