"""The demo group ``make run`` creates: two base VMs behind HAProxy, scaling on CPU in seconds."""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Any

from lab.config import LabConfig
from lab.sshd import base_vm_addresses
from lab.system import ApiClient, wait_until

__all__ = ["DEMO_GROUP", "create_demo_group", "demo_spec"]

DEMO_GROUP = "web"


def demo_spec(config: LabConfig) -> dict[str, Any]:
    """Group settings with the lab's compressed timings (``for`` 5 s, cooldown 10 s)."""
    return {
        "name": DEMO_GROUP,
        "vm_prefix": DEMO_GROUP,
        "template": "tpl-web",
        "prometheus_job": DEMO_GROUP,
        "min_size": 2,
        "max_size": 4,
        "pool": "web",
        "vip": config.host,
        "vip_port": config.haproxy_frontend_port,
        "member_port": config.app_port,
        "monitoring_port": config.agent_port,
        "ip_pool": DEMO_GROUP,
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


def create_demo_group(api: ApiClient, config: LabConfig) -> None:
    """Register the base VMs in Prometheus, create the IP pool and the group, enable it.

    Idempotent: an existing demo group from an earlier run is left as it is.
    """
    existing = api.call("GET", f"/api/v1/groups/{DEMO_GROUP}", expect=(200, 404))
    if existing is not None and existing.get("group"):
        return
    base = [(f"web-{index}", ip) for index, ip in enumerate(base_vm_addresses(config), 1)]
    targets = [{"vm_name": name, "address": ip, "port": config.agent_port} for name, ip in base]
    api.post(f"/api/v1/prometheus/jobs/{DEMO_GROUP}/targets", targets, expect=202)
    # registered is not yet scraped: the API lists the job's targets with Prometheus' health,
    # "unknown" until Prometheus has discovered them; enabling before that would find only the
    # base VMs Prometheus already scrapes
    wait_until(
        lambda: (
            [t["health"] for t in api.get("/api/v1/prometheus/targets", params={"job": DEMO_GROUP})["targets"]]
            == ["up"] * len(base)
        ),
        60,
        "the base VMs scraped by Prometheus",
    )
    hosts = list(IPv4Network(config.vm_network).hosts())
    api.put(
        f"/api/v1/ip-pools/{DEMO_GROUP}",
        {
            "name": DEMO_GROUP,
            "network": config.vm_network,
            "gateway": str(hosts[0]),
            "ranges": [{"start": str(hosts[99]), "end": str(hosts[118])}],
        },
    )
    api.post("/api/v1/groups", demo_spec(config), expect=201)
    api.post(f"/api/v1/groups/{DEMO_GROUP}/enable")
