"""The group form's "next three runs" are when the scaler's schedule arithmetic fires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.gateway.api.schedules import next_runs
from services.scaler.domain.model import ScheduledAction
from services.scaler.domain.schedule import last_fire
from shared.errors import InvalidInput

NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # a Monday, 13:00 in Seoul


def test_weekday_mornings_in_seoul_are_the_next_three_weekdays_at_eight_local() -> None:
    runs = next_runs("0 8 * * 1-5", "Asia/Seoul", 3, NOW)
    assert runs == [
        datetime(2026, 12, 7, 23, 0, tzinfo=UTC),  # Tuesday 08:00 KST
        datetime(2026, 12, 8, 23, 0, tzinfo=UTC),
        datetime(2026, 12, 9, 23, 0, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("cron", "zone"),
    [("0 8 * * 1-5", "Asia/Seoul"), ("*/15 * * * *", "UTC"), ("30 2 * * 0", "Europe/London")],
    ids=["weekday-seoul", "quarter-hour", "sunday-london"],
)
def test_each_run_shown_is_a_time_the_scaler_considers_fired(cron: str, zone: str) -> None:
    action = ScheduledAction(name="a", cron=cron, timezone=zone, desired=2)
    for run in next_runs(cron, zone, 3, NOW):
        assert last_fire(action, run) == run
        assert last_fire(action, run - timedelta(seconds=1)) < run


@pytest.mark.parametrize(
    ("cron", "zone", "field"),
    [("every morning", "UTC", "cron"), ("0 8 * * *", "Mars/Olympus", "timezone")],
    ids=["bad-cron", "bad-zone"],
)
def test_a_bad_expression_or_zone_is_invalid_input_on_its_field(cron: str, zone: str, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        next_runs(cron, zone, 3, NOW)
    assert [name for name, _ in caught.value.fields] == [field]
