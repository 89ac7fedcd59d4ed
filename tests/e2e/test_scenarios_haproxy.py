"""The original's three scenarios, for real, with HAProxy as the load balancer.

1. set up a new service through the API; 2. scale out under load to max; 3. scale in to min.
The tests run in order on one lab (module scope): each scenario starts where the last ended.
The services send their spans to a loopback OTLP/HTTP receiver (``otlp``), as to a collector.
"""

from __future__ import annotations

from typing import Any

from lab.system import System, wait_until
from shared import subjects
from testkit.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.e2e import scenarios as sc

FIVE = {f"vmscale-{name}" for name in ("gateway", "scaler", "inventory", "monitoring", "loadbalancer")}


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


def test_5_one_scale_out_is_one_trace_from_the_gateway_to_the_last_saga_step(
    system: System, otlp: OtlpReceiver
) -> None:
    # an operator's scale-out: the request is the trace's root (a scale-out the control loop
    # decides by itself starts its trace at the scaler; the alert webhook's at the gateway)
    reply = system.api.post(f"/api/v1/groups/{sc.GROUP}/scale", {"delta": 1, "reason": "e2e trace"})
    activity_id = reply["decision"]["activity_id"]
    assert reply["decision"]["allowed"] and activity_id, reply

    def ended() -> dict[str, Any] | None:
        activity = system.api.get(f"/api/v1/activities/{activity_id}")
        return activity if activity["status"] in ("succeeded", "failed", "rolled_back", "cancelled") else None

    assert sc.wait_or_tell(system, ended, 180, "the manual scale-out")["status"] == "succeeded"

    def whole(spans: list[ReceivedSpan]) -> list[ReceivedSpan] | None:
        roots = [
            s for s in spans if s.service == "vmscale-gateway" and s.name == f"POST /api/v1/groups/{sc.GROUP}/scale"
        ]
        trace = [s for s in spans if roots and s.trace_id == roots[0].trace_id]
        steps = tuple(
            s.name
            for s in (
                subjects.CMD_VM_CLONE,
                subjects.CMD_VM_POWER_ON,
                subjects.CMD_MONITORING_REGISTER,
                subjects.CMD_POOL_ADD,
                subjects.POOL_MEMBER_ADDED,
            )
        )
        names = " ".join(s.name for s in trace)
        return trace if {s.service for s in trace} == FIVE and all(step in names for step in steps) else None

    # the batches leave every few seconds: the last saga step's spans come a little after
    trace = otlp.wait_for(whole, 30)
    assert len({s.trace_id for s in trace}) == 1
    assert sum(1 for s in trace if not s.parent_span_id) == 1, "one root: the gateway's request"
