"""The pure saga state machine of scaling activities (DESIGN.md §3).

An activity has one *track* per VM; each track walks the steps of its plan. A step is persisted
(``RUNNING``, with its command id) before its command is sent, and ``DONE`` when its reply
arrives. A step that fails for good turns the activity to ``COMPENSATING``: every track runs the
compensations of its completed (or in-flight) steps in reverse, then the activity ends
``ROLLED_BACK`` (or ``CANCELLED`` when an operator asked). Retryable failures and timeouts are
retried with exponential back-off first. A scale-in track whose VM is already being destroyed is
past the point of no return: it rolls forward instead.

Functions here take and return frozen values; the shell persists them and sends the commands.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import Field

from services.scaler.domain.model import Frozen
from shared.messages import ActivityKind, UtcDatetime

__all__ = [
    "COMPENSATIONS",
    "INSTANT_STEPS",
    "LOCAL_STEPS",
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


class Step(StrEnum):
    """Every step (and compensation) an activity can run."""

    RESERVE_IP = "reserve_ip"
    CLONE = "clone"
    POWER_ON = "power_on"
    WAIT_HEALTHY = "wait_healthy"
    REGISTER_MONITORING = "register_monitoring"
    ADD_POOL_MEMBER = "add_pool_member"
    POST_PROVISION_HOOK = "post_provision_hook"
    IN_SERVICE = "in_service"
    PRE_TERMINATION_HOOK = "pre_termination_hook"
    DRAIN = "drain"
    UNDRAIN = "undrain"
    REMOVE_POOL_MEMBER = "remove_pool_member"
    DEREGISTER_MONITORING = "deregister_monitoring"
    POWER_OFF = "power_off"
    DESTROY = "destroy"
    RELEASE_IP = "release_ip"


SCALE_OUT_PLAN: tuple[Step, ...] = (
    Step.RESERVE_IP,
    Step.CLONE,
    Step.POWER_ON,
    Step.WAIT_HEALTHY,
    Step.REGISTER_MONITORING,
    Step.ADD_POOL_MEMBER,
    Step.POST_PROVISION_HOOK,
    Step.IN_SERVICE,
)
SCALE_IN_PLAN: tuple[Step, ...] = (
    Step.PRE_TERMINATION_HOOK,
    Step.DRAIN,
    Step.REMOVE_POOL_MEMBER,
    Step.DEREGISTER_MONITORING,
    Step.POWER_OFF,
    Step.DESTROY,
    Step.RELEASE_IP,
)
COMPENSATIONS: dict[Step, Step] = {
    Step.RESERVE_IP: Step.RELEASE_IP,
    Step.CLONE: Step.DESTROY,
    Step.POWER_ON: Step.POWER_OFF,
    Step.REGISTER_MONITORING: Step.DEREGISTER_MONITORING,
    Step.ADD_POOL_MEMBER: Step.REMOVE_POOL_MEMBER,
    Step.DRAIN: Step.UNDRAIN,
    Step.REMOVE_POOL_MEMBER: Step.ADD_POOL_MEMBER,
    Step.DEREGISTER_MONITORING: Step.REGISTER_MONITORING,
    Step.POWER_OFF: Step.POWER_ON,
}
"""What undoes each step; steps absent here (waits, hooks, in service, destroy) undo nothing."""

INSTANT_STEPS = frozenset({Step.RESERVE_IP, Step.IN_SERVICE, Step.RELEASE_IP})
"""Steps that are database writes only: done in the transaction that reaches them."""

LOCAL_STEPS = frozenset({Step.WAIT_HEALTHY, Step.POST_PROVISION_HOOK, Step.PRE_TERMINATION_HOOK})
"""Steps the scaler runs itself (HTTP probe, hooks) rather than by a command to another service."""

HOOK_STEPS = frozenset({Step.POST_PROVISION_HOOK, Step.PRE_TERMINATION_HOOK})


class Phase(StrEnum):
    """Whether a step moves the activity forward or undoes a completed step."""

    FORWARD = "forward"
    COMPENSATE = "compensate"


class StepStatus(StrEnum):
    """Life of one step run."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class ActivityStatus(StrEnum):
    """Life of an activity."""

    RUNNING = "running"
    COMPENSATING = "compensating"
    SUCCEEDED = "succeeded"
    ROLLED_BACK = "rolled_back"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        """True once the activity has ended."""
        return self not in (ActivityStatus.RUNNING, ActivityStatus.COMPENSATING)


class Retry(Frozen):
    """How often a step is tried, and how long to wait between tries."""

    max_attempts: int = Field(default=3, ge=1)
    backoff_s: float = Field(default=2.0, ge=0)
    compensation_attempts: int = Field(default=8, ge=1)

    def delay(self, attempts: int) -> float:
        """Exponential back-off after ``attempts`` tries, capped at 64 x the base."""
        return self.backoff_s * float(2 ** min(max(attempts - 1, 0), 6))


class StepRun(Frozen):
    """One step of one track, as persisted."""

    step: Step
    phase: Phase = Phase.FORWARD
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    not_before: UtcDatetime | None = None
    deadline: UtcDatetime | None = None
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None
    error: str | None = None
    command_id: str | None = None

    @property
    def settled(self) -> bool:
        """Done or skipped: nothing more to do for this step."""
        return self.status in (StepStatus.DONE, StepStatus.SKIPPED)


class Track(Frozen):
    """The steps of one VM within an activity."""

    vm_name: str
    address: str | None = None
    forward: tuple[StepRun, ...]
    compensation: tuple[StepRun, ...] = ()

    def runs(self, phase: Phase) -> tuple[StepRun, ...]:
        """The step runs of ``phase``."""
        return self.forward if phase is Phase.FORWARD else self.compensation

    def current(self, phase: Phase) -> StepRun | None:
        """The first unsettled step of ``phase`` (None when the phase is complete)."""
        return next((run for run in self.runs(phase) if not run.settled), None)


class CooldownClaim(Frozen):
    """The direction's cooldown this activity claimed, and what it was before (to give back)."""

    claimed_at: UtcDatetime
    previous: UtcDatetime | None = None


class Activity(Frozen):
    """A scaling activity (saga) of one group."""

    id: str
    group: str
    kind: ActivityKind
    status: ActivityStatus = ActivityStatus.RUNNING
    cause: str
    decision_id: str | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    finished_at: UtcDatetime | None = None
    tracks: tuple[Track, ...]
    failed_step: str | None = None
    reason: str | None = None
    cancel_requested: bool = False
    owner: str | None = None
    lease_token: int = 0
    cooldown_claim: CooldownClaim | None = None

    @property
    def phase(self) -> Phase:
        """Forward while running, compensate once compensating."""
        return Phase.FORWARD if self.status is ActivityStatus.RUNNING else Phase.COMPENSATE

    def track(self, vm_name: str) -> Track:
        """The track of ``vm_name`` (KeyError if the activity has none)."""
        for track in self.tracks:
            if track.vm_name == vm_name:
                return track
        raise KeyError(vm_name)

    def steps_running(self) -> Iterator[tuple[Track, StepRun]]:
        """Every step currently running (awaiting a reply or a local task)."""
        for track in self.tracks:
            for run in track.runs(self.phase):
                if run.status is StepStatus.RUNNING:
                    yield track, run


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
