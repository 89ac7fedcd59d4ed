"""Activity (saga) lifecycle, decisions and audit records; other teams consume these."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.messages.base import Event
from shared.vocabulary import ActivityKind

__all__ = [
    "ActivityKind",
    "ActivityRolledBack",
    "ActivityStarted",
    "ActivityStepCompleted",
    "ActivitySucceeded",
    "AuditRecorded",
    "DecisionRecorded",
]


class ActivityStarted(Event):
    """A scaling activity began."""

    activity_id: str
    group: str
    kind: ActivityKind
    delta: int
    cause: str


class ActivityStepCompleted(Event):
    """One saga step finished (or was compensated, when ``compensation`` is true)."""

    activity_id: str
    group: str
    step: str
    vm_name: str | None = None
    compensation: bool = False
    detail: dict[str, Any] = Field(default_factory=dict)
    duration_s: float | None = None
    """From the step's start to its end (None when the step never started, e.g. done at once)."""


class ActivitySucceeded(Event):
    """The activity ended with every step done."""

    activity_id: str
    group: str
    kind: ActivityKind
    vm_names: tuple[str, ...] = ()
    duration_s: float


class ActivityRolledBack(Event):
    """A step failed; the completed steps were compensated in reverse order."""

    activity_id: str
    group: str
    kind: ActivityKind
    failed_step: str
    reason: str
    duration_s: float


class DecisionRecorded(Event):
    """Why the scaler did (``allowed``) or did not scale, with the values it saw."""

    group: str
    allowed: bool
    delta: int = 0
    reason: str
    trigger: str
    observed: dict[str, Any] = Field(default_factory=dict)
    activity_id: str | None = None


class AuditRecorded(Event):
    """Who changed what, for the audit trail; never carries secrets."""

    actor: str
    action: str
    target: str
    detail: dict[str, Any] = Field(default_factory=dict)
