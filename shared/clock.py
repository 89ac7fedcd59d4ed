"""An injectable clock: every use case and adapter that needs "now" takes a ``Clock``; the
services run on ``SystemClock``. (The steerable ``FakeClock`` of the tests lives in
``testkit.clock``, outside the shipped packages.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


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
