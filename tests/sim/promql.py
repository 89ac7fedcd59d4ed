"""The slice of Prometheus' storage and PromQL semantics the scaler can notice.

* ``extrapolated_rate``: ``rate()`` as Prometheus' ``extrapolatedRate`` computes it — counter
  resets add the value before the reset; the increase is extrapolated to each window boundary
  when the first/last sample lies within 1.1 average sample intervals of it, else by half an
  interval; a counter is never extrapolated below zero. Prometheus 2.x (the lab's 2.42) applies
  the zero-point limit before the 1.1 test, 2.52+ after it; both are here.
* ``TargetSeries``: the samples of one target (the idle counter of one core and the two memory
  gauges, scraped together), staleness markers kept apart, with a reset-adjusted running total
  so a rate over any window costs two bisections.

Times are integer milliseconds, like Prometheus'. Range selection is ``[t - w, t]`` in 2.x and
``(t - w, t]`` in 3.x (``left_open``); the instant selector's lookback the same.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["SeriesPoint", "TargetSeries", "extrapolated_rate", "rate_of_points"]


def extrapolated_rate(
    first_t: int,
    last_t: int,
    first_value: float,
    count: int,
    increase: float,
    range_start: int,
    range_end: int,
    *,
    zero_limit_first: bool = True,
) -> float:
    """Per-second rate over ``[range_start, range_end]`` (ms) from ``count`` >= 2 samples.

    ``increase`` is last - first plus every pre-reset value inside the samples. With
    ``zero_limit_first`` (Prometheus < 2.52) the zero point of the counter bounds the start
    extrapolation before the 1.1-interval test, otherwise after it.
    """
    sampled = (last_t - first_t) / 1000
    to_start = (first_t - range_start) / 1000
    to_end = (range_end - last_t) / 1000
    average = sampled / (count - 1)
    threshold = average * 1.1
    to_zero = sampled * (first_value / increase) if increase > 0 and first_value >= 0 else None
    if zero_limit_first:
        if to_zero is not None and to_zero < to_start:
            to_start = to_zero
        if to_start >= threshold:
            to_start = average / 2
    else:
        if to_start >= threshold:
            to_start = average / 2
        if to_zero is not None and to_zero < to_start:
            to_start = to_zero
    if to_end >= threshold:
        to_end = average / 2
    factor = (sampled + to_start + to_end) / sampled
    return increase * factor / ((range_end - range_start) / 1000)


def rate_of_points(
    points: Sequence[tuple[int, float]], at: int, window: int, *, left_open: bool = False, zero_limit_first: bool = True
) -> float | None:
    """``rate(counter[window])`` at ``at`` over raw ``(t_ms, value)`` points (None: < 2 samples)."""
    start = at - window
    inside = [(t, v) for t, v in points if (t > start if left_open else t >= start) and t <= at]
    if len(inside) < 2:
        return None
    increase = inside[-1][1] - inside[0][1]
    for (_, before), (_, after) in itertools.pairwise(inside):
        if after < before:
            increase += before
    return extrapolated_rate(
        inside[0][0], inside[-1][0], inside[0][1], len(inside), increase, start, at, zero_limit_first=zero_limit_first
    )


@dataclass(frozen=True)
class SeriesPoint:
    """One target's values at one evaluation time (None: no value for that series then)."""

    cpu: float | None
    memory: float | None


class TargetSeries:
    """The scraped samples of one ``(job, instance)``, bounded to a retention."""

    __slots__ = ("adjusted", "available", "idle", "reset_total", "stale", "times", "total")

    def __init__(self) -> None:
        self.times: list[int] = []
        self.idle: list[float] = []
        self.adjusted: list[float] = []
        self.available: list[float] = []
        self.total: list[float] = []
        self.stale: list[int] = []
        self.reset_total = 0.0

    @property
    def last_time(self) -> int | None:
        """Timestamp of the newest real sample."""
        return self.times[-1] if self.times else None

    def append(self, t: int, idle: float, available: float, total: float) -> None:
        """Add one scrape (timestamps only grow)."""
        if self.idle and idle < self.idle[-1]:
            self.reset_total += self.idle[-1]
        self.times.append(t)
        self.idle.append(idle)
        self.adjusted.append(idle + self.reset_total)
        self.available.append(available)
        self.total.append(total)

    def mark_stale(self, t: int) -> bool:
        """Add a staleness marker at ``t``; ignored (False) when a newer sample exists, as
        Prometheus drops an out-of-order marker, or when the series already ends stale."""
        last = self.last_time
        if last is None or last >= t or (self.stale and self.stale[-1] > last):
            return False
        self.stale.append(t)
        return True

    def is_stale_at(self, t: int) -> bool:
        """True when the newest thing at or before ``t`` is a staleness marker."""
        i = bisect.bisect_right(self.stale, t)
        if i == 0:
            return False
        j = bisect.bisect_right(self.times, t)
        return j == 0 or self.stale[i - 1] > self.times[j - 1]

    def cpu(self, t: int, window: int, *, left_open: bool, zero_limit_first: bool) -> float | None:
        """``100 - rate(idle[window]) * 100`` at ``t``, None with fewer than 2 samples."""
        times = self.times
        lo = bisect.bisect_right(times, t - window) if left_open else bisect.bisect_left(times, t - window)
        hi = bisect.bisect_right(times, t) - 1
        if hi - lo < 1:
            return None
        rate = extrapolated_rate(
            times[lo],
            times[hi],
            self.idle[lo],
            hi - lo + 1,
            self.adjusted[hi] - self.adjusted[lo],
            t - window,
            t,
            zero_limit_first=zero_limit_first,
        )
        return 100.0 - rate * 100.0

    def memory(self, t: int, lookback: int, *, left_open: bool) -> float | None:
        """``(1 - MemAvailable / MemTotal) * 100`` of the newest sample in the lookback."""
        j = bisect.bisect_right(self.times, t) - 1
        if j < 0:
            return None
        newest = self.times[j]
        if (newest <= t - lookback if left_open else newest < t - lookback) or self.is_stale_at(t):
            return None
        if self.total[j] == 0:
            return None
        return (1.0 - self.available[j] / self.total[j]) * 100.0

    def trim(self, before: int) -> None:
        """Forget samples and markers older than ``before`` (retention)."""
        k = bisect.bisect_left(self.times, before)
        if k:
            for column in (self.times, self.idle, self.adjusted, self.available, self.total):
                del column[:k]
        m = bisect.bisect_left(self.stale, before)
        if m:
            del self.stale[:m]
