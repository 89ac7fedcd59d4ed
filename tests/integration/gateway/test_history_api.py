"""History through the gateway's API (issue 16 item 6): range presets for the metrics (up to 7 d,
a bounded number of points, 422 with a reason for an unknown one), a group's size over time from
its activities, and events of a range older than the live ring read from the scaler's history."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared import subjects
from shared.messages import ActivityView, DecisionView
from tests.integration.gateway.gateway_support import Gateway

STARTED = subjects.ACTIVITY_STARTED.name
ROLLED_BACK = subjects.ACTIVITY_ROLLED_BACK.name
DECIDED = subjects.DECISION_RECORDED.name

PROBLEM = "application/problem+json"


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    return body


def activity(
    n: int, kind: str, created: datetime, status: str, finished: datetime | None, vms: int = 1
) -> ActivityView:
    return ActivityView(
        id=f"act-old-{n}",
        group="web",
        kind=kind,
        status=status,
        cause="alert",
        created_at=created,
        finished_at=finished,
        vm_names=tuple(f"web-{n}-{i}" for i in range(vms)),
        reason="clone failed" if status == "rolled_back" else None,
        failed_step="clone" if status == "rolled_back" else None,
    )


async def test_each_preset_asks_for_a_bounded_number_of_points_and_an_unknown_one_is_refused(
    gateway: Gateway,
) -> None:
    viewer = await gateway.login()
    lengths = {}
    for preset in ("15m", "1h", "6h", "24h", "7d"):
        got = await viewer.get("/api/v1/prometheus/usage", params={"job": "web", "range": preset})
        assert got.status_code == 200, got.text
        series = got.json()["series"]
        assert series, "the stand-in monitoring answers for the job's targets"
        lengths[preset] = len(series[0]["cpu"])
    # 15 s steps for the short ranges, then about 240 points whatever the range
    assert lengths == {"15m": 61, "1h": 241, "6h": 241, "24h": 241, "7d": 241}
    body = problem(await viewer.get("/api/v1/prometheus/usage", params={"job": "web", "range": "2d"}), 422)
    assert "15m, 1h, 6h, 24h, 7d" in body["detail"]


async def test_minutes_go_up_to_seven_days_within_what_prometheus_answers(gateway: Gateway) -> None:
    viewer = await gateway.login()
    week = await viewer.get("/api/v1/prometheus/usage", params={"job": "web", "minutes": 10080, "step_s": 600})
    assert week.status_code == 200, week.text  # over the old 24 h cap
    assert len(week.json()["series"][0]["cpu"]) == 10080 * 60 // 600 + 1
    too_many = await viewer.get("/api/v1/prometheus/usage", params={"job": "web", "minutes": 10080, "step_s": 15})
    assert "use step_s of 55 or more" in problem(too_many, 422)["detail"]
    assert (await viewer.get("/api/v1/prometheus/usage", params={"job": "web", "minutes": 10081})).status_code == 422


async def test_the_size_over_time_follows_the_activities_back_from_the_size_now(gateway: Gateway) -> None:
    now = datetime.now(UTC)
    gateway.scaler.sizes["web"] = 3
    gateway.scaler.activities.extend(
        [
            activity(1, "scale_out", now - timedelta(hours=30), "succeeded", now - timedelta(hours=29)),  # before
            activity(2, "scale_out", now - timedelta(hours=5), "succeeded", now - timedelta(hours=4), vms=2),
            activity(3, "scale_in", now - timedelta(hours=3), "succeeded", now - timedelta(hours=3)),
            activity(4, "scale_out", now - timedelta(minutes=50), "rolled_back", now - timedelta(minutes=40)),
            activity(5, "scale_out", now - timedelta(minutes=10), "succeeded", now - timedelta(minutes=5)),
        ]
    )
    viewer = await gateway.login()
    got = await viewer.get("/api/v1/groups/web/size-history", params={"range": "6h"})
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["range"] == "6h" and body["complete"] is True
    assert [p["size"] for p in body["points"]] == [1, 3, 2, 3, 2, 3, 3]
    hour = (await viewer.get("/api/v1/groups/web/size-history", params={"range": "1h"})).json()
    assert [p["size"] for p in hour["points"]] == [2, 3, 2, 3, 3]
    assert problem(await viewer.get("/api/v1/groups/web/size-history", params={"range": "1y"}), 422)["detail"]
    assert (await viewer.get("/api/v1/groups/nope/size-history")).status_code == 404


async def test_a_range_older_than_the_ring_reads_the_scalers_history_without_duplicates(gateway: Gateway) -> None:
    now = datetime.now(UTC)
    old = now - timedelta(hours=3)
    gateway.scaler.activities.append(activity(7, "scale_out", old, "rolled_back", old + timedelta(minutes=2)))
    gateway.scaler.decisions.append(
        DecisionView(
            id="8d7c3c51-5a0b-4f7e-9a39-0b1d7f0c2e11",
            group="web",
            at=old - timedelta(seconds=1),
            allowed=True,
            delta=1,
            reason="allowed",
            message="cpu 91% over 80%",
            trigger="alert",
            rule="cpu",
            activity_id="act-old-7",
        )
    )
    viewer = await gateway.login()
    scaled = await viewer.post("/api/v1/groups/web/scale", json={"delta": 1})  # live: decision + activity.started
    assert scaled.status_code == 200, scaled.text
    decision_id = scaled.json()["decision"]["id"]
    for _ in range(200):
        if len(gateway.state.feed.recent(types={"activity", "decision"})) >= 2:
            break
        await asyncio.sleep(0.02)

    recent = (await viewer.get("/api/v1/events", params={"type": "activity,decision"})).json()
    assert {e["subject"] for e in recent} == {DECIDED, STARTED}  # no range: the ring only

    found = (await viewer.get("/api/v1/events", params={"range": "6h", "type": "activity,decision"})).json()
    assert {(e["subject"], e["id"] > 0) for e in found[:2]} == {(STARTED, True), (DECIDED, True)}
    assert [(e["subject"], e["id"]) for e in found[2:]] == [
        (ROLLED_BACK, 0),
        (STARTED, 0),
        (DECIDED, 0),
    ]  # the live decision (the scaler stores it too) once, from the ring; the old ones from the scaler
    assert next(e["data"]["message_id"] for e in found if e["subject"] == DECIDED) == decision_id
    rolled = found[2]
    assert rolled["status"] == "failed" and rolled["data"]["reason"] == "clone failed" and rolled["group"] == "web"

    failed = (await viewer.get("/api/v1/events", params={"range": "6h", "status": "failed"})).json()
    assert [e["subject"] for e in failed] == [ROLLED_BACK]
    page = (
        await viewer.get(
            "/api/v1/events", params={"since": (now - timedelta(hours=6)).isoformat(), "until": old.isoformat()}
        )
    ).json()
    assert [e["subject"] for e in page] == [STARTED, DECIDED]
    assert problem(await viewer.get("/api/v1/events", params={"range": "9h"}), 422)["detail"].startswith(
        "unknown range"
    )
    backwards = {"since": now.isoformat(), "until": old.isoformat()}
    assert problem(await viewer.get("/api/v1/events", params=backwards), 422)["detail"] == "since is after until"
