"""What is wrong with a scaling group, and what vmscale is doing about it, from what the scaler and
the dead-letter stream say (pure: no IO, so the rules are tested without a bus).

The group page and the dashboard show these as banners: decisions that fail (dead letters naming
the group, blocks that are failures rather than choices, a failed activity, the back-off after
it), VMs lost or missing from the pool, alerts that could not be provisioned, and a size outside
min..max with the reason and vmscale's next step. Also the vocabulary of scaling processes that
an operator can suspend: exactly the scaler's (a unit test checks them against each other).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

from shared.messages import ActivityView, DecisionView, DriftView, GroupView

__all__ = [
    "FAILING_REASONS",
    "SCALING_PROCESSES",
    "GroupHealth",
    "HealthProblem",
    "ProcessState",
    "ScalingProcess",
    "assess",
]

ScalingProcess = Literal["scale_out", "scale_in", "alerts", "target_tracking", "scheduled"]
"""The processes the scaler can suspend (its ``Process``); nothing else is offered or accepted."""
SCALING_PROCESSES: tuple[str, ...] = get_args(ScalingProcess)

FAILING_REASONS = frozenset({"metrics_unavailable", "ip_pool_exhausted", "failure_backoff", "no_victims"})
"""Block reasons that say a decision could not be carried out, as opposed to a deliberate "not now"
(cooldown, at_min, at_max, no_change, suspended, disabled, in_progress)."""

Kind = Literal[
    "dead_letters", "decision_failing", "activity_failed", "backoff", "alerts", "lost_vms", "below_min", "above_max"
]


class ProcessState(BaseModel):
    """One scaling process of the group and whether it is suspended."""

    name: ScalingProcess
    suspended: bool


class HealthProblem(BaseModel):
    """Something the operator should know: what, why, what vmscale does about it, where to look."""

    kind: Kind
    severity: Literal["error", "warning"]
    message: str
    doing: str = Field(default="", description="what vmscale is doing about it ('' when nothing)")
    doing_code: str = Field(default="", description="``doing`` as a stable code, for translations")
    facts: dict[str, Any] = Field(default_factory=dict, description="the values the message and ``doing`` are made of")
    since: datetime | None = None
    link: str | None = Field(default=None, description="a UI route with the details, e.g. #/dead-letters")


class GroupHealth(BaseModel):
    """A group's problems, its processes, and the last decision it actually carried out."""

    group: str
    problems: list[HealthProblem]
    processes: list[ProcessState]
    last_allowed: DecisionView | None = Field(default=None, description="the newest decision that changed the size")
    last_decision: DecisionView | None = Field(default=None, description="the newest decision recorded")
    dead_letters_checked: bool = Field(description="false when the dead-letter stream could not be read")


def assess(
    group: GroupView,
    decisions: Sequence[DecisionView],
    activities: Sequence[ActivityView],
    drift: DriftView | None,
    letters: Sequence[dict[str, Any]] | None,
    now: datetime,
) -> GroupHealth:
    """The group's health. ``decisions`` and ``activities`` in any order; ``letters`` are the
    dead letters naming the group (``subject``, ``reason``, ``at``), None when unread."""
    newest = sorted(decisions, key=lambda d: d.at, reverse=True)
    problems = [*_letters(letters or ()), *_failing(newest), *_activity(activities), *_state(group, drift, now)]
    problems += _size(group, newest, activities)
    last_allowed = next((d for d in newest if d.allowed), None)
    return GroupHealth(
        group=group.name,
        problems=problems,
        processes=[ProcessState(name=p, suspended=p in group.suspended) for p in get_args(ScalingProcess)],
        last_allowed=last_allowed,
        last_decision=newest[0] if newest else None,
        dead_letters_checked=letters is not None,
    )


def _letters(letters: Sequence[dict[str, Any]]) -> list[HealthProblem]:
    if not letters:
        return []
    latest = max(letters, key=lambda x: x["at"])
    return [
        HealthProblem(
            kind="dead_letters",
            severity="error",
            message=f"{len(letters)} message(s) for this group were dead-lettered; the latest, on "
            f"{latest['subject']}: {latest['reason']}",
            doing="nothing until an operator replays or discards them",
            doing_code="replay",
            facts={"count": len(letters), "subject": latest["subject"], "reason": latest["reason"]},
            since=latest["at"],
            link="#/dead-letters",
        )
    ]


