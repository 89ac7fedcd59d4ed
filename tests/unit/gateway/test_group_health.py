"""A group's health says what fails and what vmscale does about it; its processes are the scaler's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.gateway.api.groups import PROCESSES
from services.gateway.clients import to_error
from services.gateway.errors import install_error_handlers
from services.gateway.group_health import SCALING_PROCESSES, assess
from services.scaler.domain.model import Process
from shared import subjects
from shared.errors import InvalidInput
from shared.messages import ActivityView, DecisionView, DriftView, GroupReply, GroupView

NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)


def group(**changes: Any) -> GroupView:
    values: dict[str, Any] = {"name": "web", "enabled": True, "min_size": 2, "max_size": 4, "size": 2}
    return GroupView(**{**values, **changes})


def decision(
    minutes_ago: int, allowed: bool, reason: str, trigger: str = "evaluation", message: str = "m"
) -> DecisionView:
    return DecisionView(
        id=f"d{minutes_ago}",
        group="web",
        at=NOW - timedelta(minutes=minutes_ago),
        allowed=allowed,
        delta=1 if allowed else 0,
        reason=reason,
        message=message,
        trigger=trigger,
        rule="step",
    )


def activity(minutes_ago: int, status: str, **changes: Any) -> ActivityView:
    values: dict[str, Any] = {
        "id": f"a{minutes_ago}",
        "group": "web",
        "kind": "scale_out",
        "status": status,
        "cause": "alert",
        "created_at": NOW - timedelta(minutes=minutes_ago),
    }
    return ActivityView(**{**values, **changes})


def test_the_processes_offered_are_exactly_the_scalers() -> None:
    assert set(SCALING_PROCESSES) == {p.value for p in Process}
    assert PROCESSES == SCALING_PROCESSES


def test_a_healthy_group_has_no_problems_and_reports_its_suspended_processes() -> None:
    health = assess(group(suspended=("scale_in",)), [decision(1, True, "allowed")], [], None, [], NOW)
    assert health.problems == []
    assert [(p.name, p.suspended) for p in health.processes if p.suspended] == [("scale_in", True)]
    assert health.last_allowed is not None and health.last_allowed.id == "d1"
    assert health.dead_letters_checked


def test_dead_letters_naming_the_group_are_an_error_with_the_latest_reason_and_a_link() -> None:
    letters = [
        {"subject": subjects.ALERT_FIRED.name, "reason": "lease: redis down", "at": NOW - timedelta(minutes=5)},
        {"subject": subjects.ALERT_FIRED.name, "reason": "lease: token mismatch", "at": NOW - timedelta(minutes=1)},
    ]
    [problem] = assess(group(), [], [], None, letters, NOW).problems
    assert problem.kind == "dead_letters" and problem.severity == "error" and problem.link == "#/dead-letters"
    assert "2 message(s)" in problem.message and "lease: token mismatch" in problem.message


def test_unread_dead_letters_are_said_to_be_unchecked() -> None:
    assert assess(group(), [], [], None, None, NOW).dead_letters_checked is False


def test_failing_decisions_since_the_last_allowed_one_are_reported_once_per_reason() -> None:
    decisions = [
        decision(1, False, "metrics_unavailable", message="prometheus: connection refused"),
        decision(2, False, "metrics_unavailable", message="older"),
        decision(3, False, "cooldown"),
        decision(4, True, "allowed"),
        decision(5, False, "ip_pool_exhausted"),
    ]
    problems = assess(group(), decisions, [], None, [], NOW).problems
    assert [(p.kind, p.message) for p in problems] == [
        ("decision_failing", "metrics_unavailable (evaluation): prometheus: connection refused")
    ]


def test_a_failed_last_activity_is_reported_until_one_succeeds() -> None:
    failed = activity(3, "rolled_back", failed_step="clone", reason="vCenter: no space")
    [problem] = assess(group(), [], [failed], None, [], NOW).problems
    assert problem.message == "the last scale_out rolled_back at clone: vCenter: no space"
    assert assess(group(), [], [failed, activity(1, "succeeded")], None, [], NOW).problems == []


@pytest.mark.parametrize(
    ("changes", "decisions", "activities", "doing"),
    [
        ({"enabled": False}, [], [], "nothing: the group is disabled"),
        ({}, [], [activity(1, "running", id="act-1")], "a scale_out is running (act-1)"),
        ({}, [decision(1, True, "allowed", "converge", "grow to min_size 2")], [], "converging: grow to min_size 2"),
        (
            {},
            [decision(1, False, "ip_pool_exhausted", "converge", "no free address")],
            [],
            "converging is blocked: ip_pool_exhausted: no free address",
        ),
        ({}, [], [], "it converges at the next evaluation"),
    ],
    ids=["disabled", "activity-running", "converging", "converge-blocked", "waiting"],
)
def test_below_min_says_why_and_what_vmscale_does(
    changes: dict[str, Any], decisions: list[DecisionView], activities: list[ActivityView], doing: str
) -> None:
    problems = assess(group(size=1, **changes), decisions, activities, None, [], NOW).problems
    below = next(p for p in problems if p.kind == "below_min")
    assert below.message == "1 VM(s), below the minimum 2"
    assert below.doing.startswith(doing)
    assert below.facts["size"] == 1 and below.facts["limit"] == 2 and below.doing_code  # what the UI translates


def test_above_max_backoff_failed_alerts_and_vms_missing_from_the_pool_are_each_reported() -> None:
    view = group(
        size=5,
        failure_backoff_until=NOW + timedelta(minutes=2),
        failure_backoff="scale-out after a1: clone failed",
        alerts_status="failed",
        alerts_detail="provision: prometheus reload failed",
    )
    drift = DriftView(instances=5, missing_from_pool=("web-05",))
    kinds = [p.kind for p in assess(view, [], [], drift, [], NOW).problems]
    assert kinds == ["backoff", "alerts", "lost_vms", "above_max"]


async def test_the_scalers_field_errors_reach_the_problem_document() -> None:
    reply = GroupReply(
        error="invalid group: min_size: min_size must not exceed max_size",
        error_kind="InvalidInput",
        error_fields=(("min_size", "min_size must not exceed max_size"),),
    )
    error = to_error(reply, subjects.QUERY_SCALER_SAVE_GROUP)
    assert isinstance(error, InvalidInput) and error.fields == (("min_size", "min_size must not exceed max_size"),)
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/save")
    async def save() -> None:
        raise error

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.post("/save")
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "min_size", "message": "min_size must not exceed max_size"}]
    assert response.json()["detail"] == "invalid group: min_size: min_size must not exceed max_size"
