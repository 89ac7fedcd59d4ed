"""The original's three scenarios as steps an operator takes through the API, against the lab.

Shared by the HAProxy and F5 test modules. Every assertion reads the real system: vcsim through
the inventory API, the real Prometheus and Alertmanager over their own HTTP APIs, the load
balancer through vmscale's API and, for HAProxy, real requests through the frontend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx
from pyVim.connect import Disconnect, SmartConnect
from pyVim.task import WaitForTask
from pyVmomi import vim

from lab.agent import set_load
from lab.sshd import base_vm_addresses
from lab.system import System, wait_until
from lab.vcsim import USERNAME, lab_password
from shared import subjects

T = TypeVar("T")

GROUP = "web"
JOB = "web"
TEMPLATE = "tpl-web-e2e"
MAX = 4
POOL_START, POOL_END = "127.0.20.100", "127.0.20.119"


def base_vms(system: System) -> list[tuple[str, str]]:
    """(name, address) of the lab's base VMs."""
    return [(f"web-{index}", address) for index, address in enumerate(base_vm_addresses(system.config), 1)]


def group_spec(system: System, **overrides: Any) -> dict[str, Any]:
    """The demo group's settings with compressed lab timings."""
    cfg = system.config
    spec = {
        "name": GROUP,
        "vm_prefix": GROUP,
        "template": TEMPLATE,
        "prometheus_job": JOB,
        "min_size": 2,
        "max_size": MAX,
        "pool": "web",
        "vip": cfg.host,
        "vip_port": cfg.haproxy_frontend_port,
        "member_port": cfg.app_port,
        "monitoring_port": cfg.agent_port,
        "ip_pool": "web",
        "thresholds": {
            "cpu_high": 70,
            "memory_high": 90,
            "out_for_s": 5,
            "cpu_low": 20,
            "memory_low": 40,
            "in_for_s": 10,
        },
        "scale_out_cooldown_s": 10,
        "scale_in_cooldown_s": 10,
        "drain_timeout_s": 5,
    }
    spec.update(overrides)
    return spec


def now_iso() -> str:
    """Now, as the API writes its timestamps (UTC, ISO 8601), for "created after" filters."""
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def events(system: System, **params: Any) -> list[dict[str, Any]]:
    """The gateway's events, newest first."""
    return list(system.api.get("/api/v1/events", params={"limit": 500, **params}))


def setup_service(system: System) -> None:
    """Scenario 1: a new service, set up as an operator would, through the API only."""
    api, cfg = system.api, system.config
    # a template from a VM
    api.post("/api/v1/templates", {"vm_name": "web-1", "template_name": TEMPLATE, "description": "e2e"}, expect=202)
    wait_until(
        lambda: TEMPLATE in {t["vm"]["name"] for t in api.get("/api/v1/templates") if t["vm"]["template"]},
        60,
        "the template",
    )
    # Node Exporter on the two base VMs over SSH
    hosts = [{"vm_name": name, "address": ip, "port": cfg.sshd_port} for name, ip in base_vms(system)]
    batch = api.post("/api/v1/agents", {"tool": "node_exporter", "action": "install", "hosts": hosts}, expect=202)
    done = wait_until(
        lambda: [
            e["data"]
            for e in events(system)
            if e["subject"] == subjects.MONITORING_AGENTS_INSTALLED.name
            and batch["batch_id"] in (e["data"].get("batch_id"), e["data"].get("correlation_id"))
        ],
        120,
        "the Node Exporter batch",
    )
    failures = [  # each failed host's own event carries its reason
        {k: e["data"].get(k) for k in ("vm_name", "error_kind", "reason")}
        for e in events(system)
        if e["subject"] == subjects.MONITORING_AGENT_PROGRESS.name
        and e["data"].get("batch_id") == batch["batch_id"]
        and not e["data"].get("ok")
    ]
    assert sorted(done[0]["succeeded"]) == ["web-1", "web-2"] and not done[0]["failed"], (done[0], failures)
    # register the job
    targets = [{"vm_name": name, "address": ip, "port": cfg.agent_port} for name, ip in base_vms(system)]
    api.post(f"/api/v1/prometheus/jobs/{JOB}/targets", targets, expect=202)
    wait_until(lambda: len(up_targets(system)) == 2, 60, "both base VMs scraped")
    # the IP pool, the group, enabled
    api.put(
        "/api/v1/ip-pools/web",
        {
            "name": "web",
            "network": "127.0.20.0/24",
            "gateway": "127.0.20.1",
            "ranges": [{"start": POOL_START, "end": POOL_END}],
        },
    )
    api.post("/api/v1/groups", group_spec(system), expect=201)
    api.post(f"/api/v1/groups/{GROUP}/enable")
    wait_until(
        lambda: api.get(f"/api/v1/groups/{GROUP}")["group"]["alerts_status"] == "provisioned", 60, "alerts provisioned"
    )


