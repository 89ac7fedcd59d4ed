"""``DeadLetterFilter``: every criterion given must hold; none given takes every letter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import subjects
from shared.dead_letters import DeadLetterFilter, DeadLetterRecord

AT = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


def record(payload: Any = None, *, is_json: bool = True, reason: str = "Member not allowed") -> DeadLetterRecord:
    return DeadLetterRecord(
        sequence=7,
        subject=subjects.CMD_POOL_REMOVE.name,
        service="loadbalancer",
        consumer="loadbalancer-cmd_pool_remove",
        reason=reason,
        error_kind="InvalidInput",
        deliveries=3,
        dead_lettered_at=AT,
        message_id=None,
        headers={},
        payload={"group": "web"} if payload is None else payload,
        payload_is_json=is_json,
    )


def test_no_criterion_takes_every_letter() -> None:
    assert DeadLetterFilter().matches(record())
    assert DeadLetterFilter().matches(record("not json", is_json=False))


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"subject": subjects.CMD_POOL_REMOVE.name}, True),
        ({"subject": subjects.CMD_VM_CLONE.name}, False),
        ({"group": "web"}, True),
        ({"group": "db"}, False),
        ({"since": AT}, True),
        ({"since": AT + timedelta(microseconds=1)}, False),
        ({"until": AT + timedelta(microseconds=1)}, True),
        ({"until": AT}, False),
        ({"reason_contains": "NOT ALLOWED"}, True),
        ({"reason_contains": "template"}, False),
        ({"subject": subjects.CMD_POOL_REMOVE.name, "group": "web", "reason_contains": "member"}, True),
        ({"subject": subjects.CMD_POOL_REMOVE.name, "group": "db", "reason_contains": "member"}, False),
    ],
)
def test_each_criterion_must_hold(criteria: dict[str, Any], expected: bool) -> None:
    assert DeadLetterFilter(**criteria).matches(record()) is expected


def test_a_group_filter_never_takes_a_letter_without_a_group_in_its_payload() -> None:
    only_web = DeadLetterFilter(group="web")
    assert not only_web.matches(record("group=web", is_json=False))
    assert not only_web.matches(record(["web"]))
    assert not only_web.matches(record({"name": "web-1"}))
