"""History for the UI: the range presets, a group's size over time and the events of a time range.

Pure functions over what the scaler persists (activities, decisions) and the live ring holds;
the routes in ``api/events.py`` and ``api/monitoring.py`` do the I/O.

- ``RANGES``: the presets the dashboard and the events screen offer (15 m … 7 d), each with the
  query step that keeps a Prometheus range at about ``POINTS`` points (never over 11,000, the
  most Prometheus answers).
- ``size_series``: the group's size at each change, derived from its activities: a scale-out
  counts its VMs from the moment it starts (pending and provisioning VMs count toward the size), a
  scale-in stops counting them when it starts draining; one that ends rolled back, cancelled or
  failed gives them back when it ends. Walked backwards from the size the scaler reports now.
- ``stored_events`` and ``merge_events``: persisted activities and decisions as the events the
  live feed would have shown, merged with the ring without duplicates, newest first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.gateway.events import FeedEvent, event_status, scrub, scrub_text
from shared import subjects
from shared.errors import InvalidInput
from shared.messages import ActivityView, DecisionView

__all__ = [
    "MAX_POINTS",
    "POINTS",
    "RANGES",
    "Window",
    "merge_events",
    "size_series",
    "stored_events",
    "window_of",
]

POINTS = 240
"""About how many points a preset's query returns (one more, counting both ends)."""
MAX_POINTS = 11_000
"""The most points one Prometheus range query may return."""
MIN_STEP_S = 15


@dataclass(frozen=True)
class Window:
    """A preset: how far back, and the step between points."""

    name: str
    seconds: int
    step_s: int

    @property
    def minutes(self) -> int:
        """The range in whole minutes."""
        return self.seconds // 60

    def since(self, now: datetime) -> datetime:
        """Where the range starts when it ends at ``now``."""
        return now - timedelta(seconds=self.seconds)


def _window(name: str, seconds: int) -> Window:
    return Window(name, seconds, max(MIN_STEP_S, seconds // POINTS))


RANGES: dict[str, Window] = {
    w.name: w
    for w in (
        _window("15m", 15 * 60),
        _window("1h", 3600),
        _window("6h", 6 * 3600),
        _window("24h", 24 * 3600),
        _window("7d", 7 * 24 * 3600),
    )
}


def window_of(name: str) -> Window:
    """The preset called ``name``; ``InvalidInput`` (422) naming the presets for any other."""
    try:
        return RANGES[name]
    except KeyError:
        choices = ", ".join(RANGES)
        raise InvalidInput(
            f"unknown range {name[:20]!r}: use one of {choices}", fields=(("range", f"one of {choices}"),)
        ) from None


_UNDONE = frozenset({"rolled_back", "cancelled", "failed"})


def size_series(
    activities: Iterable[ActivityView], size_now: int, since: datetime, now: datetime
) -> list[tuple[datetime, int]]:
    """``(time, size from then on)`` from ``since`` to ``now``, oldest first: one point at ``since``,
    one at each change inside the range and one at ``now``. ``activities`` are the group's, of
    any age (those that changed nothing inside the range are ignored)."""
    changes: list[tuple[datetime, int]] = []
    for activity in activities:
        count = len(activity.vm_names)
        sign = 1 if activity.kind == "scale_out" else -1
        changes.append((activity.created_at, sign * count))
        if activity.finished_at is not None and activity.status in _UNDONE:
            changes.append((activity.finished_at, -sign * count))
    inside = sorted((c for c in changes if since < c[0] <= now and c[1]), key=lambda c: c[0])
    size = size_now
    backwards = [(now, size_now)]
    for at, delta in reversed(inside):
        backwards.append((at, size))
        size = max(0, size - delta)
    backwards.append((since, size))
    return list(reversed(backwards))


def _activity_events(activity: ActivityView) -> Iterable[tuple[str, datetime, dict[str, Any]]]:
    count = len(activity.vm_names)
    delta = count if activity.kind == "scale_out" else -count
    base = {"activity_id": activity.id, "group": activity.group, "kind": activity.kind}
    yield subjects.ACTIVITY_STARTED.name, activity.created_at, {**base, "delta": delta, "cause": activity.cause}
    if activity.finished_at is not None:
        # as the scaler publishes them: every end but success is a rolled-back event (its reason says which)
        succeeded = activity.status == "succeeded"
        subject = (subjects.ACTIVITY_SUCCEEDED if succeeded else subjects.ACTIVITY_ROLLED_BACK).name
        took = (activity.finished_at - activity.created_at).total_seconds()
        end = {**base, "vm_names": list(activity.vm_names), "duration_s": took}
        if activity.reason or activity.failed_step:
            end |= {"reason": activity.reason or "", "failed_step": activity.failed_step or ""}
        yield subject, activity.finished_at, end


def stored_events(activities: Iterable[ActivityView], decisions: Iterable[DecisionView]) -> list[FeedEvent]:
    """Persisted activities (a start, and an end once finished) and decisions as feed events
    (``id`` 0: read from the scaler, not seen live by this gateway), in no particular order."""
    out = []
    for activity in activities:
        for subject, at, data in _activity_events(activity):
            out.append(_event(subject, at, activity.group, data))
    for d in decisions:
        data = {
            "message_id": d.id,
            "group": d.group,
            "allowed": d.allowed,
            "delta": d.delta,
            "reason": f"{d.reason}: {d.message}",
            "trigger": d.trigger,
            "observed": d.observed,
            "activity_id": d.activity_id,
        }
        out.append(_event(subjects.DECISION_RECORDED.name, d.at, d.group, data))
    return out


def _event(subject: str, at: datetime, group: str, data: dict[str, Any]) -> FeedEvent:
    return FeedEvent(
        id=0,
        subject=subject,
        type=subject.split(".", 1)[0],
        at=at,
        group=group,
        status=event_status(subject, data),
        data=scrub(
            {k: scrub_text(v) if isinstance(v, str) else v for k, v in {**data, "occurred_at": at.isoformat()}.items()}
        ),
    )


def _identity(event: FeedEvent) -> tuple[str, str] | None:
    """What makes two events the same fact: the decision's id, or the activity and its subject."""
    if event.subject == subjects.DECISION_RECORDED.name and event.data.get("message_id"):
        return event.subject, str(event.data["message_id"])
    if event.type == "activity" and event.data.get("activity_id"):
        return event.subject, str(event.data["activity_id"])
    return None


def merge_events(live: Sequence[FeedEvent], stored: Iterable[FeedEvent], limit: int) -> list[FeedEvent]:
    """The live events and the stored ones the ring does not hold, newest first, at most ``limit``."""
    seen = {key for key in map(_identity, live) if key is not None}
    extra = [event for event in stored if _identity(event) not in seen]
    both = [*live, *extra]
    both.sort(key=lambda e: e.at, reverse=True)
    return both[:limit]