def up_targets(system: System) -> list[str]:
    """Addresses of the job's targets Prometheus reports up."""
    targets = system.api.get("/api/v1/prometheus/targets", params={"job": JOB})["targets"]
    return [t["instance"] for t in targets if t["health"] == "up"]


def prometheus_rules(system: System) -> dict[str, list[str]]:
    """Rule group name → alert names, from the real Prometheus."""
    body = httpx.get(f"http://{system.config.host}:{system.config.prometheus_port}/api/v1/rules", timeout=5).json()
    return {group["name"]: [rule["name"] for rule in group["rules"]] for group in body["data"]["groups"]}


def alertmanager_config(system: System) -> str:
    """The running configuration of the real Alertmanager."""
    body = httpx.get(f"http://{system.config.host}:{system.config.alertmanager_port}/api/v2/status", timeout=5).json()
    return str(body["config"]["original"])


def instances(system: System, include_terminated: bool = False) -> list[dict[str, Any]]:
    """The group's instances."""
    return list(system.api.get(f"/api/v1/groups/{GROUP}/instances")["instances"])


def activities(system: System) -> list[dict[str, Any]]:
    """The group's activities, newest first."""
    return list(system.api.get("/api/v1/activities", params={"group": GROUP, "limit": 200}))


def decisions(system: System) -> list[dict[str, Any]]:
    """The group's decisions, newest first."""
    return list(system.api.get("/api/v1/decisions", params={"group": GROUP, "limit": 500}))


def load(system: System, addresses: list[str], cpu: float, memory: float = 20.0) -> None:
    """Set the load of the lab agents at ``addresses``."""
    for address in addresses:
        set_load(address, cpu=cpu, memory=memory, port=system.config.agent_port)


def pool_members(system: System) -> list[dict[str, Any]]:
    """The load balancer pool's members as vmscale reports them."""
    return list(system.api.get("/api/v1/lb/pools/web/members")["members"])


def vm(system: System, name: str) -> dict[str, Any] | None:
    """One VM from the inventory (vcsim), or None."""
    response = system.api.http.get(f"/api/v1/vms/{name}")
    return response.json() if response.status_code == 200 else None


def group_detail(system: System) -> dict[str, Any]:
    """The group's view (size, silence, ...)."""
    return dict(system.api.get(f"/api/v1/groups/{GROUP}")["group"])


def scenario_set_up(system: System) -> None:
    """Scenario 1 and its checks against the real Prometheus and Alertmanager."""
    setup_service(system)
    assert prometheus_rules(system)[f"{GROUP}-autoscale"] == [
        f"{GROUP}_HighResourceUsage",
        f"{GROUP}_LowResourceUsage",
    ]
    config = alertmanager_config(system)
    assert f"jenkins-webhook-{GROUP}-out" in config and f"jenkins-webhook-{GROUP}-in" in config
    assert f"{system.url}/api/webhook/autoscale/{GROUP}" in config
    assert "credentials_file" in config
    base = {i["vm_name"]: i for i in instances(system)}
    assert set(base) == {"web-1", "web-2"}
    assert all(i["base"] and i["protected"] for i in base.values())
    # "why would it (not) scale now?" before anything happened, and settings checked unsaved
    dry = {o["trigger"]: o for o in system.api.post(f"/api/v1/groups/{GROUP}/dry-run")["outcomes"]}
    assert dry["converge"]["reason"] == "no_change" and dry["converge"]["observed"]["size"] == 2, dry
    assert "condition" in dry["evaluation"]["observed"], dry  # the rules as Prometheus reads them now
    bad = group_spec(system) | {"min_size": 5, "max_size": 2}
    assert system.api.post("/api/v1/groups/validate", bad)["problems"]
    assert system.api.post("/api/v1/groups/validate", group_spec(system))["problems"] == []


