"""Dead letters acted on by filter through the REST API: subject, group, time range and reason
substring select them; a dry run counts and changes nothing; a replay publishes each once; a discard
is admin only; each letter and the whole are audited; a bad filter is a 422 problem."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from shared import subjects
from shared.messages import DeadLetter
from shared.subjects import Subject
from tests.integration.gateway.gateway_support import Gateway, stored

POOL = subjects.CMD_POOL_REMOVE
CLONE = subjects.CMD_VM_CLONE


async def letter(gateway: Gateway, subject: Subject[Any], group: str, reason: str) -> None:
    bus = gateway.state.runtime.bus
    await bus.publish(
        subjects.dead_letter(subject),
        DeadLetter(
            subject=subject.name,
            consumer=bus.topology.durable("loadbalancer", subject),
            reason=reason,
            error_kind="InvalidInput",
            deliveries=3,
            payload=json.dumps({"group": group, "name": f"{group}-1"}),
        ),
    )


async def user(gateway: Gateway, admin: httpx.AsyncClient, name: str, role: str) -> httpx.AsyncClient:
    password = f"{name} password long enough"
    created = await admin.post("/api/v1/users", json={"username": name, "password": password, "role": role})
    assert created.status_code == 201, created.text
    return await gateway.login(name, password)


async def seqs(client: httpx.AsyncClient) -> list[int]:
    return sorted(x["seq"] for x in (await client.get("/api/v1/dead-letters")).json()["letters"])


async def test_a_filter_selects_by_subject_group_time_and_reason_and_a_dry_run_changes_nothing(
    gateway: Gateway,
) -> None:
    admin = await gateway.login()
    await letter(gateway, POOL, "web", "member not allowed")
    await stored(gateway, 1)
    cut = datetime.now(UTC)
    await letter(gateway, POOL, "web", "Pool WEB is gone")
    await letter(gateway, POOL, "db", "member not allowed")
    await letter(gateway, CLONE, "web", "template missing")
    await stored(gateway, 4)
    first, second, third, fourth = await seqs(admin)

    async def dry(**selection: Any) -> int:
        response = await admin.post("/api/v1/dead-letters/bulk/replay", json={**selection, "dry_run": True})
        assert response.status_code == 200, response.text
        assert response.json()["done"] == []
        return int(response.json()["matched"])

    assert await dry() == 4
    assert await dry(subject=POOL.name) == 3
    assert await dry(group="web") == 3
    assert await dry(subject=POOL.name, group="web") == 2
    assert await dry(since=cut.isoformat()) == 3
    assert await dry(until=cut.isoformat()) == 1
    assert await dry(reason_contains="NOT ALLOWED") == 2
    assert await dry(group="web", reason_contains="gone", since=cut.isoformat()) == 1
    assert await dry(group="nobody") == 0
    assert await seqs(admin) == [first, second, third, fourth]
    assert not [e for e in gateway.state.audit_log.recent(50) if e.action.startswith("dead_letter")]

    discarded = await admin.post(
        "/api/v1/dead-letters/bulk/discard", json={"reason_contains": "not allowed", "reason": "stale, OPS-7"}
    )
    assert discarded.status_code == 200, discarded.text
    assert discarded.json()["done"] == [first, third] and discarded.json()["failed"] == {}
    assert await seqs(admin) == [second, fourth]
    audit = gateway.state.audit_log.recent(50)
    each = sorted(int(e.target) for e in audit if e.action == "dead_letter.discard")
    assert each == [first, third]
    (whole,) = [e for e in audit if e.action == "dead_letters.bulk_discard"]
    assert whole.actor == "admin" and whole.detail["reason_contains"] == "not allowed"
    assert (whole.detail["matched"], whole.detail["done"]) == (2, 2)


async def test_an_operator_replays_by_filter_each_once_and_may_not_discard(gateway: Gateway) -> None:
    admin = await gateway.login()
    operator = await user(gateway, admin, "olga", "operator")
    viewer = await user(gateway, admin, "vera", "viewer")
    await letter(gateway, POOL, "web", "member not allowed")
    await letter(gateway, POOL, "web", "member not allowed")
    await letter(gateway, POOL, "db", "member not allowed")
    await stored(gateway, 3)
    remaining_seq = max(await seqs(admin))

    assert (await viewer.post("/api/v1/dead-letters/bulk/replay", json={"dry_run": True})).status_code == 403
    refused = await operator.post("/api/v1/dead-letters/bulk/discard", json={"group": "web"})
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"

    bus = gateway.state.runtime.bus
    sub = await bus.broker.config.connection_state.connection.subscribe(bus.topology.subject(POOL))
    replayed = await operator.post("/api/v1/dead-letters/bulk/replay", json={"group": "web"})
    assert replayed.status_code == 200, replayed.text
    assert len(replayed.json()["done"]) == 2
    bodies = [json.loads((await sub.next_msg(timeout=5)).data) for _ in range(2)]
    await sub.unsubscribe()
    assert [b["group"] for b in bodies] == ["web", "web"]
    assert await seqs(admin) == [remaining_seq]

    again = await operator.post("/api/v1/dead-letters/bulk/replay", json={"group": "web"})
    assert again.json()["matched"] == 0 and again.json()["done"] == []
    audit = gateway.state.audit_log.recent(50)
    assert len([e for e in audit if e.action == "dead_letter.replay" and e.actor == "olga"]) == 2
    assert len([e for e in audit if e.action == "dead_letters.bulk_replay"]) == 2


async def test_a_bad_filter_is_a_422_problem(gateway: Gateway) -> None:
    admin = await gateway.login()
    for body in (
        {"subject": "not a subject"},
        {"since": "2026-01-01T00:00:00"},  # no UTC offset
        {"since": 0},  # a number is not a time here
        {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        {"reason_contains": ""},
        {"colour": "red"},
    ):
        response = await admin.post("/api/v1/dead-letters/bulk/discard", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
