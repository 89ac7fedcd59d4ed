"""The original's three scenarios as steps an operator takes through the API, against the lab.

Shared by the HAProxy and F5 test modules. Every assertion reads the real system: vcsim through
the inventory API, the real Prometheus and Alertmanager over their own HTTP APIs, the load
balancer through vmscale's API and, for HAProxy, real requests through the frontend.
"""

from __future__ import annotations

from typing import Any

import httpx

from lab.agent import set_load
from lab.sshd import base_vm_addresses
from lab.system import System, wait_until
from shared import subjects

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


def events(system: System, **params: Any) -> list[dict[str, Any]]:
    """The gateway's events, newest first."""
    return list(system.api.get("/api/v1/events", params={"limit": 500, **params}))


def setup_service(system: System) -> None:
    """Scenario 1: a new service, set up as an operator would, through the API only."""
    api, cfg = system.api, system.config
    # a template from a VM
    api.post("/api/v1/templates", {"vm_name": "web-1", "template_name": TEMPLATE, "description": "e2e"}, expect=202)
    wait_until(lambda: api.call("GET", f"/api/v1/templates/{TEMPLATE}", expect=(200, 404)), 60, "the template")
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
    assert sorted(done[0]["succeeded"]) == ["web-1", "web-2"] and not done[0]["failed"], done[0]
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