def scenario_scale_out(system: System, *, through_frontend: bool) -> None:
    """Scenario 2: load → real alert → webhook → decisions → serving VMs, up to max, then blocked."""
    load(system, [ip for _, ip in base_vms(system)], cpu=95)
    wait_until(
        lambda: (
            len([a for a in activities(system) if a["kind"] == "scale_out" and a["status"] == "succeeded"]) == MAX - 2
        ),
        240,
        "two scale-outs",
    )
    wait_until(lambda: [d for d in decisions(system) if d["reason"] == "at_max"], 60, "a decision blocked at max")
    assert all(a["status"] == "succeeded" for a in activities(system)), activities(system)

    grown = [i for i in instances(system) if not i["base"]]
    assert len(grown) == MAX - 2
    for instance in grown:
        found = vm(system, instance["vm_name"])
        assert found is not None and found["ip"] == instance["address"], found
        assert (
            httpx.get(f"http://{instance['address']}:{system.config.agent_port}/metrics", timeout=5).status_code == 200
        )
    wait_until(lambda: {i["address"] for i in grown} <= set(up_targets(system)), 60, "the new VMs scraped")
    members = {m["address"]: m for m in pool_members(system)}
    assert all(members[i["address"]]["state"] == "up" for i in grown), members
    assert group_detail(system)["size"] == MAX
    if not through_frontend:
        return
    served = {
        httpx.get(f"http://{system.config.host}:{system.config.haproxy_frontend_port}/who", timeout=5).text.strip()
        for _ in range(12)
    }
    assert {f"app on {i['vm_name']}" for i in grown} <= served, served


def scenario_scale_in(system: System) -> None:
    """Scenario 3: no load → newest first, drained and removed, down to min; silenced at min."""
    grown = sorted((i for i in instances(system) if not i["base"]), key=lambda i: i["created_at"])
    everyone = [ip for _, ip in base_vms(system)] + [i["address"] for i in grown]
    load(system, everyone, cpu=3, memory=10)
    wait_until(
        lambda: (
            len([a for a in activities(system) if a["kind"] == "scale_in" and a["status"] == "succeeded"]) == len(grown)
        ),
        240,
        "scale-in down to min",
    )
    since = min(i["created_at"] for i in grown)
    recent = [a for a in sorted(activities(system), key=lambda a: a["created_at"]) if a["created_at"] >= since]
    scale_ins = [a for a in recent if a["kind"] == "scale_in"]
    removed = [a["vm_names"][0] for a in scale_ins]
    why = {d["id"]: (d["trigger"], d["reason"], d["message"]) for d in decisions(system)}
    assert removed == [i["vm_name"] for i in reversed(grown)], (
        "newest first",
        [(i["vm_name"], i["created_at"]) for i in grown],
        # every activity since, with the decision that started it (a scale-out amid the scale-in shows why)
        [(a["created_at"], a["kind"], a["vm_names"], a["status"], why.get(a["decision_id"])) for a in recent],
    )
    left = instances(system)
    assert {i["vm_name"] for i in left} == {"web-1", "web-2"}, "no base VM is ever removed"
    for instance in grown:
        assert vm(system, instance["vm_name"]) is None
        assert instance["address"] not in {m["address"] for m in pool_members(system)}
    wait_until(lambda: not {i["address"] for i in grown} & set(up_targets(system)), 30, "targets removed")
    silences = system.api.get("/api/v1/alertmanager/silences")["silences"]
    active = [s for s in silences if s["status"]["state"] == "active"]
    assert len(active) == 1 and any(m["value"] == f"{GROUP}_LowResourceUsage" for m in active[0]["matchers"])
    assert group_detail(system)["scale_in_silenced"] is True


