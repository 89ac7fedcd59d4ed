"""Pure schedule arithmetic for scheduled actions (cron in a time zone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from services.scaler.domain.model import ScheduledAction

__all__ = ["due", "last_fire"]


def last_fire(action: ScheduledAction, now: datetime) -> datetime:
    """The most recent time at or before ``now`` the action's cron fired (aware UTC)."""
    # croniter's get_prev is exclusive; a second later makes an exact fire time count.
    local_now = (now + timedelta(seconds=1)).astimezone(ZoneInfo(action.timezone))
    fired = croniter(action.cron, local_now).get_prev(datetime)
    result: datetime = fired.astimezone(UTC)
    return result


def due(action: ScheduledAction, last_run: datetime | None, now: datetime, created: datetime) -> bool:
    """True when the action fired after its last run (or after ``created`` if it never ran)."""
    fired = last_fire(action, now)
    reference = last_run or created
    return fired > reference
