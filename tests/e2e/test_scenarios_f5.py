"""The same scenarios with the F5 BIG-IP simulator as the load balancer, then the failures.

Failures: 50 copies of one alert → one activity; Prometheus stopped → no
scale-in, with a clear decision; the F5 answering 500 on add → rollback leaving nothing behind;
vcsim answering InsufficientResourcesFault on clone → failed with that reason, cooldown kept.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from lab.system import System, wait_until
from lab.vcsim import FaultHook
from tests.e2e import scenarios as sc

pytestmark = pytest.mark.timeout(900)


def newest_activity_after(system: System, t0: str) -> dict | None:
    acts = [a for a in sc.activities(system) if a["created_at"] >= t0]
    return acts[0] if acts else None


def ended(activity: dict | None) -> bool:
    return bool(activity) and activity["status"] not in ("pending", "running", "compensating")


def wait_activity_after(system: System, t0: str, timeout: float, what: str) -> dict:
    """The first activity created after ``t0``, once it has ended; on timeout, say what was decided."""
    try:
        return wait_until(
            lambda: ended(newest_activity_after(system, t0)) and newest_activity_after(system, t0), timeout, what
        )
    except TimeoutError as exc:
        recent = [(d["at"], d["reason"], d["trigger"], d["message"]) for d in sc.decisions(system)[:6]]
        raise AssertionError(f"{exc}; decisions: {recent}; activities: {sc.activities(system)[:2]}") from exc


def test_1_setting_up_a_service_with_f5(system_f5: System) -> None:
    sc.scenario_set_up(system_f5)


def test_2_load_scales_out_to_max_with_f5_members_up(system_f5: System) -> None:
    sc.scenario_scale_out(system_f5, through_frontend=False)


def test_3_dropping_the_load_scales_in_to_min_with_f5(system_f5: System) -> None:
    sc.scenario_scale_in(system_f5)


def test_4_fifty_copies_of_one_alert_are_decided_once_and_add_no_step(system_f5: System) -> None:
    system = system_f5
    sc.silence_alerts(system)  # the test is Alertmanager now
    sc.load(system, [ip for _, ip in sc.base_vms(system)], cpu=95)
    time.sleep(12)  # let Prometheus' rate window see the load the scaler reads
    size = sc.group_detail(system)["size"]  # in-flight scale-outs count: the loop may be at it already
    t0 = sc.now_iso()
    payload = sc.alert_payload("out", "firing", "e2e-fifty", sc.now_iso())
    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(lambda _: sc.post_alert(system, payload), range(50)))
    assert set(codes) <= {200, 202}, codes
    # The gateway takes the 50 copies as one episode: one decision carries the alert (allowed, or
    # blocked as in_progress or cooldown when the loop, reading the same load, acted first).
    name = f"alert:{sc.GROUP}_HighResourceUsage"

    def decided() -> list[dict]:
        return [d for d in sc.decisions(system) if d["at"] >= t0 and d["trigger"] == name]

    sc.wait_or_tell(system, decided, 120, "the copies decided")
    # the load calls for max and the copies add nothing to it: the group stops there
    sc.wait_or_tell(
        system, lambda: sc.group_detail(system)["size"] == sc.MAX and settled(system), 300, "the group at max"
    )
    assert sc.post_alert(
        system, sc.alert_payload("out", "resolved", "e2e-fifty", payload["alerts"][0]["startsAt"])
    ) in (200, 202)
    # between the thresholds from here on: the group holds its size for the tests that follow
    sc.load(system, [i["address"] for i in sc.instances(system)], cpu=50)
    assert len(decided()) == 1, decided()
    steps = [a for a in sc.activities(system) if a["created_at"] >= t0 and a["kind"] == "scale_out"]
    assert len(steps) <= sc.MAX - size and all(a["status"] == "succeeded" for a in steps), (size, steps)


def test_5_with_prometheus_stopped_nothing_scales_in_and_the_decision_says_why(system_f5: System) -> None:
    system = system_f5
    prometheus = sc.lab_part(system, "prometheus")
    system.lab.stop(prometheus)
    try:
        # every VM idle now, the alert says so too: only Prometheus could confirm it, and it is down
        sc.load(system, [i["address"] for i in sc.instances(system)], cpu=3, memory=10)
        t0 = sc.now_iso()
        assert sc.post_alert(system, sc.alert_payload("in", "firing", "e2e-blind", sc.now_iso())) in (200, 202)
        blocked = wait_until(
            lambda: [d for d in sc.decisions(system) if d["at"] >= t0 and d["reason"] == "metrics_unavailable"],
            60,
            "a metrics_unavailable decision",
        )
        assert "prometheus" in blocked[0]["message"].lower(), blocked[0]
        assert not [a for a in sc.activities(system) if a["created_at"] >= t0 and a["kind"] == "scale_in"]
    finally:
        system.lab.start(prometheus)
    sc.post_alert(system, sc.alert_payload("in", "resolved", "e2e-blind", t0))
    back_to_min(system)


def settled(system: System) -> bool:
    return not sc.group_detail(system)["active_activity"]


def back_to_min(system: System) -> None:
    """Ask for min (2) until the scaler takes it, then wait for the group to get there.

    The control loop, reading the idle load once Prometheus answers again, may start a scale-in
    of its own; a manual request beside it is refused as in_progress, so it is asked again once
    that activity has ended.
    """
    replies: list[dict] = []

    def asked() -> bool:
        if not settled(system):
            return False
        if sc.group_detail(system)["size"] == 2:
            return True
        reply = system.api.post(f"/api/v1/groups/{sc.GROUP}/scale", {"desired": 2})
        replies.append(reply["decision"])
        return bool(reply["decision"]) and reply["decision"]["reason"] != "in_progress"

    try:
        wait_until(asked, 180, "a manual scale to min taken")
        wait_until(lambda: sc.group_detail(system)["size"] == 2 and settled(system), 180, "back to min")
    except TimeoutError as exc:
        recent = [(d["at"], d["reason"], d["trigger"], d["message"]) for d in sc.decisions(system)[:8]]
        activities = [(a["created_at"], a["kind"], a["status"], a["cause"]) for a in sc.activities(system)[:4]]
        raise AssertionError(
            f"{exc}; group: {sc.group_detail(system)}; replies: {replies[-3:]}; "
            f"decisions: {recent}; activities: {activities}"
        ) from exc


def test_6_the_f5_answering_500_on_add_rolls_back_and_leaves_nothing(system_f5: System) -> None:
    system = system_f5
    f5 = f"http://{system.config.host}:{system.config.f5_port}"
    members = "/mgmt/tm/ltm/pool/~Common~web/members"
    httpx.post(f"{f5}/_sim/faults", json={"status": 500, "count": 10000, "path_prefix": members}, timeout=5)
    try:
        t0 = sc.now_iso()
        system.api.post(f"/api/v1/groups/{sc.GROUP}/scale", {"delta": 1})
        # the add fails for good (retries spent): the rollback starts; its own first step takes
        # the half-added member out again, which needs the F5 back — as it would come back
        wait_until(
            lambda: (a := newest_activity_after(system, t0)) and a["status"] == "compensating", 400, "the rollback"
        )
    finally:
        httpx.delete(f"{f5}/_sim/faults", timeout=5)
    activity = wait_activity_after(system, t0, 300, "rollback")
    assert activity["status"] == "rolled_back", activity
    assert activity["failed_step"] == "add_pool_member"
    (name,) = activity["vm_names"]
    assert sc.vm(system, name) is None, "the clone was destroyed"
    pools = system.api.get("/api/v1/ip-pools")
    held = [
        lease for pool in pools for lease in pool["leases"] if lease["vm_name"] == name and lease["state"] != "released"
    ]
    assert held == []
    targets = system.api.get("/api/v1/prometheus/targets", params={"job": sc.JOB})["targets"]
    assert name not in {t.get("vm_name") for t in targets}
    assert name not in {m["name"] for m in sc.pool_members(system)}


def test_7_insufficient_resources_on_clone_fails_with_that_reason_and_keeps_the_cooldown(system_f5: System) -> None:
    system = system_f5
    before = sc.group_detail(system)["last_scale_out_at"]
    hook = FaultHook(f"http://{system.config.host}:{system.config.vcsim_port}")
    hook.add("CloneVM_Task", fault="InsufficientResourcesFault", times=50, message="not enough memory in cluster1")
    sc.load(system, [ip for _, ip in sc.base_vms(system)], cpu=95)
    try:
        time.sleep(12)
        t0 = sc.now_iso()
        assert sc.post_alert(system, sc.alert_payload("out", "firing", "e2e-nores", sc.now_iso())) in (200, 202)
        activity = wait_activity_after(system, t0, 180, "the failure")
    finally:
        hook.clear()
        sc.load(system, [ip for _, ip in sc.base_vms(system)], cpu=3, memory=10)
    assert activity["status"] in ("rolled_back", "failed"), activity
    assert activity["failed_step"] == "clone"
    assert "insufficient" in (activity["reason"] or "").lower(), activity
    assert sc.group_detail(system)["last_scale_out_at"] == before, "a failed clone does not consume the cooldown"
