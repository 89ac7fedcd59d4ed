"""Dead letters through the REST API: listed (scrubbed), replayed by an operator, discarded by an
admin, each change audited; unknown sequences are 404 problems, too-low roles 403; counted on
the system status and in /metrics."""

from __future__ import annotations

import httpx

from shared import subjects
from tests.integration.gateway.gateway_support import Gateway, dead_letter, stored

SUBJECT = subjects.CMD_POOL_REMOVE
OTHER = subjects.CMD_VM_CLONE


async def user(gateway: Gateway, admin: httpx.AsyncClient, name: str, role: str) -> httpx.AsyncClient:
    password = f"{name} password long enough"
    created = await admin.post("/api/v1/users", json={"username": name, "password": password, "role": role})
    assert created.status_code == 201, created.text
    return await gateway.login(name, password)


async def test_dead_letters_are_listed_newest_first_filtered_and_scrubbed(gateway: Gateway) -> None:
    admin = await gateway.login()
    viewer = await user(gateway, admin, "vera", "viewer")
    await dead_letter(gateway, SUBJECT, '{"pool": "web", "name": "web-1", "password": "hunter2"}')
    await dead_letter(gateway, OTHER, "not json; token=abc123")
    await stored(gateway, 2)

    listed = (await viewer.get("/api/v1/dead-letters")).json()
    assert listed["total"] == 2 and listed["next_before"] is None
    newest, oldest = listed["letters"]
    assert (newest["subject"], oldest["subject"]) == (OTHER.name, SUBJECT.name)
    assert oldest["payload"] == {"pool": "web", "name": "web-1", "password": "***"}
    assert newest["payload"] == "not json; token=***"
    assert (oldest["service"], oldest["reason"], oldest["message_id"]) == ("loadbalancer", "member not allowed", "m-1")
    assert "hunter2" not in str(listed) and "abc123" not in str(listed)

    filtered = (await viewer.get("/api/v1/dead-letters", params={"subject": SUBJECT.name, "limit": 5})).json()
    assert [x["seq"] for x in filtered["letters"]] == [oldest["seq"]] and filtered["total"] == 1
    one = await viewer.get(f"/api/v1/dead-letters/{oldest['seq']}")
    assert one.json() == oldest
    paged = (await viewer.get("/api/v1/dead-letters", params={"limit": 1})).json()
    assert [x["seq"] for x in paged["letters"]] == [newest["seq"]] and paged["next_before"] == newest["seq"]


async def test_an_unknown_sequence_is_a_404_problem_on_every_route(gateway: Gateway) -> None:
    admin = await gateway.login()
    for method, path in (
        ("GET", "/api/v1/dead-letters/424242"),
        ("POST", "/api/v1/dead-letters/424242/replay"),
        ("DELETE", "/api/v1/dead-letters/424242"),
    ):
        response = await admin.request(method, path)
        assert response.status_code == 404, (method, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert "424242" in response.json()["detail"]
    assert (await admin.get("/api/v1/dead-letters/0")).status_code == 422
    assert (await admin.get("/api/v1/dead-letters", params={"subject": "not a subject"})).status_code == 422


async def test_an_operator_replays_a_letter_onto_its_subject_and_a_viewer_may_not(gateway: Gateway) -> None:
    admin = await gateway.login()
    viewer = await user(gateway, admin, "vera", "viewer")
    operator = await user(gateway, admin, "olga", "operator")
    body = '{"pool": "web", "name": "web-1"}'
    await dead_letter(gateway, SUBJECT, body)
    await stored(gateway, 1)
    (letter,) = (await viewer.get("/api/v1/dead-letters")).json()["letters"]

    refused = await viewer.post(f"/api/v1/dead-letters/{letter['seq']}/replay")
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"

    bus = gateway.state.runtime.bus
    sub = await bus.broker.config.connection_state.connection.subscribe(bus.topology.subject(SUBJECT))
    replayed = await operator.post(f"/api/v1/dead-letters/{letter['seq']}/replay")
    assert replayed.status_code == 200, replayed.text
    outcome = replayed.json()
    assert (outcome["action"], outcome["subject"]) == ("replayed", SUBJECT.name)
    message = await sub.next_msg(timeout=5)
    await sub.unsubscribe()
    assert message.data.decode() == body and message.headers["Nats-Msg-Id"] == outcome["message_id"] != "m-1"
    assert message.headers["correlation_id"] == "act-1"

    assert (await viewer.get(f"/api/v1/dead-letters/{letter['seq']}")).status_code == 404
    assert (await operator.post(f"/api/v1/dead-letters/{letter['seq']}/replay")).status_code == 404
    (entry,) = [e for e in gateway.state.audit_log.recent(50) if e.action == "dead_letter.replay"]
    assert (entry.actor, entry.target, entry.detail["subject"]) == ("olga", str(letter["seq"]), SUBJECT.name)


async def test_only_an_admin_discards_and_the_reason_is_audited(gateway: Gateway) -> None:
    admin = await gateway.login()
    operator = await user(gateway, admin, "olga", "operator")
    await dead_letter(gateway, SUBJECT, "{}")
    await stored(gateway, 1)
    (letter,) = (await admin.get("/api/v1/dead-letters")).json()["letters"]
    path = f"/api/v1/dead-letters/{letter['seq']}"

    assert (await operator.delete(path)).status_code == 403
    discarded = await admin.delete(path, params={"reason": "poison message, ticket OPS-12"})
    assert discarded.status_code == 200 and discarded.json()["action"] == "discarded"
    assert (await admin.get("/api/v1/dead-letters")).json() == {"letters": [], "total": 0, "next_before": None}
    assert (await admin.delete(path)).status_code == 404
    (entry,) = [e for e in gateway.state.audit_log.recent(50) if e.action == "dead_letter.discard"]
    assert entry.actor == "admin" and entry.detail["reason"] == "poison message, ticket OPS-12"


async def test_the_system_status_and_metrics_count_the_dead_letters_by_subject(gateway: Gateway) -> None:
    admin = await gateway.login()
    assert (await admin.get("/api/v1/system/status")).json()["dead_letters"] == {}
    for _ in range(2):
        await dead_letter(gateway, SUBJECT, "{}")
    await dead_letter(gateway, OTHER, "{}")
    await stored(gateway, 3)
    status = (await admin.get("/api/v1/system/status")).json()
    assert status["dead_letters"] == {SUBJECT.name: 2, OTHER.name: 1}
    metrics = (await gateway.client.get("/metrics")).text
    assert f'vmscale_dead_letters_stored{{subject="{SUBJECT.name}"}} 2.0' in metrics
    assert f'vmscale_dead_letters_stored{{subject="{OTHER.name}"}} 1.0' in metrics
