"""The audit events of an activity (``activity.step_completed``, ``activity.succeeded`` /
``activity.rolled_back``), built from the activity's values; the shell adds them to the outbox
in the transaction that records the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.scaler.domain.saga import Activity, ActivityStatus, Phase, StepRun, StepStatus
from shared import subjects
from shared.messages import ActivityRolledBack, ActivityStepCompleted, ActivitySucceeded, Message, deterministic_id
from shared.subjects import Subject

__all__ = ["end_event", "step_events"]


def _took(run: StepRun) -> float | None:
    """Seconds from a step's start to its end, when both are known."""
    if run.started_at is None or run.finished_at is None:
        return None
    return max(0.0, (run.finished_at - run.started_at).total_seconds())


def step_events(previous: Activity | None, activity: Activity) -> list[ActivityStepCompleted]:
    """One event per step (or compensation) done in ``activity`` and not in ``previous``."""
    before: dict[tuple[str, str, str], StepStatus] = {}
    if previous is not None:
        for track in previous.tracks:
            for run in (*track.forward, *track.compensation):
                before[(track.vm_name, run.step, run.phase)] = run.status
    events = []
    for track in activity.tracks:
        for run in (*track.forward, *track.compensation):
            key = (track.vm_name, run.step, run.phase)
            if run.status is StepStatus.DONE and before.get(key) is not StepStatus.DONE:
                events.append(
                    ActivityStepCompleted(
                        message_id=deterministic_id("step", activity.id, *key),
                        correlation_id=activity.id,
                        activity_id=activity.id,
                        group=activity.group,
                        step=run.step,
                        vm_name=track.vm_name,
                        compensation=run.phase is Phase.COMPENSATE,
                        duration_s=_took(run),
                    )
                )
    return events


def end_event(activity: Activity, now: datetime) -> tuple[Subject[Any], Message]:
    """The event that says how the ended ``activity`` ended."""
    duration = (now - activity.created_at).total_seconds()
    names = tuple(t.vm_name for t in activity.tracks)
    envelope: dict[str, Any] = {
        "message_id": deterministic_id("end", activity.id),
        "correlation_id": activity.id,
    }
    event: Message
    subject: Subject[Any]
    if activity.status is ActivityStatus.SUCCEEDED:
        subject = subjects.ACTIVITY_SUCCEEDED
        event = ActivitySucceeded(
            activity_id=activity.id,
            group=activity.group,
            kind=activity.kind,
            vm_names=names,
            duration_s=duration,
            **envelope,
        )
    else:
        subject = subjects.ACTIVITY_ROLLED_BACK
        event = ActivityRolledBack(
            activity_id=activity.id,
            group=activity.group,
            kind=activity.kind,
            failed_step=activity.failed_step or "",
            reason=f"{activity.status}: {activity.reason or ''}",
            duration_s=duration,
            **envelope,
        )
    return subject, event
