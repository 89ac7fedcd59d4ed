"""An injectable clock: real in production, fake and steerable in tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "FakeClock", "SystemClock"]


class Clock(Protocol):
    """Tells the time; every use case and adapter that needs "now" takes one."""

    def now(self) -> datetime:
        """The current aware UTC time."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """The current aware UTC time."""
        return datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        """The fake current time."""
        return self._now

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward and return the new time."""
        self._now += timedelta(seconds=seconds)
        return self._now
