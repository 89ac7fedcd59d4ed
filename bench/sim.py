"""Benchmark of the simulation tier: simulated days per second of wall time.

python -m bench.sim [--groups 100] [--hours 24]

1. One group, a day of diurnal load (the scenario of ``tests/sim``): the real scaler, its
   reconciliation and the models, in simulated time. Target: ≤ 10 s of wall time.
2. ``--groups`` groups (default 100), a day each, in one simulation (one scaler replica deciding
   for all of them, each group with its own VMs and Prometheus model). Target: ≤ 2 minutes.

Baseline, in the same process: the models alone (world, Prometheus, Alertmanager) advanced over
the same day in the same steps, without the scaler. The ratio says how much of the time is the
scaler's own code (decisions, sagas, store) rather than the models'.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from services.scaler.domain.model import ScalingGroup
from shared.telemetry import configure_logging
from tests.sim.driver import Sim, SimConfig
from tests.sim.invariants import check_all
from tests.sim.models import LoadCurve

HOUR = 3600.0


def group(index: int) -> ScalingGroup:
    name = f"g{index:03d}"
    values: dict[str, Any] = {
        "name": name,
        "vm_prefix": name,
        "template": f"{name}-template",
        "prometheus_job": name,
        "min_size": 2,
        "max_size": 10,
        "pool": f"{name}-pool",
        "vip": "127.0.0.1",
        "member_port": 8080,
        "ip_pool": f"{name}-ips",
        "scale_out_cooldown_s": 300,
        "scale_in_cooldown_s": 600,
        "enabled": True,
    }
    return ScalingGroup.model_validate(values)


def curves(n: int) -> dict[str, LoadCurve]:
    """Diurnal load, each group's peak an hour apart, so the groups do not move in lock-step."""
    return {group(i).name: LoadCurve.diurnal(low=40, high=700, peak_at_s=(10 + i % 12) * HOUR) for i in range(n)}


async def simulated(n: int, hours: float) -> tuple[float, Sim]:
    sim = Sim([group(i) for i in range(n)], curves(n), SimConfig())
    await sim.start()
    started = time.perf_counter()
    await sim.run_for(hours * HOUR)
    return time.perf_counter() - started, sim


async def models_alone(n: int, hours: float) -> float:
    """The same day and steps for the models only (no scaler): the baseline."""
    sim = Sim([group(i) for i in range(n)], curves(n), SimConfig())
    await sim.start()
    started = time.perf_counter()
    tick, end = sim.config.tick_s, sim.time.now() + hours * HOUR
    while sim.time.now() < end:
        sim.clock.advance(tick)
        now = sim.time.now()
        for world in sim.worlds.values():
            world.advance_to(now)
        for prometheus in sim.prometheus.values():
            prometheus.advance_to(now)
        sim.alertmanager.advance_to(now)
    return time.perf_counter() - started


async def report(n: int, hours: float, target_s: float) -> bool:
    baseline = await models_alone(n, hours)
    wall, sim = await simulated(n, hours)
    activities = len(await sim.activities())
    violations = [v for g in sim.specs for v in await check_all(sim, g, at_rest=False)]
    label = f"{n} group{'s' if n > 1 else ''}, {hours:g} h"
    print(
        f"{label}: {wall:.2f} s wall ({hours * HOUR / wall:,.0f}x real time), {activities} activities, "
        f"{len(violations)} invariant violations; models alone {baseline:.2f} s "
        f"(ratio {wall / baseline:.1f}x); target ≤ {target_s:g} s: {'met' if wall <= target_s else 'MISSED'}",
        flush=True,
    )
    for violation in violations[:5]:
        print("  ", violation)
    return wall <= target_s and not violations


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args()
    configure_logging("bench", "ERROR", "console")
    one = await report(1, args.hours, 10.0)
    many = await report(args.groups, args.hours, 120.0)
    return 0 if one and many else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
