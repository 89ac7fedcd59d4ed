"""What the scaler reads and keeps about a group at run time: readings from Prometheus, the
step policy's condition, the group's persisted state, and ``Observed``, the one value a decision
looks at besides the group, the policy and the time (built by ``services.scaler.observation``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from services.scaler.domain.instances import Instance
from services.scaler.domain.timer_values import FailureBackoff, QuietMark, Recommendation
from services.scaler.domain.values import Frozen
from shared.vocabulary import ScaleDirection, UtcDatetime

__all__ = [
    "AlertSignal",
    "Condition",
    "GroupState",
    "MetricHistory",
    "MetricPoint",
    "MetricReading",
    "Observed",
]


class AlertSignal(Frozen):
    """A firing alert as the decision sees it."""

    alertname: str
    fingerprint: str
    starts_at: UtcDatetime
    received_at: UtcDatetime
    labels: dict[str, str] = Field(default_factory=dict)
    first: bool = True
    """The first notification of the episode the scaler decides on (not a repeat)."""


class MetricReading(Frozen):
    """What Prometheus said just now (``available`` false when it could not be asked)."""

    available: bool
    cpu: float | None = None
    memory: float | None = None
    value: float | None = None
    queries: dict[str, str] = Field(default_factory=dict)
    error: str | None = None


class MetricPoint(Frozen):
    """The group's busiest-instance CPU and memory at one evaluation time (None: no data then).

    ``at`` is the evaluation time; a value computed with ``rate()`` uses the raw samples of
    ``[at - rate_window, at]``, so the point is evidence only of what happened after
    ``at - rate_window`` (``MetricHistory.rate_window_s``)."""

    at: UtcDatetime
    cpu: float | None = None
    memory: float | None = None


class MetricHistory(Frozen):
    """The alert rules' two expressions evaluated every ``step_s`` over a window, oldest first:
    what the scaler's level-triggered evaluation reads (``available`` false when Prometheus could
    not be asked; then ``error`` says why)."""

    available: bool
    points: tuple[MetricPoint, ...] = ()
    step_s: float = 15.0
    rate_window_s: float = 0.0
    queries: dict[str, str] = Field(default_factory=dict)
    error: str | None = None

    @property
    def latest(self) -> MetricPoint | None:
        """The newest point, or None when the window holds none."""
        return self.points[-1] if self.points else None


class Condition(Frozen):
    """What the step policy's rules say now (``domain.condition.assess``).

    ``direction`` is OUT while the high rule holds, IN while the low rule holds, None otherwise;
    ``available`` is false when Prometheus could not be asked or had no data (``why`` says which).
    ``evidence_from`` is the oldest raw sample the verdict rests on.
    """

    available: bool
    direction: ScaleDirection | None = None
    why: str
    cpu: float | None = None
    memory: float | None = None
    evidence_from: UtcDatetime | None = None
    points: int = 0


class GroupState(Frozen):
    """Runtime state of a group kept beside its settings (never only in memory)."""

    last_scale_out_at: UtcDatetime | None = None
    last_scale_in_at: UtcDatetime | None = None
    lease_fence: int = 0
    scale_in_silenced: bool = False
    alerts_status: str = "none"
    alerts_detail: str = ""
    recommendations: tuple[Recommendation, ...] = ()
    schedule_runs: dict[str, UtcDatetime] = Field(default_factory=dict)
    last_tracking_at: UtcDatetime | None = None
    last_activity_end_at: UtcDatetime | None = None
    quiet_blocks: dict[str, QuietMark] = Field(default_factory=dict)
    """Per rule, the last block a background evaluation recorded (``timers.repeats_quietly``)."""
    pool_missing: tuple[str, ...] = ()
    """In-service instances the load balancer pool lacked when last compared."""
    pool_unexpected: tuple[str, ...] = ()
    """Pool members no instance of the group accounts for, when last compared."""
    pool_members: int | None = None
    pool_checked_at: UtcDatetime | None = None
    pool_note: str = ""
    """The load balancer's own drift report about the group's pool, if any."""
    failure_backoff: FailureBackoff | None = None
    """Set when an activity rolled back or failed; blocks the same direction until it ends."""
    replacements_owed: int = 0
    """Lost VMs removed from the group whose replacements have not been started yet."""
    scale_in_silence_at: UtcDatetime | None = None
    """When the scale-in silence was last set or renewed (it is renewed before it expires)."""


class Observed(Frozen):
    """Everything a decision looks at besides the group, the policy and the time."""

    instances: tuple[Instance, ...] = ()
    in_progress: str | None = None
    last_scale_out_at: UtcDatetime | None = None
    last_scale_in_at: UtcDatetime | None = None
    free_ips: int = 0
    alert: AlertSignal | None = None
    metrics: MetricReading | None = None
    recommendations: tuple[Recommendation, ...] = ()
    failure_backoff: FailureBackoff | None = None
    last_activity_end_at: UtcDatetime | None = None
    """When the group's latest activity ended: an alert received before it predates that change."""
    condition: Condition | None = None
    """The step policy's rules, read from Prometheus for this decision."""
    replacements: int = 0
    """Lost VMs (deleted, powered off) removed from the group and not replaced yet."""

    @property
    def size(self) -> int:
        """The group's size: instances pending, provisioning or in service."""
        return sum(1 for i in self.instances if i.counts)

    @property
    def removable(self) -> int:
        """How many instances a scale-in may choose."""
        return sum(1 for i in self.instances if i.removable)

    def summary(self) -> dict[str, Any]:
        """The inputs worth storing with a decision."""
        out: dict[str, Any] = {"size": self.size, "removable": self.removable, "free_ips": self.free_ips}
        if self.in_progress:
            out["in_progress"] = self.in_progress
        if self.alert is not None:
            out["alert"] = {
                "alertname": self.alert.alertname,
                "fingerprint": self.alert.fingerprint,
                "starts_at": self.alert.starts_at.isoformat(),
            }
        if self.metrics is not None:
            out["metrics"] = self.metrics.model_dump(mode="json", exclude_none=True)
        if self.condition is not None:
            out["condition"] = self.condition.model_dump(mode="json", exclude_none=True)
        if self.replacements:
            out["replacements"] = self.replacements
        return out
