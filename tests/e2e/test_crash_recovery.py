"""Crash recovery: 20 activities while each service in turn is killed (SIGKILL, by PID) at a
random moment and restarted by the supervisor; afterwards everything adds up.

Invariants checked at the end, against the real parts:
* every activity ended succeeded or rolled back;
* no VM carrying our tag in vcsim lacks a live instance record; no IP lease is leaked;
* the load balancer pool's members and Prometheus' targets equal the in-service instances;
* the orphan sweeper reports a VM planted with our tag but no record.
"""

from __future__ import annotations

import os
import random
import signal
import time
from typing import Any

import httpx
import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim

from lab.system import System, wait_until
from shared import subjects
from tests.e2e import scenarios as sc

pytestmark = pytest.mark.timeout(1800)

VICTIMS = ("scaler", "inventory", "monitoring", "loadbalancer", "gateway")
ROUNDS = 20
TAG = f"vmscale:group={sc.GROUP};activity=act-planted"


def call(system: System, method: str, path: str, **kwargs: Any) -> Any:
    """An API call that rides out the gateway being killed (retries connection errors and 5xx)."""

    def attempt() -> Any:
        response = system.api.http.request(method, path, **kwargs)
        if response.status_code >= 500:
            return None
        response.raise_for_status()
        return response.json()

    return wait_until(attempt, 120, f"{method} {path}", interval=0.5)


def set_up(system: System) -> None:
    api, cfg = system.api, system.config
    targets = [{"vm_name": name, "address": ip, "port": cfg.agent_port} for name, ip in sc.base_vms(system)]
    api.post(f"/api/v1/prometheus/jobs/{sc.JOB}/targets", targets, expect=202)
    wait_until(lambda: len(sc.up_targets(system)) == 2, 60, "base VMs scraped")
    # the activities under test are the ones asked for: busy enough that no scale-in rule holds
    # (the rule reads the busiest VM), idle enough that no scale-out rule does
    sc.load(system, [ip for _, ip in sc.base_vms(system)], cpu=50)
    api.put(
        "/api/v1/ip-pools/web",
        {
            "name": "web",
            "network": "127.0.20.0/24",
            "gateway": "127.0.20.1",
            "ranges": [{"start": sc.POOL_START, "end": sc.POOL_END}],
        },
    )
    api.post("/api/v1/groups", sc.group_spec(system, template="tpl-web", max_size=6), expect=201)
    api.post(f"/api/v1/groups/{sc.GROUP}/enable")


def request_scale(system: System, delta: int) -> str:
    """Ask for a change until it is allowed (another activity, a back-off may still hold it)."""
    seen: list[str] = []
    wanted = [delta]

    def allowed() -> str | None:
        body = {"delta": wanted[0]}
        decision = call(system, "POST", f"/api/v1/groups/{sc.GROUP}/scale", json=body)["decision"]
        seen.append(f"{decision['reason']}: {decision['message']}")
        if decision["reason"] in ("at_min", "at_max"):  # a rolled-back activity left another size
            wanted[0] = 1 if decision["reason"] == "at_min" else -1
            return None
        assert decision["reason"] in ("allowed", "in_progress", "failure_backoff", "cooldown"), seen[-1]
        return decision["activity_id"] if decision["allowed"] else None

    return str(wait_until(allowed, 180, f"a scale of {delta:+d} allowed ({seen[-3:]})", interval=1.0))


def activity_ended(system: System, activity_id: str) -> dict[str, Any] | None:
    activity = call(system, "GET", f"/api/v1/activities/{activity_id}")
    return activity if activity["status"] in ("succeeded", "rolled_back", "failed", "cancelled") else None


def kill(system: System, service: str) -> None:
    pid = system.pids().get(service)
    if pid:
        os.kill(pid, signal.SIGKILL)


def plant_orphan(system: System) -> str:
    """Clone a VM in vcsim behind vmscale's back, carrying our tag (powered off)."""
    with sc.vcenter(system) as content:
        template = content.searchIndex.FindByInventoryPath("DC1/vm/templates/linux/tpl-web")
        folder = content.searchIndex.FindByInventoryPath("DC1/vm/vmscale/web")
        pool = content.searchIndex.FindByInventoryPath("DC1/host/cluster1/Resources")
        spec = vim.vm.CloneSpec(
            location=vim.vm.RelocateSpec(pool=pool),
            powerOn=False,
            template=False,
            # our tag, as vmscale writes it: ExtraConfig (copied with the clone) and annotation
            config=vim.vm.ConfigSpec(
                annotation=TAG,
                extraConfig=[vim.option.OptionValue(key="vmscale.tag", value=TAG)],
            ),
        )
        WaitForTask(template.CloneVM_Task(folder=folder, name="web-planted", spec=spec))
        planted = content.searchIndex.FindByInventoryPath("DC1/vm/vmscale/web/web-planted")
        WaitForTask(planted.ReconfigVM_Task(spec=vim.vm.ConfigSpec(annotation=TAG)))
    return "web-planted"


def test_twenty_activities_with_services_killed_end_consistent(system: System) -> None:
    set_up(system)
    rng = random.Random(20261126)
    ids = []
    for index in range(ROUNDS):
        size = call(system, "GET", f"/api/v1/groups/{sc.GROUP}")["group"]["size"]
        delta = 1 if (index // 4) % 2 == 0 and size < 6 else -1 if size > 2 else 1
        activity_id = request_scale(system, delta)
        ids.append(activity_id)
        time.sleep(rng.uniform(0.3, 5.0))
        kill(system, VICTIMS[index % len(VICTIMS)])
        wait_until(lambda a=activity_id: activity_ended(system, a), 300, f"activity {index + 1}")
    statuses = {a: activity_ended(system, a)["status"] for a in ids}
    assert set(statuses.values()) <= {"succeeded", "rolled_back"}, statuses

    wait_until(lambda: system.ready(), 120, "every service back")
    live = {i["vm_name"]: i for i in sc.instances(system)}
    in_service = {i["address"] for i in live.values() if i["state"] == "in_service"}
    tagged = [v["name"] for v in call(system, "GET", "/api/v1/vms", params={"group": sc.GROUP})["vms"]]
    assert [name for name in tagged if name not in live] == []
    pools = call(system, "GET", "/api/v1/ip-pools")
    leaked = [x for p in pools for x in p["leases"] if x["state"] != "released" and x["vm_name"] not in live]
    assert leaked == []
    wait_until(lambda: {m["address"] for m in sc.pool_members(system)} == in_service, 60, "pool == in service")
    wait_until(lambda: set(sc.up_targets(system)) == in_service, 60, "targets == in service")


def test_the_orphan_sweeper_reports_a_vm_planted_with_our_tag_but_no_record(system: System) -> None:
    if system.api.call("GET", f"/api/v1/groups/{sc.GROUP}", expect=(200, 404)).get("group") is None:
        set_up(system)
    planted = plant_orphan(system)
    reports = wait_until(
        lambda: [
            e
            for e in sc.events(system)
            if e["subject"] == subjects.ORPHAN_VMS_DETECTED.name and planted in e["data"].get("vm_names", [])
        ],
        120,
        "the orphan reported",
    )
    assert reports[0]["group"] == sc.GROUP
    assert httpx.get(f"{system.url}/healthz", timeout=5).status_code == 200
