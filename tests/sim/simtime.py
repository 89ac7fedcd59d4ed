"""Simulated time shared by the models: seconds since an epoch, read from a fake clock.

Every model keeps time as float seconds since ``SimTime.epoch`` (Prometheus keeps milliseconds;
the Prometheus model rounds to them) and converts to aware datetimes only at its edges (the
``MetricsQuery`` adapter, the Alertmanager's messages). No model ever reads the wall clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.clock import Clock

__all__ = ["Instant", "SimTime"]

Instant = float | datetime
"""A point in simulated time: seconds since the epoch, or an aware datetime."""


class SimTime:
    """The simulation's epoch and clock: ``now()`` in seconds, conversions both ways."""

    def __init__(self, clock: Clock, epoch: datetime | None = None) -> None:
        self.clock = clock
        self.epoch = epoch if epoch is not None else clock.now()

    def now(self) -> float:
        """The clock's current time in seconds since the epoch."""
        return self.seconds(self.clock.now())

    def seconds(self, at: Instant) -> float:
        """``at`` in seconds since the epoch (floats pass through)."""
        if isinstance(at, datetime):
            return (at - self.epoch).total_seconds()
        return float(at)

    def at(self, seconds: float) -> datetime:
        """The aware datetime ``seconds`` after the epoch (rounded to the millisecond)."""
        return self.epoch + timedelta(milliseconds=round(seconds * 1000))

    def resolve(self, at: Instant | None) -> float:
        """``at`` in seconds, or the clock's now when None."""
        return self.now() if at is None else self.seconds(at)
