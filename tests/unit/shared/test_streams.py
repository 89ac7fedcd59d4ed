"""A stream's wanted configuration, and the plan that brings a server's stream to it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from nats.js.api import RetentionPolicy, StorageType

from shared import subjects
from shared.bus import DUPLICATE_WINDOW_S, STREAM_MAX_AGE_S, Topology, build_broker
from shared.streams import plan_stream, wanted_stream

COMMANDS = list(subjects.COMMAND_STREAM_SUBJECTS)
ONE = subjects.CMD_VM_CLONE.name


def wanted(replicas: int = 3):  # type: ignore[no-untyped-def]
    return wanted_stream("VMSCALE_COMMANDS", COMMANDS, replicas=replicas, duplicate_window_s=120, max_age_s=3600)


def test_the_wanted_stream_is_file_backed_limits_retained_and_replicated() -> None:
    config = wanted(3)
    assert (config.storage, config.retention, config.num_replicas) == (StorageType.FILE, RetentionPolicy.LIMITS, 3)
    assert (config.duplicate_window, config.max_age, config.subjects) == (120, 3600, COMMANDS)


def test_zero_replicas_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one replica"):
        wanted(0)


def test_a_missing_stream_is_created() -> None:
    plan = plan_stream(None, wanted())
    assert plan.action == "create"
    assert plan.config == wanted()


def test_a_stream_as_wanted_is_left_alone() -> None:
    plan = plan_stream(replace(wanted(), subjects=COMMANDS), wanted())
    assert (plan.action, plan.changes, plan.refused) == ("none", (), ())


@pytest.mark.parametrize(
    ("existing", "change"),
    [
        ({"num_replicas": 1}, "num_replicas: 1 -> 3"),
        ({"subjects": [ONE]}, f"subjects: {[ONE]} -> {COMMANDS}"),
        ({"max_age": 60.0}, "max_age: 60.0 -> 3600"),
        ({"duplicate_window": 0}, "duplicate_window: 0 -> 120"),
    ],
    ids=["replicas", "subjects", "max-age", "duplicate-window"],
)
def test_a_setting_nats_can_change_is_updated(existing: dict[str, object], change: str) -> None:
    plan = plan_stream(replace(wanted(), **existing), wanted())
    assert plan.action == "update"
    assert plan.changes == (change,)
    assert plan.config == wanted()
    assert plan.refused == ()


def test_an_operators_own_setting_survives_the_update() -> None:
    existing = replace(wanted(1), max_msgs=1_000_000, description="sized by ops")
    plan = plan_stream(existing, wanted(3))
    assert plan.config.max_msgs == 1_000_000
    assert plan.config.description == "sized by ops"
    assert plan.config.num_replicas == 3


@pytest.mark.parametrize(
    ("existing", "refusal"),
    [
        ({"storage": StorageType.MEMORY}, "storage: server has memory, wanted file"),
        ({"retention": RetentionPolicy.WORK_QUEUE}, "retention: server has workqueue, wanted limits"),
    ],
    ids=["storage", "retention"],
)
def test_a_setting_nats_cannot_change_is_reported_and_kept(existing: dict[str, object], refusal: str) -> None:
    plan = plan_stream(replace(wanted(1), **existing), wanted(3))
    assert plan.refused == (refusal,)
    assert plan.action == "update"  # what can change still does
    assert plan.config.num_replicas == 3
    for name, value in existing.items():
        assert getattr(plan.config, name) == value


def test_the_bus_wants_its_three_streams_with_its_replica_count() -> None:
    bus = build_broker(
        "nats://127.0.0.1:4222,nats://127.0.0.1:4223", client_name="t", topology=Topology("p"), replicas=3
    )
    streams = bus.wanted_streams()
    assert [s.name for s in streams] == ["p_VMSCALE_COMMANDS", "p_VMSCALE_EVENTS", "p_VMSCALE_DLQ"]
    assert {s.num_replicas for s in streams} == {3}
    assert {(s.duplicate_window, s.max_age) for s in streams} == {(DUPLICATE_WINDOW_S, STREAM_MAX_AGE_S)}
    assert streams[0].subjects == [f"p.{pattern}" for pattern in COMMANDS]
