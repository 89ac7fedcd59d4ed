"""The step policy's conditions, level-triggered: does the group's high or low rule hold now?

The scaler evaluates the same two expressions as the group's alert rules (docs/original-system.md §7.1):
high = the busiest instance above the CPU **or** memory threshold, low = the busiest instance below
the CPU **and** memory thresholds; each must hold at every evaluation point of its ``for:``
window, as Prometheus' ``for:`` demands. Pure: ``assess(group, history, now, ...)`` looks only at
its arguments.

Fresh evidence only (docs/architecture.md §3a). A point computed at ``at`` with a ``rate()`` window ``w`` uses
raw samples from ``[at - w, at]``: it is evidence about the group only if that whole span lies
after the group's latest activity ended (``floor``). Before the ``for:`` window may count:

* a **reversal** (the last activity went the other way) needs the full window of fresh points:
  the rule must hold for its whole ``for:`` duration on the new capacity;
* a **continuation** (same direction, or no activity yet) needs the window clipped to the fresh
  part, holding at every point, with at least one point — sustained load keeps scaling at the
  pace of the cooldown instead of waiting a whole ``for:`` after every step.

Points may not be further apart than two steps (a gap in the data breaks ``for:``, as a missing
evaluation resets a pending alert in Prometheus).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from itertools import pairwise

from services.scaler.domain.model import Condition, MetricHistory, MetricPoint, ScalingGroup, Thresholds
from shared.vocabulary import ScaleDirection

__all__ = ["Condition", "assess", "high_at", "low_at"]


def high_at(t: Thresholds, point: MetricPoint) -> bool:
    """The scale-out rule at one point: CPU **or** memory above its threshold."""
    return (point.cpu is not None and point.cpu > t.cpu_high) or (
        point.memory is not None and point.memory > t.memory_high
    )


def low_at(t: Thresholds, point: MetricPoint) -> bool:
    """The scale-in rule at one point: CPU **and** memory below their thresholds (no data is not low)."""
    return point.cpu is not None and point.memory is not None and point.cpu < t.cpu_low and point.memory < t.memory_low


def _values(point: MetricPoint | None) -> str:
    if point is None:
        return "no data"
    cpu = "no data" if point.cpu is None else f"{point.cpu:.1f}%"
    memory = "no data" if point.memory is None else f"{point.memory:.1f}%"
    return f"cpu {cpu}, memory {memory}"


def _holds(
    history: MetricHistory,
    rule: Callable[[MetricPoint], bool],
    for_s: float,
    now: datetime,
    fresh_from: datetime | None,
    reversal: bool,
) -> tuple[bool, str, datetime | None, int]:
    """Whether ``rule`` held over its window; with a short reason when it did not."""
    window_start = now - timedelta(seconds=for_s)
    rate = timedelta(seconds=history.rate_window_s)
    start = window_start
    if fresh_from is not None:
        earliest_fresh = fresh_from + rate
        if reversal and window_start < earliest_fresh:
            wait = (earliest_fresh - window_start).total_seconds()
            return False, f"waiting {wait:.0f} s for a full window of evidence after the last activity", None, 0
        start = max(window_start, earliest_fresh)
    points = [p for p in history.points if start <= p.at <= now]
    if not points:
        return False, "no evidence yet after the last activity" if fresh_from else "no data in the window", None, 0
    gap = 2 * history.step_s + 1e-6
    edges = [start, *(p.at for p in points)]
    if any((b - a).total_seconds() > gap for a, b in pairwise(edges)):
        return False, "a gap in the data inside the window", None, len(points)
    if (now - points[-1].at).total_seconds() > gap:
        return False, "no recent data", None, len(points)
    broken = next((p for p in reversed(points) if not rule(p)), None)
    if broken is not None:
        return False, f"not throughout the window ({_values(broken)} at {broken.at:%H:%M:%S})", None, len(points)
    return True, "", points[0].at - rate, len(points)


def assess(
    group: ScalingGroup,
    history: MetricHistory,
    now: datetime,
    *,
    floor: datetime | None = None,
    last_direction: ScaleDirection | None = None,
) -> Condition:
    """The step policy's condition now (see the module docstring).

    ``floor`` is when the group's latest activity ended; ``last_direction`` the direction of its
    latest scaling activity (a reversal needs the whole ``for:`` window after ``floor``).
    """
    if not history.available:
        return Condition(available=False, why=f"Prometheus unavailable: {history.error or 'no answer'}")
    latest = history.latest
    if latest is None or (latest.cpu is None and latest.memory is None):
        job = group.prometheus_job
        return Condition(available=False, why=f"no data for job {job} (no targets, no samples, or NaN)")
    t = group.thresholds
    cpu, memory = latest.cpu, latest.memory
    now_values = _values(latest)
    checks: tuple[tuple[ScaleDirection, Callable[[MetricPoint], bool], int, str], ...] = (
        (ScaleDirection.OUT, partial(high_at, t), t.out_for_s, f"> {t.cpu_high:g}% cpu or {t.memory_high:g}% memory"),
        (ScaleDirection.IN, partial(low_at, t), t.in_for_s, f"< {t.cpu_low:g}% cpu and {t.memory_low:g}% memory"),
    )
    reasons: list[str] = []
    for direction, rule, for_s, text in checks:
        if not rule(latest):
            continue  # the latest point breaks the window: nothing to look back for
        reversal = last_direction is not None and last_direction is not direction
        held, reason, since, count = _holds(history, rule, for_s, now, floor, reversal)
        if held:
            return Condition(
                available=True,
                direction=direction,
                why=f"{now_values} ({text} for {for_s} s, {count} points)",
                cpu=cpu,
                memory=memory,
                evidence_from=since,
                points=count,
            )
        reasons.append(f"{'high' if direction is ScaleDirection.OUT else 'low'} but {reason}")
    detail = "; ".join(reasons) if reasons else "neither high nor low"
    return Condition(available=True, why=f"{now_values}: {detail}", cpu=cpu, memory=memory)
