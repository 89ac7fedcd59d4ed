"""The gateway's history values: range presets, a group's size from its activities, stored events
merged with the live ring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.gateway.events import FeedEvent
from services.gateway.history import (
    MAX_POINTS,
    RANGES,
    merge_events,
    size_series,
    stored_events,
    window_of,
)
from shared import subjects
from shared.errors import InvalidInput
from shared.messages import ActivityView, DecisionView

STARTED = subjects.ACTIVITY_STARTED.name
ROLLED_BACK = subjects.ACTIVITY_ROLLED_BACK.name
DECIDED = subjects.DECISION_RECORDED.name

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def activity(
    n: int, kind: str, minutes_ago: int, status: str = "succeeded", took: int | None = 3, vms: int = 1
) -> ActivityView:
    created = NOW - timedelta(minutes=minutes_ago)
    return ActivityView(
        id=f"a{n}",
        group="web",
        kind=kind,
        status=status,
        cause="alert",
        created_at=created,
        finished_at=None if took is None else created + timedelta(minutes=took),
        vm_names=tuple(f"web-{n}-{i}" for i in range(vms)),
    )


def test_every_preset_returns_a_bounded_number_of_points() -> None:
    assert list(RANGES) == ["15m", "1h", "6h", "24h", "7d"]
    for preset in RANGES.values():
        points = preset.seconds // preset.step_s + 1
        assert points <= 241 and points < MAX_POINTS and preset.step_s >= 15
    assert (RANGES["7d"].minutes, RANGES["7d"].step_s) == (10080, 2520)
    assert RANGES["1h"].since(NOW) == NOW - timedelta(hours=1)


def test_an_unknown_range_names_the_presets() -> None:
    with pytest.raises(InvalidInput, match=r"unknown range '2d': use one of 15m, 1h, 6h, 24h, 7d") as raised:
        window_of("2d")
    assert raised.value.fields == (("range", "one of 15m, 1h, 6h, 24h, 7d"),)


def test_the_size_is_walked_back_from_now_through_each_change() -> None:
    history = [
        activity(1, "scale_out", 300, vms=2),  # before the range: ignored
        activity(2, "scale_out", 50, vms=2),
        activity(3, "scale_in", 40),
        activity(4, "scale_out", 30, status="rolled_back"),  # +1 at its start, -1 at its end
        activity(5, "scale_out", 5, status="running", took=None),  # pending VMs count
    ]
    series = size_series(history, size_now=4, since=NOW - timedelta(hours=1), now=NOW)
    assert [(int((NOW - at).total_seconds() // 60), size) for at, size in series] == [
        (60, 2),
        (50, 4),
        (40, 3),
        (30, 4),
        (27, 3),
        (5, 4),
        (0, 4),
    ]


def test_a_quiet_range_is_flat_and_the_size_never_goes_below_zero() -> None:
    since = NOW - timedelta(minutes=15)
    assert size_series([], 3, since, NOW) == [(since, 3), (NOW, 3)]
    series = size_series([activity(1, "scale_out", 10, vms=3)], 1, since, NOW)
    assert [size for _, size in series] == [0, 1, 1]


def ring_event(n: int, subject: str, at: datetime, data: dict[str, object]) -> FeedEvent:
    return FeedEvent(id=n, subject=subject, type=subject.split(".")[0], at=at, group="web", status=None, data=data)


def test_stored_events_fill_in_what_the_ring_lacks_newest_first() -> None:
    done = activity(1, "scale_out", 120, status="rolled_back")
    done = done.model_copy(update={"reason": "clone failed: password=hunter2", "failed_step": "clone"})
    decision = DecisionView(
        id="d-1",
        group="web",
        at=NOW - timedelta(minutes=121),
        allowed=True,
        delta=1,
        reason="allowed",
        message="cpu high",
        trigger="alert",
        rule="cpu",
        activity_id="a1",
    )
    stored = stored_events([done, activity(2, "scale_in", 10, took=None)], [decision])
    assert sorted(e.subject for e in stored) == [
        ROLLED_BACK,
        STARTED,
        STARTED,
        DECIDED,
    ]
    rolled = next(e for e in stored if e.subject == ROLLED_BACK)
    assert (rolled.id, rolled.status, rolled.data["failed_step"]) == (0, "failed", "clone")
    assert "hunter2" not in str(rolled.data)  # the scaler's text scrubbed as the ring's is
    assert next(e for e in stored if e.subject == DECIDED).status == "allowed"

    live = [ring_event(9, STARTED, NOW - timedelta(minutes=10), {"activity_id": "a2"})]
    merged = merge_events(live, stored, limit=10)
    assert [(e.subject, e.id) for e in merged] == [
        (STARTED, 9),  # the ring's, not the stored copy
        (ROLLED_BACK, 0),
        (STARTED, 0),
        (DECIDED, 0),
    ]
    assert [e.subject for e in merge_events(live, stored, limit=2)] == [STARTED, ROLLED_BACK]