def webhook_token(system: System) -> str:
    """The bearer token Alertmanager presents (the lab's generated credentials file)."""
    from lab.monitoring import monitoring_paths

    return monitoring_paths(system.config).webhook_credentials_file.read_text().strip()


def alert_payload(direction: str, status: str, fingerprint: str, starts_at: str) -> dict[str, Any]:
    """An Alertmanager v4 notification for the group's scale-out ("out") or scale-in ("in") alert."""
    name = f"{GROUP}_HighResourceUsage" if direction == "out" else f"{GROUP}_LowResourceUsage"
    labels = {
        "alertname": name,
        "service": GROUP,
        "instance": "all",
        "autoscaleConfigId": GROUP,
        "severity": "warning" if direction == "out" else "info",
    }
    from datetime import UTC, datetime

    ends_at = "0001-01-01T00:00:00Z" if status == "firing" else datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": f"jenkins-webhook-{GROUP}-{direction}",
        "groupLabels": {"alertname": name},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": {},
                "startsAt": starts_at,
                "endsAt": ends_at,
                "generatorURL": "",
                "fingerprint": fingerprint,
            }
        ],
    }


def post_alert(system: System, payload: dict[str, Any]) -> int:
    """POST a notification to the webhook as Alertmanager does; the status code."""
    response = httpx.post(
        f"{system.url}/api/webhook/autoscale/{GROUP}",
        json=payload,
        headers={"Authorization": f"Bearer {webhook_token(system)}"},
        timeout=10,
    )
    return response.status_code


def silence_alerts(system: System, minutes: int = 30) -> str:
    """Silence the group's alerts in the real Alertmanager (an operator's maintenance window)."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    body = {
        "matchers": [{"name": "service", "value": GROUP, "isRegex": False, "isEqual": True}],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=minutes)).isoformat(),
        "createdBy": "e2e",
        "comment": "the test posts the notifications itself",
    }
    url = f"http://{system.config.host}:{system.config.alertmanager_port}/api/v2/silences"
    return str(httpx.post(url, json=body, timeout=5).json()["silenceID"])


def lab_part(system: System, name: str) -> Any:
    """One lab part by name."""
    return next(part for part in system.lab.parts if part.name == name)


@contextmanager
def vcenter(system: System) -> Iterator[vim.ServiceInstanceContent]:
    """The lab's vcsim directly (pyvmomi), behind vmscale's back."""
    cfg = system.config
    service = SmartConnect(
        host=cfg.host,
        port=cfg.vcsim_port,
        user=USERNAME,
        pwd=lab_password(cfg.lab_dir.resolve() / "vcsim"),
        protocol="http",
    )
    try:
        yield service.RetrieveContent()
    finally:
        Disconnect(service)


def delete_vm_behind_our_back(system: System, name: str) -> None:
    """Power a VM off and destroy it in vcsim, as someone in the vSphere client would."""
    with vcenter(system) as content:
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
        try:
            (found,) = [v for v in view.view if v.name == name]
        finally:
            view.Destroy()
        if found.runtime.powerState == vim.VirtualMachinePowerState.poweredOn:
            WaitForTask(found.PowerOffVM_Task())
        WaitForTask(found.Destroy_Task())


def story(system: System) -> str:
    """What the group did lately, for a failure message: its state, decisions and activities."""
    group = {k: v for k, v in group_detail(system).items() if k in ("size", "min_size", "max_size", "active_activity")}
    why = [(d["at"], d["trigger"], d["reason"], d["message"]) for d in decisions(system)[:10]]
    did = [(a["created_at"], a["kind"], a["vm_names"], a["status"], a["cause"]) for a in activities(system)[:6]]
    members = [(i["vm_name"], i["state"], i["address"]) for i in instances(system)]
    return f"group: {group}; instances: {members}; decisions: {why}; activities: {did}"


def wait_or_tell(system: System, predicate: Callable[[], T], timeout: float, what: str) -> T:
    """``wait_until``, failing with the group's story instead of a bare timeout."""
    try:
        return wait_until(predicate, timeout, what)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; {story(system)}") from exc
