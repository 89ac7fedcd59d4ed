"""Domain errors of the scaler (all ``PermanentError`` subclasses from ``shared.errors``)."""

from __future__ import annotations

from shared.errors import Conflict, Contention, InvalidInput, NotFound, QuotaExceeded

__all__ = ["ActivityRunning", "InvalidPolicy", "PoolExhausted", "StaleLease", "UnknownGroup", "UnknownPool"]


class UnknownGroup(NotFound):
    """No scaling group has that name."""


class UnknownPool(NotFound):
    """No IP pool has that name."""


class InvalidPolicy(InvalidInput):
    """A group, policy or pool setting breaks a rule (the message says which)."""


class PoolExhausted(QuotaExceeded):
    """The IP pool has no free address left."""


class ActivityRunning(Conflict):
    """The group has an activity in progress, so the change must wait."""


class StaleLease(Contention):
    """A newer lease holder exists: the caller's fencing token is out of date."""
