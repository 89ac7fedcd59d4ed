"""The pure saga state machine of scaling activities (docs/architecture.md §3).

An activity has one *track* per VM; each track walks the steps of its plan. A step is persisted
(``RUNNING``, with its command id) before its command is sent, and ``DONE`` when its reply
arrives. A step that fails for good turns the activity to ``COMPENSATING``: every track runs the
compensations of its completed (or in-flight) steps in reverse, then the activity ends
``ROLLED_BACK`` (or ``CANCELLED`` when an operator asked). Retryable failures and timeouts are
retried with exponential back-off first. A scale-in track whose VM is already being destroyed is
past the point of no return: it rolls forward instead.

Functions here take and return the frozen values of ``domain.activity`` (re-exported here); the
shell persists them and sends the commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from services.scaler.domain.activity import (
    COMPENSATIONS,
    HOOK_STEPS,
    SCALE_IN_PLAN,
    SCALE_OUT_PLAN,
    Activity,
    ActivityStatus,
    CooldownClaim,
    Phase,
    Retry,
    Step,
    StepRun,
    StepStatus,
    Track,
)
from shared.vocabulary import ActivityKind

__all__ = [
    "COMPENSATIONS",
    "HOOK_STEPS",
    "SCALE_IN_PLAN",
    "SCALE_OUT_PLAN",
    "Activity",
    "ActivityStatus",
    "CooldownClaim",
    "Phase",
    "Retry",
    "Step",
    "StepRun",
    "StepStatus",
    "Track",
    "cancel",
    "compensate",
    "complete",
    "expire",
    "fail",
    "plan",
    "runnable",
    "start",
]


def plan(
    activity_id: str,
    group: str,
    kind: ActivityKind,
    vms: list[tuple[str, str | None]],
    *,
    cause: str,
    now: datetime,
    with_hook: bool,
    decision_id: str | None = None,
    owner: str | None = None,
    lease_token: int = 0,
    skip: Mapping[str, frozenset[Step]] | None = None,
) -> Activity:
    """A new activity for ``vms`` (name, address). A scale-out's addresses are already reserved.
    ``skip`` names, per VM, steps that do not apply to it (a lost VM is neither drained nor
    powered off; a lost base VM is not destroyed)."""
    steps = SCALE_OUT_PLAN if kind is ActivityKind.SCALE_OUT else SCALE_IN_PLAN
    tracks = []
    for name, address in vms:
        runs = []
        skipped = (skip or {}).get(name, frozenset())
        for step in steps:
            if step is Step.RESERVE_IP:
                runs.append(StepRun(step=step, status=StepStatus.DONE, attempts=1, started_at=now, finished_at=now))
            elif (step in HOOK_STEPS and not with_hook) or step in skipped:
                runs.append(StepRun(step=step, status=StepStatus.SKIPPED))
            else:
                runs.append(StepRun(step=step))
        tracks.append(Track(vm_name=name, address=address, forward=tuple(runs)))
    return Activity(
        id=activity_id,
        group=group,
        kind=kind,
        cause=cause,
        decision_id=decision_id,
        created_at=now,
        updated_at=now,
        tracks=tuple(tracks),
        owner=owner,
        lease_token=lease_token,
    )


def runnable(activity: Activity, now: datetime) -> list[tuple[Track, StepRun]]:
    """The pending steps that may start now, one per track at most."""
    if activity.status.terminal:
        return []
    ready = []
    for track in activity.tracks:
        run = track.current(activity.phase)
        if run is not None and run.status is StepStatus.PENDING and (run.not_before is None or run.not_before <= now):
            ready.append((track, run))
    return ready


def _replace(activity: Activity, vm_name: str, phase: Phase, step: Step, now: datetime, **changes: object) -> Activity:
    tracks = []
    found = False
    for track in activity.tracks:
        if track.vm_name == vm_name and not found:
            runs = list(track.runs(phase))
            for index, run in enumerate(runs):
                if run.step is step and not run.settled:
                    runs[index] = run.model_copy(update=changes)
                    found = True
                    break
            field = "forward" if phase is Phase.FORWARD else "compensation"
            track = track.model_copy(update={field: tuple(runs)})
        tracks.append(track)
    if not found:
        return activity
    return activity.model_copy(update={"tracks": tuple(tracks), "updated_at": now})


def start(
    activity: Activity, vm_name: str, step: Step, phase: Phase, now: datetime, timeout_s: float, command_id: str | None
) -> Activity:
    """Mark a step running (before its command is sent), with its deadline."""
    track = activity.track(vm_name)
    run = track.current(phase)
    if run is None or run.step is not step or phase is not activity.phase:
        return activity
    return _replace(
        activity,
        vm_name,
        phase,
        step,
        now,
        status=StepStatus.RUNNING,
        attempts=run.attempts + 1,
        started_at=now,
        deadline=now + timedelta(seconds=timeout_s),
        not_before=None,
        command_id=command_id,
        error=None,
    )


def _settle(activity: Activity, now: datetime) -> Activity:
    if activity.status is ActivityStatus.RUNNING:
        if all(track.current(Phase.FORWARD) is None for track in activity.tracks):
            return activity.model_copy(update={"status": ActivityStatus.SUCCEEDED, "finished_at": now})
    elif activity.status is ActivityStatus.COMPENSATING and all(
        track.current(Phase.COMPENSATE) is None for track in activity.tracks
    ):
        status = ActivityStatus.CANCELLED if activity.cancel_requested else ActivityStatus.ROLLED_BACK
        return activity.model_copy(update={"status": status, "finished_at": now})
    return activity


def complete(activity: Activity, vm_name: str, step: Step, phase: Phase, now: datetime) -> Activity:
    """A step finished. A late reply for another phase or a settled step changes nothing."""
    if phase is not activity.phase or activity.status.terminal:
        return activity
    run = activity.track(vm_name).current(phase)
    if run is None or run.step is not step:
        return activity
    done = _replace(activity, vm_name, phase, step, now, status=StepStatus.DONE, finished_at=now, error=None)
    return _settle(done, now)


def checkpoint(activity: Activity, vm_name: str, step: Step, phase: Phase, value: str, now: datetime) -> Activity:
    """Record the handle of a running step's external work; unchanged if it no longer runs."""
    if phase is not activity.phase or activity.status.terminal:
        return activity
    run = activity.track(vm_name).current(phase)
    if run is None or run.step is not step or run.status is not StepStatus.RUNNING:
        return activity
    return _replace(activity, vm_name, phase, step, now, checkpoint=value)


