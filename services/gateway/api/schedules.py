"""The next run times of a cron schedule in a time zone, for the group form's scheduled actions.

The same arithmetic the scaler applies (croniter on the local time of ``timezone``), so what the
form shows is when the scaler will act; a bad expression or zone is a 422 on that field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.gateway.deps import Viewer
from shared.errors import InvalidInput
from shared.messages import utcnow

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["groups"])


class ScheduleQuery(BaseModel):
    """A scheduled action's cron expression and time zone."""

    cron: str = Field(min_length=1, max_length=100)
    timezone: str = Field(default="UTC", min_length=1, max_length=64)
    count: int = Field(default=3, ge=1, le=10)


class ScheduleRuns(BaseModel):
    """When the schedule fires next, in UTC and in its own zone."""

    runs: list[datetime]
    local: list[str] = Field(description="the same times in the schedule's zone, ISO 8601 with offset")


def next_runs(cron: str, timezone: str, count: int, now: datetime) -> list[datetime]:
    """The next ``count`` times after ``now`` that ``cron`` fires in ``timezone`` (aware, UTC).

    Raises ``InvalidInput`` naming the field for a bad expression or an unknown zone."""
    if not croniter.is_valid(cron):
        raise InvalidInput(f"invalid cron expression {cron!r}", fields=(("cron", "invalid cron expression"),))
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        message = f"unknown time zone {timezone!r}"
        raise InvalidInput(message, fields=(("timezone", message),)) from exc
    runs = croniter(cron, now.astimezone(zone))
    return [runs.get_next(datetime).astimezone(UTC) for _ in range(count)]


@router.post("/schedules/next-runs", response_model=ScheduleRuns, summary="When a cron schedule fires next")
async def schedule_next_runs(body: ScheduleQuery, _: Viewer) -> ScheduleRuns:
    """The next run times of a scheduled action (default three), as the scaler computes them."""
    runs = next_runs(body.cron, body.timezone, body.count, utcnow())
    zone = ZoneInfo(body.timezone)
    return ScheduleRuns(runs=runs, local=[run.astimezone(zone).isoformat() for run in runs])
