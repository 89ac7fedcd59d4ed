"""The stand-in backends answer every route the gateway serves from them, as the real services do.

Each route once with an answer and once with the real service's not-found (or error) reply,
through the gateway's HTTP API, so the UI tests never meet a 504 from a subject nobody answers.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.gateway.gateway_support import SPEC, Gateway

PROBLEM = "application/problem+json"
POOL = {
    "network": "127.0.50.0/24",
    "gateway": "127.0.50.1",
    "dns": ["127.0.0.53"],
    "ranges": [{"start": "127.0.50.10", "end": "127.0.50.19"}],
    "exclusions": ["127.0.50.12"],
}


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem document of a failed response, checked for its status and shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


async def started_activity(client: httpx.AsyncClient, group: str = "web") -> str:
    """Scale ``group`` out by one; the id of the activity the stand-in scaler started."""
    scaled = await client.post(f"/api/v1/groups/{group}/scale", json={"delta": 1})
    assert scaled.status_code == 200, scaled.text
    activity_id: str = scaled.json()["decision"]["activity_id"]
    return activity_id


# -- inventory --------------------------------------------------------------------------------


async def test_one_vm_is_found_by_name_and_an_unknown_one_is_a_404(gateway: Gateway) -> None:
    viewer = await gateway.login()
    found = await viewer.get("/api/v1/vms/web-01")
    assert found.status_code == 200, found.text
    assert (found.json()["name"], found.json()["moref"], found.json()["ip"]) == ("web-01", "vm-1", "127.0.10.11")
    assert problem(await viewer.get("/api/v1/vms/web-99"), 404)["detail"] == "no such VM"


async def test_datastores_compute_and_folders_come_from_the_inventory_cache(gateway: Gateway) -> None:
    viewer = await gateway.login()
    datastores = (await viewer.get("/api/v1/datastores")).json()
    assert [d["name"] for d in datastores["datastores"]] == ["ds-01", "ds-02"]
    assert all(d["capacity"] >= d["free_space"] > 0 for d in datastores["datastores"])
    assert datastores["age_s"] is not None and datastores["synced_at"]
    compute = (await viewer.get("/api/v1/compute")).json()
    assert [c["name"] for c in compute["clusters"]] == ["cluster-01"]
    assert {h["parent"] for h in compute["hosts"]} == {"cluster-01"} and len(compute["hosts"]) == 2
    assert [p["name"] for p in compute["resource_pools"]] == ["Resources", "web"]
    folders = (await viewer.get("/api/v1/folders")).json()
    assert [f["path"] for f in folders["folders"]] == ["vmscale", "vmscale/web"]


@pytest.mark.backends(vcenter_synced=False, prometheus_up=False)
async def test_before_the_first_sync_the_inventory_lists_are_empty_and_unstamped(gateway: Gateway) -> None:
    viewer = await gateway.login()
    for path, keys in (
        ("/api/v1/datastores", ("datastores",)),
        ("/api/v1/compute", ("clusters", "hosts", "resource_pools")),
        ("/api/v1/folders", ("folders",)),
    ):
        response = await viewer.get(path)
        assert response.status_code == 200, (path, response.text)
        body = response.json()
        assert all(body[key] == [] for key in keys), path
        assert body["age_s"] is None and body["synced_at"] is None, path
    assert problem(await viewer.get("/api/v1/vms/web-01"), 404)["detail"] == "no such VM"


async def test_system_status_shows_the_vcenter_connection(gateway: Gateway) -> None:
    viewer = await gateway.login()
    response = await viewer.get("/api/v1/system/status")
    assert response.status_code == 200, response.text
    vcenter = response.json()["vcenter"]
    assert vcenter["connected"] is True and vcenter["consecutive_failures"] == 0
    assert vcenter["vcenter_version"] == "8.0.2" and vcenter["last_success"]


async def test_system_status_shows_every_external_system_as_its_owner_sees_it(gateway: Gateway) -> None:
    viewer = await gateway.login()
    systems = {s["name"]: s for s in (await viewer.get("/api/v1/system/status")).json()["systems"]}
    owners = {name: s["owner"] for name, s in systems.items()}
    assert owners == {
        "vcenter": "inventory",
        "f5": "loadbalancer",
        "prometheus": "monitoring",
        "alertmanager": "monitoring",
        "grafana": "monitoring",
        "config_files": "monitoring",
        "jenkins": "scaler",
    }
    assert all(s["state"] == "ok" and s["latency_ms"] is not None for n, s in systems.items() if n != "jenkins")
    assert systems["jenkins"]["state"] == "not configured"


@pytest.mark.backends(vcenter_synced=False, prometheus_up=False)
async def test_system_status_says_when_vcenter_is_unreachable(gateway: Gateway) -> None:
    viewer = await gateway.login()
    response = await viewer.get("/api/v1/system/status")
    assert response.status_code == 200, response.text
    vcenter = response.json()["vcenter"]
    assert vcenter["connected"] is False and vcenter["consecutive_failures"] == 3
    assert vcenter["vcenter"] is None and vcenter["last_success"] is None
    systems = {s["name"]: s for s in response.json()["systems"]}
    assert systems["vcenter"]["state"] == "failing" and "unreachable" in systems["vcenter"]["detail"]
    assert systems["prometheus"]["state"] == "failing" and systems["alertmanager"]["state"] == "ok"


# -- monitoring and load balancer -------------------------------------------------------------


async def test_jobs_link_their_grafana_dashboards(gateway: Gateway) -> None:
    body = (await (await gateway.login()).get("/api/v1/prometheus/jobs")).json()
    assert body["jobs"] == {"web": 2} and body["dashboards_error"] is None
    assert [(d["kind"], d["title"]) for d in body["dashboards"]["web"]] == [("infrastructure", "web monitoring")]


@pytest.mark.backends(grafana_up=False)
async def test_with_grafana_down_the_jobs_are_listed_and_the_missing_links_explained(gateway: Gateway) -> None:
    body = (await (await gateway.login()).get("/api/v1/prometheus/jobs")).json()
    assert body["jobs"] == {"web": 2} and body["dashboards"] == {}
    assert body["dashboards_error"] == "Grafana: grafana is unreachable"


async def test_the_alert_rules_are_listed(gateway: Gateway) -> None:
    viewer = await gateway.login()
    response = await viewer.get("/api/v1/prometheus/rules")
    assert response.status_code == 200, response.text
    (group,) = response.json()["groups"]
    assert group["name"] == "web-autoscale"
    assert [r["name"] for r in group["rules"]] == ["web_HighResourceUsage", "web_LowResourceUsage"]


@pytest.mark.backends(vcenter_synced=False, prometheus_up=False)
async def test_the_alert_rules_are_a_503_while_prometheus_is_down(gateway: Gateway) -> None:
    viewer = await gateway.login()
    body = problem(await viewer.get("/api/v1/prometheus/rules"), 503)
    assert "prometheus is unreachable" in body["detail"]


async def test_pool_members_are_listed_and_a_missing_pool_is_a_configuration_error(gateway: Gateway) -> None:
    viewer = await gateway.login()
    response = await viewer.get("/api/v1/lb/pools/web-pool/members")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pool"] == "web-pool"
    assert [(m["name"], m["address"], m["state"]) for m in body["members"]] == [
        ("web-01", "127.0.10.11", "up"),
        ("web-02", "127.0.10.12", "up"),
    ]
    counted = (await viewer.get("/api/v1/lb/pools")).json()["pools"]
    assert counted == [{"name": "web-pool", "partition": None, "monitor": None, "member_count": 2}]
    missing = problem(await viewer.get("/api/v1/lb/pools/nosuch/members"), 404)
    assert missing["detail"] == "pool nosuch does not exist"


# -- activities -------------------------------------------------------------------------------


async def test_an_activity_is_fetched_by_id_and_an_unknown_one_is_a_404(gateway: Gateway) -> None:
    operator = await gateway.login()
    activity_id = await started_activity(operator)
    response = await operator.get(f"/api/v1/activities/{activity_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["group"], body["kind"], body["status"]) == (activity_id, "web", "scale_out", "running")
    assert [(s["step"], s["status"]) for s in body["steps"]] == [
        ("reserve_ip", "done"),
        ("clone", "running"),
        ("power_on", "pending"),
        ("wait_healthy", "pending"),
        ("register_monitoring", "pending"),
        ("post_provision_hook", "skipped"),
        ("add_pool_member", "pending"),
        ("in_service", "pending"),
    ]
    assert problem(await operator.get("/api/v1/activities/act-nosuch"), 404)["detail"] == "no activity act-nosuch"


async def test_cancelling_compensates_a_running_activity_and_an_unknown_one_is_a_404(gateway: Gateway) -> None:
    operator = await gateway.login()
    activity_id = await started_activity(operator)
    response = await operator.post(f"/api/v1/activities/{activity_id}/cancel")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["failed_step"], body["reason"]) == ("cancelled", "cancel", "cancelled by admin")
    assert body["finished_at"]
    assert [(s["step"], s["phase"]) for s in body["steps"] if s["status"] == "done"] == [
        ("reserve_ip", "forward"),
        ("release_ip", "compensate"),
    ]
    assert (await operator.get(f"/api/v1/activities/{activity_id}")).json()["status"] == "cancelled"
    again = await operator.post(f"/api/v1/activities/{activity_id}/cancel")
    assert again.status_code == 200 and again.json() == body  # an ended activity is returned unchanged
    assert problem(await operator.post("/api/v1/activities/act-nosuch/cancel"), 404)["detail"] == (
        "no activity act-nosuch"
    )
    assert "activity.cancel" in [e.action for e in gateway.state.audit_log.recent(10, actor="admin")]


# -- instances --------------------------------------------------------------------------------


async def test_a_group_lists_its_two_base_instances_and_an_unknown_group_is_a_404(gateway: Gateway) -> None:
    viewer = await gateway.login()
    response = await viewer.get("/api/v1/groups/web/instances")
    assert response.status_code == 200, response.text
    instances = response.json()["instances"]
    assert [(i["vm_name"], i["address"], i["state"]) for i in instances] == [
        ("web-01", "127.0.10.11", "in_service"),
        ("web-02", "127.0.10.12", "in_service"),
    ]
    assert all(i["base"] and i["protected"] and i["group"] == "web" for i in instances)
    assert (await viewer.get("/api/v1/groups/nosuch/instances")).status_code == 404


async def test_protect_and_unprotect_change_the_instance_and_an_unknown_one_is_a_404(gateway: Gateway) -> None:
    operator = await gateway.login()
    lifted = await operator.post("/api/v1/groups/web/instances/web-01/unprotect")
    assert lifted.status_code == 200, lifted.text
    assert (lifted.json()["instance"]["vm_name"], lifted.json()["instance"]["protected"]) == ("web-01", False)
    listed = (await operator.get("/api/v1/groups/web/instances")).json()["instances"]
    assert {i["vm_name"]: i["protected"] for i in listed} == {"web-01": False, "web-02": True}
    assert (await operator.get("/api/v1/groups/web")).json()["instances"][0]["protected"] is False
    again = await operator.post("/api/v1/groups/web/instances/web-01/protect")
    assert again.status_code == 200 and again.json()["instance"]["protected"] is True
    missing = problem(await operator.post("/api/v1/groups/web/instances/web-99/protect"), 404)
    assert missing["detail"] == "no instance web-99 in web"
    assert problem(await operator.post("/api/v1/groups/nosuch/instances/web-01/unprotect"), 404)


async def test_detach_removes_the_instance_and_refuses_unknown_names_and_running_activities(
    gateway: Gateway,
) -> None:
    admin = await gateway.login()
    detached = await admin.post("/api/v1/groups/web/instances/web-02/detach")
    assert detached.status_code == 200, detached.text
    assert (detached.json()["instance"]["vm_name"], detached.json()["instance"]["address"]) == (
        "web-02",
        "127.0.10.12",
    )
    listed = (await admin.get("/api/v1/groups/web/instances")).json()["instances"]
    assert [i["vm_name"] for i in listed] == ["web-01"]
    assert problem(await admin.post("/api/v1/groups/web/instances/web-02/detach"), 404)["detail"] == (
        "no instance web-02 in web"
    )
    assert problem(await admin.post("/api/v1/groups/nosuch/instances/web-01/detach"), 404)
    activity_id = await started_activity(admin)
    busy = problem(await admin.post("/api/v1/groups/web/instances/web-01/detach"), 409)
    assert activity_id in busy["detail"]
    assert (await admin.post(f"/api/v1/activities/{activity_id}/cancel")).status_code == 200
    assert (await admin.post("/api/v1/groups/web/instances/web-01/detach")).status_code == 200


# -- validation -------------------------------------------------------------------------------


async def test_validate_lists_no_problems_for_good_settings_and_the_reasons_for_bad_ones(gateway: Gateway) -> None:
    operator = await gateway.login()
    good = await operator.post("/api/v1/groups/validate", json=SPEC)
    assert good.status_code == 200, good.text
    assert good.json()["problems"] == []
    assert good.json()["warnings"] == ["the group is disabled: no alert reaches it until it is enabled"]
    bad = await operator.post("/api/v1/groups/validate", json={**SPEC, "vm_prefix": ""})
    assert bad.status_code == 200, bad.text  # problems are an answer, not an error
    assert [p.split(":")[0] for p in bad.json()["problems"]] == ["vm_prefix"]  # the scaler's own words
    flapping = {**SPEC, "min_size": 1, "max_size": 3, "thresholds": {"cpu_low": 50}}
    [lint] = (await operator.post("/api/v1/groups/validate", json=flapping)).json()["problems"]
    assert "settings would flap: CPU 50% on 2 VMs becomes 100% on 1" in lint
    crossed = await operator.post("/api/v1/groups/validate", json={**SPEC, "min_size": 5, "max_size": 2})
    assert any("min_size must not exceed max_size" in p for p in crossed.json()["problems"])
    assert "shop" not in gateway.scaler.groups


# -- IP pools ---------------------------------------------------------------------------------


async def test_an_ip_pool_is_saved_and_listed_and_bad_settings_are_a_422(gateway: Gateway) -> None:
    admin = await gateway.login()
    saved = await admin.put("/api/v1/ip-pools/lab", json=POOL)
    assert saved.status_code == 200, saved.text
    view = saved.json()
    assert (view["name"], view["network"], view["ranges"]) == ("lab", "127.0.50.0/24", ["127.0.50.10-127.0.50.19"])
    assert (view["capacity"], view["free"], view["leases"]) == (9, 9, [])
    assert [p["name"] for p in (await admin.get("/api/v1/ip-pools")).json()] == ["lab"]
    # the scaler's own validation (services.scaler.groups.parse_pool) and its messages
    backwards = {**POOL, "ranges": [{"start": "127.0.50.30", "end": "127.0.50.20"}]}
    body = problem(await admin.put("/api/v1/ip-pools/lab2", json=backwards), 422)
    assert "range start 127.0.50.30 is after its end 127.0.50.20" in body["detail"]
    outside = problem(await admin.put("/api/v1/ip-pools/lab2", json={**POOL, "gateway": "127.0.60.1"}), 422)
    assert "gateway 127.0.60.1 is outside 127.0.50.0/24" in outside["detail"]
    assert [p["name"] for p in (await admin.get("/api/v1/ip-pools")).json()] == ["lab"]


async def test_an_ip_pool_in_use_is_kept_an_unused_one_deleted_and_an_unknown_one_a_404(gateway: Gateway) -> None:
    admin = await gateway.login()
    assert problem(await admin.delete("/api/v1/ip-pools/nosuch"), 404)["detail"] == "no IP pool nosuch"
    assert (await admin.post("/api/v1/groups", json=SPEC)).status_code == 201
    held = [i["address"] for i in (await admin.get("/api/v1/groups/shop/instances")).json()["instances"]]
    subnet = held[0].rsplit(".", 1)[0]
    pool = {"network": f"{subnet}.0/24", "ranges": [{"start": f"{subnet}.10", "end": f"{subnet}.19"}]}
    saved = await admin.put("/api/v1/ip-pools/lab", json=pool)
    assert saved.status_code == 200, saved.text
    assert sorted(lease["address"] for lease in saved.json()["leases"]) == sorted(held)
    assert (saved.json()["capacity"], saved.json()["free"]) == (10, 8)
    shrunk = {**pool, "ranges": [{"start": f"{subnet}.15", "end": f"{subnet}.19"}]}
    assert "is held by shop-01" in problem(await admin.put("/api/v1/ip-pools/lab", json=shrunk), 409)["detail"]
    in_use = problem(await admin.delete("/api/v1/ip-pools/lab"), 409)
    assert in_use["detail"] == "IP pool lab is used by shop"
    assert (await admin.delete("/api/v1/groups/shop")).status_code == 200
    deleted = await admin.delete("/api/v1/ip-pools/lab")
    assert deleted.status_code == 200, deleted.text
    assert (deleted.json()["ok"], deleted.json()["message"]) == (True, "IP pool lab deleted")
    assert (await admin.get("/api/v1/ip-pools")).json() == []


async def test_the_stand_in_refuses_what_the_real_scaler_refuses_with_the_same_fields(gateway: Gateway) -> None:
    admin = await gateway.login()
    body = problem(await admin.post("/api/v1/groups", json={**SPEC, "min_size": 5, "max_size": 2}), 422)
    assert body["errors"] == [{"field": "min_size", "message": "min_size must not exceed max_size"}]
    unknown = await admin.post("/api/v1/groups/web/suspend", json={"processes": ["launch"]})
    assert problem(unknown, 422)["errors"][0]["field"] == "processes.0"
    known = (await admin.get("/api/v1/scaling-processes")).json()
    suspended = await admin.post("/api/v1/groups/web/suspend", json={"processes": known})
    assert suspended.status_code == 200, suspended.text
    assert sorted(suspended.json()["group"]["suspended"]) == sorted(known)
