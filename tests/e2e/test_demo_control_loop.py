"""The control loop in the demo itself (``make run``: the lab, embedded NATS and Redis, SQLite).

In order, on one demo: the group at min from the start with both base VMs adopted; sustained load
scaling out to max with every alert silenced (the loop alone keeps it going); Ctrl-C and a second
``make run`` (the lab restarts too: vcsim forgets every clone) that still scales in and out; the
demo's Redis flushed during an activity; a VM deleted in vcsim behind vmscale's back, replaced.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis

from lab.system import Demo
from tests.e2e import scenarios as sc

pytestmark = pytest.mark.timeout(2400)

MAX = 6
IDLE, BUSY, STEADY = 3.0, 95.0, 50.0
"""CPU percent: under the scale-in threshold (20), over the scale-out one (70), between them."""


def hold_load(demo: Demo, cpu: float) -> None:
    """Every VM of the group at ``cpu`` (new ones too, as soon as their agent answers)."""
    addresses = {ip for _, ip in sc.base_vms(demo)} | {i["address"] for i in sc.instances(demo) if i["address"]}
    for address in addresses:
        with contextlib.suppress(httpx.HTTPError, OSError):
            sc.load(demo, [address], cpu=cpu, memory=10 if cpu == IDLE else 20)


def settled_at(demo: Demo, size: int, cpu: float) -> bool:
    """Hold the load; True once the group has ``size`` VMs, all in service, nothing running."""
    hold_load(demo, cpu)
    group = sc.group_detail(demo)
    serving = [i for i in sc.instances(demo) if i["state"] == "in_service"]
    return group["size"] == size and len(serving) == size and not group["active_activity"]


def scale_outs_since(demo: Demo, t0: str) -> list[dict[str, Any]]:
    """Scale-outs that succeeded, started after ``t0``."""
    return [
        a
        for a in sc.activities(demo)
        if a["created_at"] >= t0 and a["kind"] == "scale_out" and a["status"] == "succeeded"
    ]


def steady_at(demo: Demo, size: int, cpu: float, hold_s: float = 15.0) -> Callable[[], bool]:
    """A predicate: ``settled_at`` true at every look for ``hold_s`` (longer than a cooldown plus
    an evaluation and the lost grace) — not a moment between removing lost VMs and replacing them."""
    since: list[float] = []

    def check() -> bool:
        if not settled_at(demo, size, cpu):
            since.clear()
            return False
        since[:] = since or [time.monotonic()]
        return time.monotonic() - since[0] >= hold_s

    return check


def in_to_min_then_out(demo: Demo, what: str, before: frozenset[str] = frozenset()) -> None:
    """Drop the load: back to the two base VMs, nothing else left but the names in ``before``
    (what an earlier test left behind and reported); raise it: a scale-out."""
    sc.wait_or_tell(demo, steady_at(demo, 2, IDLE), 600, f"{what}: scale-in to min")
    left = [(i["vm_name"], i["state"]) for i in sc.instances(demo) if i["vm_name"] not in before]
    assert sorted(name for name, _ in left) == ["web-1", "web-2"], f"{what}: nothing else is left: {left}"
    t1 = sc.now_iso()

    def for_the_load() -> list[dict[str, Any]]:  # not a replacement ("converge"): the load asked
        hold_load(demo, BUSY)
        return [a for a in scale_outs_since(demo, t1) if not a["cause"].startswith("converge")]

    sc.wait_or_tell(demo, for_the_load, 240, f"{what}: a scale-out under load")


def test_1_the_demo_group_is_at_min_with_both_base_vms_adopted(demo: Demo) -> None:
    # the demo creates its group once every service is ready (the lab's own start-up, which
    # depends on the machine, is over by then): it is at min within a minute of that
    def at_min() -> bool:
        found = demo.api.call("GET", f"/api/v1/groups/{sc.GROUP}", expect=(200, 404))
        if not found or not found.get("group"):
            return False
        adopted = {i["vm_name"]: i for i in sc.instances(demo)}
        return found["group"]["size"] == 2 and set(adopted) == {"web-1", "web-2"}

    sc.wait_or_tell(demo, at_min, 60, "the demo group at min")
    adopted = sc.instances(demo)
    assert all(i["base"] and i["protected"] and i["state"] == "in_service" for i in adopted), adopted
    assert {i["address"] for i in adopted} == {ip for _, ip in sc.base_vms(demo)}


def test_2_sustained_load_scales_out_to_max_with_every_alert_silenced(demo: Demo) -> None:
    # the old scaler re-checked a firing alert for ALERT_EXPIRY_S only and then stopped growing;
    # here Alertmanager notifies nothing at all, and the loop alone must take every step
    demo.api.put(f"/api/v1/groups/{sc.GROUP}", sc.group_detail(demo)["spec"] | {"max_size": MAX})
    assert sc.group_detail(demo)["enabled"], "a new max, still enabled"
    silence = sc.silence_alerts(demo, minutes=60)
    try:
        t0 = sc.now_iso()
        sc.wait_or_tell(demo, lambda: settled_at(demo, MAX, BUSY), 600, "scale-outs up to max under sustained load")
    finally:
        url = f"http://{demo.config.host}:{demo.config.alertmanager_port}/api/v2/silence/{silence}"
        httpx.delete(url, timeout=5)
    steps = scale_outs_since(demo, t0)
    assert len(steps) == MAX - 2, steps
    causes = [a["cause"] for a in steps]
    assert not [c for c in causes if c.startswith("alert:")], causes


def test_3_after_ctrl_c_and_a_second_make_run_it_scales_in_to_min_and_out_again(demo: Demo) -> None:
    demo.stop_services()
    assert demo.process is not None and demo.process.returncode == 0, "Ctrl-C stops the demo cleanly"
    demo.start_services()  # the lab starts afresh: vcsim has only the base VMs again
    in_to_min_then_out(demo, "after the restart")
    assert not stale_lease_letters(demo)


def test_4_with_the_demos_redis_flushed_during_an_activity_it_scales_in_and_out_again(demo: Demo) -> None:
    live = ("in_service", "provisioning", "pending")
    before = frozenset(i["vm_name"] for i in sc.instances(demo) if i["state"] not in live)

    def an_activity() -> str | None:
        hold_load(demo, BUSY)
        group = sc.group_detail(demo)
        if not group["active_activity"] and group["size"] >= MAX:  # no step left for the load: ask one
            demo.api.post(f"/api/v1/groups/{sc.GROUP}/scale", {"delta": -1})  # (refused in a cooldown)
        return group["active_activity"] or None

    busy = sc.wait_or_tell(demo, an_activity, 240, "an activity")
    urls = json.loads((demo.state_dir / "run.json").read_text())["urls"]
    with redis.Redis.from_url(urls["REDIS_URL"]) as client:  # the demo's own embedded Redis
        client.flushall()
    sc.wait_or_tell(demo, lambda: ended(demo, busy), 240, "the activity under way at the flush ended")
    in_to_min_then_out(demo, "after the flush", before)
    assert not stale_lease_letters(demo)


def test_5_a_vm_deleted_in_vcsim_behind_our_back_is_marked_lost_and_replaced(demo: Demo) -> None:
    def steady() -> int | None:
        time.sleep(1)  # one more round of the loop between looks: a size that holds
        size = int(sc.group_detail(demo)["size"])
        return size if size > 2 and settled_at(demo, size, STEADY) else None

    size = sc.wait_or_tell(demo, steady, 240, "the group steady above min")
    victim = next(i for i in sc.instances(demo) if not i["base"] and i["state"] == "in_service")
    t0 = sc.now_iso()
    sc.delete_vm_behind_our_back(demo, victim["vm_name"])

    def lost() -> list[dict[str, Any]]:
        return [
            d
            for d in sc.decisions(demo)
            if d["at"] >= t0 and d["trigger"] == "converge" and victim["vm_name"] in d["message"]
        ]

    decision = sc.wait_or_tell(demo, lost, 120, f"{victim['vm_name']} recorded as lost")[0]
    assert decision["allowed"] and "lost" in decision["reason"] + decision["message"], decision
    # found through vCenter (the inventory's change feed), not later through Prometheus' failing scrapes
    assert "in vCenter" in decision["message"] or "from vCenter" in decision["message"], decision
    sc.wait_or_tell(demo, lambda: settled_at(demo, size, STEADY), 240, "the group back to its size")
    serving = sc.instances(demo)
    assert victim["vm_name"] not in {i["vm_name"] for i in serving}
    assert all(sc.vm(demo, i["vm_name"]) is not None for i in serving), serving
    addresses = {i["address"] for i in serving}
    sc.wait_or_tell(demo, lambda: {m["address"] for m in sc.pool_members(demo)} == addresses, 60, "pool == group")
    sc.wait_or_tell(demo, lambda: set(sc.up_targets(demo)) == addresses, 60, "targets == group")


def ended(demo: Demo, activity_id: str) -> bool:
    activity = demo.api.get(f"/api/v1/activities/{activity_id}")
    return activity["status"] in ("succeeded", "rolled_back", "failed", "cancelled")


def stale_lease_letters(demo: Demo) -> list[dict[str, Any]]:
    """Dead letters a scaler refused for a lease it thought newer (the restart bug)."""
    letters = demo.api.get("/api/v1/dead-letters", params={"limit": 500})["letters"]
    return [letter for letter in letters if "stale" in (letter["reason"] + letter["error_kind"]).lower()]