def _failing(newest: Sequence[DecisionView]) -> list[HealthProblem]:
    """Failures among the decisions since the last one that changed the size, newest per reason."""
    seen: dict[str, DecisionView] = {}
    for decision in newest:
        if decision.allowed:
            break
        if decision.reason in FAILING_REASONS and decision.reason not in seen:
            seen[decision.reason] = decision
    return [
        HealthProblem(
            kind="decision_failing",
            severity="error",
            message=f"{d.reason} ({d.trigger}): {d.message}",
            doing="it tries again at each evaluation",
            doing_code="retry",
            facts={"reason": d.reason, "trigger": d.trigger, "message": d.message},
            since=d.at,
            link="#/events",
        )
        for d in seen.values()
    ]


def _activity(activities: Sequence[ActivityView]) -> list[HealthProblem]:
    finished = sorted((a for a in activities if a.status != "running"), key=lambda a: a.created_at, reverse=True)
    if not finished or finished[0].status == "succeeded":
        return []
    last = finished[0]
    step = f" at {last.failed_step}" if last.failed_step else ""
    return [
        HealthProblem(
            kind="activity_failed",
            severity="error",
            message=f"the last {last.kind} {last.status}{step}: {last.reason or 'no reason recorded'}",
            doing="its completed steps were undone",
            doing_code="undone",
            facts={
                "kind": last.kind,
                "status": last.status,
                "step": last.failed_step or "",
                "reason": last.reason or "",
            },
            since=last.finished_at or last.created_at,
            link="#/events",
        )
    ]


def _state(group: GroupView, drift: DriftView | None, now: datetime) -> list[HealthProblem]:
    out: list[HealthProblem] = []
    if group.failure_backoff_until is not None and group.failure_backoff_until > now:
        out.append(
            HealthProblem(
                kind="backoff",
                severity="warning",
                message=f"backing off after a failure: {group.failure_backoff or 'an activity failed'}",
                doing=f"no new activity in that direction before {group.failure_backoff_until.isoformat()}",
                doing_code="wait",
                facts={"cause": group.failure_backoff, "until": group.failure_backoff_until.isoformat()},
            )
        )
    if group.alerts_status == "failed":
        out.append(
            HealthProblem(
                kind="alerts",
                severity="error",
                message=f"alert rules: {group.alerts_status}"
                + (f": {group.alerts_detail}" if group.alerts_detail else ""),
                doing="alerts do not reach the scaler until they are provisioned",
                doing_code="alerts_blocked",
                facts={"status": group.alerts_status, "detail": group.alerts_detail},
                link="#/routing",
            )
        )
    if drift is not None and drift.missing_from_pool:
        out.append(
            HealthProblem(
                kind="lost_vms",
                severity="warning",
                message="in the group but not in the load balancer pool: " + ", ".join(drift.missing_from_pool),
                doing="reported only; neither side is changed",
                doing_code="report_only",
                facts={"vms": ", ".join(drift.missing_from_pool)},
            )
        )
    return out


def _size(group: GroupView, newest: Sequence[DecisionView], activities: Sequence[ActivityView]) -> list[HealthProblem]:
    if group.min_size <= group.size <= group.max_size:
        return []
    below = group.size < group.min_size
    limit = f"the minimum {group.min_size}" if below else f"the maximum {group.max_size}"
    message = f"{group.size} VM(s), {'below' if below else 'above'} {limit}"
    running = next((a for a in activities if a.status == "running"), None)
    converge = next((d for d in newest if d.trigger == "converge"), None)
    facts: dict[str, Any] = {"size": group.size, "limit": group.min_size if below else group.max_size}
    if not group.enabled:
        code, doing = (
            "disabled",
            "nothing: the group is disabled (enable it and vmscale brings it back inside its limits)",
        )
    elif running is not None:
        code, doing = "running", f"a {running.kind} is running ({running.id})"
        facts |= {"activity_kind": running.kind, "activity": running.id}
    elif converge is not None and converge.allowed:
        code, doing = "converging", f"converging: {converge.message}"
        facts |= {"message": converge.message}
    elif converge is not None:
        code, doing = "converge_blocked", f"converging is blocked: {converge.reason}: {converge.message}"
        facts |= {"reason": converge.reason, "message": converge.message}
    else:
        code, doing = "next_evaluation", "it converges at the next evaluation"
    severity: Literal["error", "warning"] = "error" if converge is not None and not converge.allowed else "warning"
    kind: Kind = "below_min" if below else "above_max"
    return [HealthProblem(kind=kind, severity=severity, message=message, doing=doing, doing_code=code, facts=facts)]
