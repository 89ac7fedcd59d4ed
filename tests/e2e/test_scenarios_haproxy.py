"""The original's three scenarios, for real, with HAProxy as the load balancer.

1. set up a new service through the API; 2. scale out under load to max; 3. scale in to min.
The tests run in order on one lab (module scope): each scenario starts where the last ended.
"""

from __future__ import annotations

import pytest

from lab.system import System, wait_until
from tests.e2e import scenarios as sc

pytestmark = pytest.mark.e2e


def test_1_setting_up_a_service_writes_rules_to_prometheus_and_routes_to_alertmanager(system: System) -> None:
    sc.scenario_set_up(system)


def test_2_load_scales_out_to_max_with_vms_serving_through_the_frontend_then_blocks_at_max(system: System) -> None:
    sc.scenario_scale_out(system, through_frontend=True)


def test_3_dropping_the_load_scales_in_newest_first_down_to_min_and_silences(system: System) -> None:
    sc.scenario_scale_in(system)


def test_4_system_status_sees_every_external_system_of_the_lab_through_its_owner(system: System) -> None:
    def all_ok() -> dict[str, dict[str, object]] | None:
        systems = {s["name"]: s for s in system.api.get("/api/v1/system/status")["systems"]}
        return systems if all(s["state"] == "ok" for s in systems.values()) else None

    systems = wait_until(all_ok, 30, "every external system ok")
    assert {name: s["owner"] for name, s in systems.items()} == {
        "vcenter": "inventory",
        "haproxy": "loadbalancer",
        "prometheus": "monitoring",
        "alertmanager": "monitoring",
        "grafana": "monitoring",
        "config_files": "monitoring",
        "jenkins": "scaler",
    }
    assert all(isinstance(s["latency_ms"], float) for s in systems.values())
