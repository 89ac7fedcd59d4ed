"""The original's three scenarios, for real, with HAProxy as the load balancer.

1. set up a new service through the API; 2. scale out under load to max; 3. scale in to min.
The tests run in order on one lab (module scope): each scenario starts where the last ended.
"""

from __future__ import annotations

import httpx
import pytest

from lab.system import System, wait_until
from tests.e2e import scenarios as sc

pytestmark = pytest.mark.e2e


def test_1_setting_up_a_service_writes_rules_to_prometheus_and_routes_to_alertmanager(system: System) -> None:
    sc.setup_service(system)
    assert sc.prometheus_rules(system)[f"{sc.GROUP}-autoscale"] == [
        f"{sc.GROUP}_HighResourceUsage",
        f"{sc.GROUP}_LowResourceUsage",
    ]
    config = sc.alertmanager_config(system)
    assert f"jenkins-webhook-{sc.GROUP}-out" in config and f"jenkins-webhook-{sc.GROUP}-in" in config
    assert f"{system.url}/api/webhook/autoscale/{sc.GROUP}" in config
    assert "credentials_file" in config
    base = {i["vm_name"]: i for i in sc.instances(system)}
    assert set(base) == {"web-1", "web-2"}
    assert all(i["base"] and i["protected"] for i in base.values())


def test_2_load_scales_out_to_max_with_serving_vms_then_blocks_at_max(system: System) -> None:
    sc.load(system, [ip for _, ip in sc.base_vms(system)], cpu=95)
    wait_until(
        lambda: (
            len([a for a in sc.activities(system) if a["kind"] == "scale_out" and a["status"] == "succeeded"])
            == sc.MAX - 2
        ),
        240,
        "two scale-outs",
    )
    wait_until(lambda: [d for d in sc.decisions(system) if d["reason"] == "at_max"], 60, "a decision blocked at max")
    assert all(a["status"] == "succeeded" for a in sc.activities(system)), sc.activities(system)

    grown = [i for i in sc.instances(system) if not i["base"]]
    assert len(grown) == sc.MAX - 2
    for instance in grown:
        vm = sc.vm(system, instance["vm_name"])
        assert vm is not None and vm["ip"] == instance["address"], vm
        assert (
            httpx.get(f"http://{instance['address']}:{system.config.agent_port}/metrics", timeout=5).status_code == 200
        )
    wait_until(lambda: {i["address"] for i in grown} <= set(sc.up_targets(system)), 60, "the new VMs scraped")
    members = {m["address"]: m for m in sc.pool_members(system)}
    assert all(members[i["address"]]["state"] == "up" for i in grown), members
    served = {
        httpx.get(f"http://{system.config.host}:{system.config.haproxy_frontend_port}/who", timeout=5).text.strip()
        for _ in range(12)
    }
    assert {f"app on {i['vm_name']}" for i in grown} <= served, served
    assert sc.group_detail(system)["size"] == sc.MAX


def test_3_dropping_the_load_scales_in_newest_first_down_to_min_and_silences(system: System) -> None:
    grown = sorted((i for i in sc.instances(system) if not i["base"]), key=lambda i: i["created_at"])
    everyone = [ip for _, ip in sc.base_vms(system)] + [i["address"] for i in grown]
    sc.load(system, everyone, cpu=3, memory=10)
    wait_until(
        lambda: (
            len([a for a in sc.activities(system) if a["kind"] == "scale_in" and a["status"] == "succeeded"])
            == len(grown)
        ),
        240,
        "scale-in down to min",
    )
    removed = [
        a["vm_names"][0]
        for a in sorted(sc.activities(system), key=lambda a: a["created_at"])
        if a["kind"] == "scale_in"
    ]
    assert removed == [i["vm_name"] for i in reversed(grown)], "newest first"
    left = sc.instances(system)
    assert {i["vm_name"] for i in left} == {"web-1", "web-2"}, "no base VM is ever removed"
    for instance in grown:
        assert sc.vm(system, instance["vm_name"]) is None
        assert instance["address"] not in {m["address"] for m in sc.pool_members(system)}
    wait_until(lambda: not {i["address"] for i in grown} & set(sc.up_targets(system)), 30, "targets removed")
    silences = system.api.get("/api/v1/alertmanager/silences")["silences"]
    active = [s for s in silences if s["status"]["state"] == "active"]
    assert len(active) == 1 and any(m["value"] == f"{sc.GROUP}_LowResourceUsage" for m in active[0]["matchers"])
    assert sc.group_detail(system)["scale_in_silenced"] is True
