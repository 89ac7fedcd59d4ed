"""End-to-end figures on the lab (issue 8), measured on real parts:

1. per-phase time to serving over N scale-outs (decision → reserve IP → clone → power on and
   wait for the IP → app health → monitoring (target up) → pool member healthy), p50 / p99;
2. vmscale's own overhead per scale-out: for every step answered by another service, the time
   from the moment that service published its answer (the event's ``occurred_at``, stamped when
   vCenter, Prometheus or the load balancer had finished) to the moment the scaler recorded the
   step done — bus delivery, the saga's transaction and the next command — summed over the
   steps (target ≤ 1 s). The step timestamps alone cannot show it: the scaler starts a step at
   the instant it records the previous one done;
3. the interval between consecutive scale-outs under sustained load, against the cooldown.

The baseline in the same run is the sum of the external waits (what the lab's systems take).
Run: ``python -m bench.e2e`` (``BENCH_SCALE_OUTS`` sets N, default 20).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from lab.agent import set_load
from lab.demo import demo_spec
from lab.sshd import base_vm_addresses
from lab.system import System, free_lab_config, wait_until
from shared import subjects
from shared.embedded import free_port

N = int(os.environ.get("BENCH_SCALE_OUTS", "20"))
COOLDOWN_S = 10
PHASES = ("reserve_ip", "clone", "power_on", "wait_healthy", "register_monitoring", "add_pool_member")


def _t(value: str | None) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _system(tmp: Path) -> System:
    database = os.environ.get("DATABASE_URL", "")
    env = {
        "NATS_URL": os.environ.get("NATS_URL", "nats://127.0.0.1:4222"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "SUBJECT_PREFIX": "bench" + uuid.uuid4().hex[:8],
        "HEARTBEAT_INTERVAL_S": "1",
        "LOG_LEVEL": "WARNING",
    }
    if database:
        env["DATABASE_URL"] = database
    return System(config=free_lab_config(tmp / "lab"), state_dir=tmp / "state", env=env, gateway_port=free_port())


def _setup(system: System, max_size: int) -> None:
    api, cfg = system.api, system.config
    assert api is not None
    base = [(f"web-{i}", ip) for i, ip in enumerate(base_vm_addresses(cfg), 1)]
    api.post(
        "/api/v1/prometheus/jobs/web/targets",
        [{"vm_name": n, "address": ip, "port": cfg.agent_port} for n, ip in base],
        expect=202,
    )
    wait_until(lambda: len(api.get("/api/v1/prometheus/targets", params={"job": "web"})["targets"]) == 2, 60, "targets")
    api.put(
        "/api/v1/ip-pools/web",
        {
            "name": "web",
            "network": "127.0.20.0/24",
            "gateway": "127.0.20.1",
            "ranges": [{"start": "127.0.20.100", "end": "127.0.20.199"}],
        },
    )
    spec = demo_spec(cfg) | {"max_size": max_size, "scale_out_cooldown_s": COOLDOWN_S, "ip_pool": "web"}
    api.post("/api/v1/groups", spec, expect=201)
    api.post("/api/v1/groups/web/enable")


def _activity(system: System, activity_id: str) -> dict[str, Any]:
    assert system.api is not None
    return dict(system.api.get(f"/api/v1/activities/{activity_id}"))


def _wait_activity(system: System, activity_id: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        activity = _activity(system, activity_id)
        return activity if activity["status"] in ("succeeded", "rolled_back", "failed", "cancelled") else None

    activity = wait_until(finished, 300, f"activity {activity_id}")
    assert activity is not None  # wait_until returns only a truthy answer
    return activity


_ANSWERS = {  # the event that completes a step, by subject
    subjects.VM_CLONED.name: "clone",
    subjects.VM_IP_ASSIGNED.name: "power_on",
    subjects.MONITORING_REGISTERED.name: "register_monitoring",
    subjects.POOL_MEMBER_ADDED.name: "add_pool_member",
}


def _answers(system: System, activity_id: str) -> dict[str, datetime]:
    """When each answering service published its answer for ``activity_id``."""
    assert system.api is not None
    found: dict[str, datetime] = {}
    for event in system.api.get("/api/v1/events", params={"limit": 2000}):
        step = _ANSWERS.get(event["subject"])
        data = event["data"]
        if step and activity_id in (data.get("correlation_id"), data.get("activity_id")):
            found[step] = _t(data.get("occurred_at") or event["at"])
    return found


def _measure_scale_outs(system: System) -> tuple[dict[str, list[float]], list[float], list[float]]:
    api = system.api
    assert api is not None
    phases: dict[str, list[float]] = {name: [] for name in PHASES}
    overhead, totals = [], []
    for _ in range(N):
        reply = api.post("/api/v1/groups/web/scale", {"delta": 1})
        activity_id = reply["decision"]["activity_id"]
        decided = _t(reply["decision"]["at"])
        done = _wait_activity(system, activity_id)
        if done["status"] != "succeeded":
            print(f"activity {activity_id} ended {done['status']}: {done.get('reason')}", file=sys.stderr)
            continue
        steps = [s for s in done["steps"] if s["phase"] == "forward" and s["started_at"] and s["finished_at"]]
        steps.sort(key=lambda s: s["started_at"])
        for step in steps:
            if step["step"] in phases:
                phases[step["step"]].append((_t(step["finished_at"]) - _t(step["started_at"])).total_seconds())
        answered = _answers(system, activity_id)
        lag = 0.0
        for step in steps:
            reply_at = answered.get(step["step"])
            if reply_at is not None:
                lag += max(0.0, (_t(step["finished_at"]) - reply_at).total_seconds())
        overhead.append(lag)
        totals.append((_t(steps[-1]["finished_at"]) - decided).total_seconds())
    return phases, overhead, totals


def _measure_interval(system: System, scale_outs: int = 4) -> list[float]:
    api = system.api
    assert api is not None
    api.post("/api/v1/groups/web/scale", {"desired": 2})
    wait_until(
        lambda: (
            api.get("/api/v1/groups/web")["group"]["size"] == 2
            and not api.get("/api/v1/groups/web")["group"]["active_activity"]
        ),
        600,
        "back to min",
    )
    spec = api.get("/api/v1/groups/web")["group"]["spec"]
    api.put("/api/v1/groups/web", spec | {"max_size": 2 + scale_outs})
    started = time.time()
    for _, ip in [(n, ip) for n, ip in enumerate(base_vm_addresses(system.config))]:
        set_load(ip, cpu=95, port=system.config.agent_port)
    wait_until(lambda: api.get("/api/v1/groups/web")["group"]["size"] >= 2 + scale_outs, 600, "sustained scale-outs")
    allowed = sorted(
        _t(d["at"]).timestamp()
        for d in api.get("/api/v1/decisions", params={"group": "web", "allowed": True, "limit": 200})
        if d["delta"] > 0 and _t(d["at"]).timestamp() >= started
    )
    return [b - a for a, b in pairwise(allowed)]


def main() -> None:
    """Run and print the figures."""
    with tempfile.TemporaryDirectory(prefix="vmscale-bench-") as tmp:
        system = _system(Path(tmp))
        system.start()
        try:
            _setup(system, max_size=N + 2)
            phases, overhead, totals = _measure_scale_outs(system)
            intervals = _measure_interval(system)
        finally:
            system.stop()
    print(f"scale-outs measured: {len(totals)} of {N}")
    print(f"{'phase':<22}{'p50 s':>9}{'p99 s':>9}")
    for name, values in phases.items():
        if values:
            print(f"{name:<22}{_pct(values, 0.5):>9.2f}{_pct(values, 0.99):>9.2f}")
    if totals:
        print(f"{'decision → serving':<22}{_pct(totals, 0.5):>9.2f}{_pct(totals, 0.99):>9.2f}")
        waits = [t - o for t, o in zip(totals, overhead, strict=False)]
        print(
            f"{'external work':<22}{_pct(waits, 0.5):>9.2f}{_pct(waits, 0.99):>9.2f}   (baseline: the lab's own time)"
        )
        print(f"{'vmscale overhead':<22}{_pct(overhead, 0.5):>9.3f}{_pct(overhead, 0.99):>9.3f}   target ≤ 1 s")
        print(
            f"overhead / external work (p50): {statistics.median(overhead) / max(statistics.median(waits), 1e-9):.3f}"
        )
    if intervals:
        print(
            f"interval between scale-outs under sustained load: p50 {_pct(intervals, 0.5):.1f} s, "
            f"max {max(intervals):.1f} s (cooldown {COOLDOWN_S} s; the original: cooldown + Alertmanager's repeat)"
        )


if __name__ == "__main__":
    main()
