"""The values of a scaling activity (saga): its steps and plans, step runs, tracks, status.

``domain.saga`` moves these values from one state to the next; ``services.scaler.steps`` holds
each step's row (command, replies, timeout). Every value is frozen.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum

from pydantic import Field

from services.scaler.domain.values import Frozen
from shared.vocabulary import ActivityKind, UtcDatetime

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
    Step.POST_PROVISION_HOOK,  # before the pool: the VM takes no traffic until its hook succeeded
    Step.ADD_POOL_MEMBER,
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
    checkpoint: str | None = None
    """A handle of the step's external work (a Jenkins queue item URL), kept across retries and
    restarts so the work is followed, not started again."""

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