def fail(
    activity: Activity,
    vm_name: str,
    step: Step,
    phase: Phase,
    error: str,
    retryable: bool,
    now: datetime,
    retry: Retry,
) -> Activity:
    """A step failed: retry it after back-off, or compensate, or (compensation spent) fail."""
    if phase is not activity.phase or activity.status.terminal:
        return activity
    run = activity.track(vm_name).current(phase)
    if run is None or run.step is not step:
        return activity
    attempts = max(run.attempts, 1)
    if phase is Phase.FORWARD:
        if retryable and attempts < retry.max_attempts:
            return _retry_later(activity, vm_name, phase, step, error, attempts, now, retry)
        failed = _replace(activity, vm_name, phase, step, now, status=StepStatus.FAILED, error=error, finished_at=now)
        return compensate(failed, f"{step}", f"{step} failed on {vm_name}: {error}", now)
    if attempts < retry.compensation_attempts:
        return _retry_later(activity, vm_name, phase, step, error, attempts, now, retry)
    failed = _replace(activity, vm_name, phase, step, now, status=StepStatus.FAILED, error=error, finished_at=now)
    reason = f"{activity.reason or ''}; compensation {step} failed on {vm_name}: {error}".lstrip("; ")
    return failed.model_copy(update={"status": ActivityStatus.FAILED, "finished_at": now, "reason": reason})


def _retry_later(
    activity: Activity, vm_name: str, phase: Phase, step: Step, error: str, attempts: int, now: datetime, retry: Retry
) -> Activity:
    return _replace(
        activity,
        vm_name,
        phase,
        step,
        now,
        status=StepStatus.PENDING,
        error=error,
        not_before=now + timedelta(seconds=retry.delay(attempts)),
        deadline=None,
    )


def _compensation_for(track: Track, kind: ActivityKind) -> tuple[tuple[StepRun, ...], tuple[StepRun, ...]]:
    """(the forward runs with pending ones skipped, the compensation runs) of one track."""
    statuses = {run.step: run.status for run in track.forward}
    forward = tuple(
        run.model_copy(update={"status": StepStatus.SKIPPED})
        if run.status is StepStatus.PENDING
        else run.model_copy(update={"status": StepStatus.FAILED, "error": run.error or "abandoned"})
        if run.status is StepStatus.RUNNING
        else run
        for run in track.forward
    )
    if kind is ActivityKind.SCALE_IN and statuses.get(Step.DESTROY) in (StepStatus.DONE, StepStatus.RUNNING):
        # Past the point of no return: finish removing the VM instead of restoring it.
        tail = SCALE_IN_PLAN[SCALE_IN_PLAN.index(Step.DESTROY) :]
        runs = tuple(StepRun(step=s, phase=Phase.COMPENSATE) for s in tail if statuses.get(s) is not StepStatus.DONE)
        return forward, runs
    # A failed or timed-out command may still have taken effect: undo it too (undo is idempotent).
    touched = [
        run.step
        for run in track.forward
        if run.status is not StepStatus.PENDING and run.status is not StepStatus.SKIPPED
    ]
    runs = tuple(
        StepRun(step=COMPENSATIONS[step], phase=Phase.COMPENSATE) for step in reversed(touched) if step in COMPENSATIONS
    )
    return forward, runs


def compensate(activity: Activity, failed_step: str, reason: str, now: datetime) -> Activity:
    """Start undoing every track's completed (and in-flight) steps, in reverse."""
    if activity.status is not ActivityStatus.RUNNING:
        return activity
    tracks = []
    for track in activity.tracks:
        forward, runs = _compensation_for(track, activity.kind)
        tracks.append(track.model_copy(update={"forward": forward, "compensation": runs}))
    moved = activity.model_copy(
        update={
            "status": ActivityStatus.COMPENSATING,
            "tracks": tuple(tracks),
            "failed_step": failed_step,
            "reason": reason,
            "updated_at": now,
        }
    )
    return _settle(moved, now)


def cancel(activity: Activity, now: datetime, actor: str = "operator") -> Activity:
    """An operator cancels a running activity: compensate, then end ``CANCELLED``."""
    if activity.status is not ActivityStatus.RUNNING:
        return activity
    flagged = activity.model_copy(update={"cancel_requested": True})
    return compensate(flagged, "cancel", f"cancelled by {actor}", now)


def expire(activity: Activity, now: datetime, retry: Retry) -> Activity:
    """Treat every running step past its deadline as a retryable failure (a timeout)."""
    for track, run in list(activity.steps_running()):
        if run.deadline is not None and run.deadline <= now:
            activity = fail(activity, track.vm_name, run.step, run.phase, "timed out", True, now, retry)
    return activity
