"""What must hold in every simulated scenario (issue: the control loop holds for days).

Each check reads the simulation's record — its samples of the world (the true CPU of every VM
in service at every step), the scaler's decisions and activities from its store, the faults —
and returns the violations as sentences; ``check_all`` runs every one.

* **within limits** — the group's size stays within [min, max] once it first reached min, except
  while a VM lost behind vmscale's back is being replaced;
* **no stall** — while the true load holds a rule's condition, the next step in that direction
  comes by the latest time the design allows: the cooldown since the last step in that direction,
  fresh evidence after the last activity ended (one rate window plus a scrape), the rule's
  ``for:`` window when it is the first step of that direction since the other, and one evaluation
  — unless the group is at its limit, an activity runs, or a fault excuses it;
* **no flap** — a step never reverses the one before sooner than the reversing rule's ``for:``
  after the first ended (its evidence must lie entirely after it), and every step agrees with the
  load the VMs really carried over the rate window before it;
* **every alert decided** — each alert message delivered to the scaler has a recorded decision;
* **nothing leaked** — at the end the VMs, pool members, Prometheus targets and IP leases are
  exactly the group's instances, and no lease is held without an activity.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.scaler.domain.model import InstanceState, LeaseState, ScalingGroup
from services.scaler.domain.saga import Activity, ActivityStatus
from services.scaler.ports import DecisionRecord
from shared.messages import ActivityKind

from .driver import Sample, Sim
from .models import VmState

__all__ = ["Bounds", "check_all", "no_flap", "no_stall", "nothing_leaked", "within_limits"]

TOLERANCE = 5.0
"""Percentage points between the rate-averaged CPU Prometheus computes and the average of the
true CPU the simulation sampled (scrape phase and extrapolation)."""


@dataclass(frozen=True)
class Bounds:
    """How long the design allows between a condition and its step, and how long a fault excuses."""

    rate_window_s: float
    scrape_s: float
    evaluation_s: float
    tick_s: float
    recovery_s: float

    @classmethod
    def of(cls, sim: Sim) -> Bounds:
        c = sim.config
        windows = max(max(g.thresholds.out_for_s, g.thresholds.in_for_s) for g in sim.specs.values())
        # a lost VM's grace and replacement, or fresh evidence over a whole window after a gap
        lost = max(c.lost_grace_s, c.unhealthy_grace_s) + c.clone_s + c.boot_s
        recovery = max(lost, windows) + c.rate_window_s + 4 * c.evaluation_interval_s
        return cls(c.rate_window_s, c.scrape_interval_s, c.evaluation_interval_s, c.tick_s, recovery)

    @property
    def slack_s(self) -> float:
        """Scrape phase, one evaluation and the driver's step."""
        return 2 * self.scrape_s + self.evaluation_s + self.tick_s


_AT_REST = frozenset({InstanceState.IN_SERVICE, InstanceState.TERMINATED, InstanceState.FAILED})
"""Instance states a group at rest may hold (the last two are history)."""


def _direction(activity: Activity) -> str:
    return "out" if activity.kind is ActivityKind.SCALE_OUT else "in"


def _holds(spec: ScalingGroup, sample: Sample, direction: str) -> bool:
    """The rule's condition on the true values (the busiest VM, as the rules' ``max()``)."""
    if not sample.cpu:
        return False
    cpu, memory = max(sample.cpu.values()), max(sample.memory.values())
    t = spec.thresholds
    if direction == "out":
        return cpu > t.cpu_high or memory > t.memory_high
    return cpu < t.cpu_low and memory < t.memory_low


def _excused(sim: Sim, t: float, bounds: Bounds) -> bool:
    """Inside a fault or its recovery."""
    for fault in sim.faults:
        end = sim.time.now() if fault.end is None else fault.end
        if fault.start <= t <= end + bounds.recovery_s:
            return True
    return False


def _removable(sim: Sim, spec: ScalingGroup, size: int) -> bool:
    return size > max(spec.min_size, sim.config.base_vms)


async def within_limits(sim: Sim, group: str) -> list[str]:
    spec, bounds = sim.specs[group], Bounds.of(sim)
    out: list[str] = []
    reached = False
    for s in (s for s in sim.samples if s.group == group):
        reached = reached or s.size >= spec.min_size
        if s.size > spec.max_size or (reached and s.size < spec.min_size and not _excused(sim, s.t, bounds)):
            out.append(f"{_at(s.t)} size {s.size} outside [{spec.min_size}, {spec.max_size}]")
    if not reached:
        out.append(f"the group never reached its min {spec.min_size}")
    return out[:5]


async def no_stall(sim: Sim, group: str) -> list[str]:
    spec, bounds = sim.specs[group], Bounds.of(sim)
    activities = [a for a in await sim.activities(group) if a.kind in (ActivityKind.SCALE_OUT, ActivityKind.SCALE_IN)]
    cooldown = {"out": spec.scale_out_cooldown_s, "in": spec.scale_in_cooldown_s}
    window = {"out": spec.thresholds.out_for_s, "in": spec.thresholds.in_for_s}
    since: dict[str, float | None] = {"out": None, "in": None}
    out: list[str] = []
    for s in (s for s in sim.samples if s.group == group):
        for d in ("out", "in"):
            since[d] = (since[d] if since[d] is not None else s.t) if _holds(spec, s, d) else None
            start = since[d]
            if start is None or s.busy or _excused(sim, s.t, bounds):
                continue
            if (d == "out" and s.size >= spec.max_size) or (d == "in" and not _removable(sim, spec, s.size)):
                since[d] = None  # at the limit: a new stretch starts when it can act again
                continue
            before = [a for a in activities if sim.seconds(a.created_at) <= s.t]
            last = before[-1] if before else None
            if last is not None and last.status is not ActivityStatus.SUCCEEDED:
                continue  # a failed step: the back-off decides when to try again
            ended = sim.seconds(last.finished_at) if last is not None and last.finished_at is not None else None
            deadline = start + bounds.rate_window_s + window[d]
            if ended is not None:
                same = [a for a in before if _direction(a) == d]
                if last is not None and _direction(last) == d and ended >= start:
                    deadline = ended + bounds.rate_window_s  # a continuation: the fresh part suffices
                else:
                    deadline = max(deadline, ended + bounds.rate_window_s + window[d])
                if same:
                    deadline = max(deadline, sim.seconds(same[-1].created_at) + cooldown[d])
            deadline += bounds.slack_s
            if s.t > deadline:
                out.append(
                    f"{_at(s.t)} stalled: scale-{d} condition held since {_at(start)} at size {s.size}, "
                    f"due by {_at(deadline)}"
                )
                since[d] = None
    return out[:5]


def _mean_cpu(sim: Sim, group: str, t: float, span: float) -> tuple[float, float]:
    """Per VM, the mean of the true CPU and memory over ``[t - span, t]``; the busiest VM's."""
    totals: dict[str, list[float]] = {}
    for s in sim.samples:
        if s.group == group and t - span <= s.t <= t:
            for vm, cpu in s.cpu.items():
                entry = totals.setdefault(vm, [0.0, 0.0, 0.0])
                entry[0] += cpu
                entry[1] += s.memory[vm]
                entry[2] += 1
    if not totals:
        return 0.0, 0.0
    return max(c / n for c, _, n in totals.values()), max(m / n for _, m, n in totals.values())


async def no_flap(sim: Sim, group: str) -> list[str]:
    spec, bounds = sim.specs[group], Bounds.of(sim)
    window = {"out": spec.thresholds.out_for_s, "in": spec.thresholds.in_for_s}
    decisions = {d.activity_id: d for d in await sim.decisions(group) if d.activity_id}
    out: list[str] = []
    previous: Activity | None = None
    for activity in await sim.activities(group):
        decision = decisions.get(activity.id)
        step = decision is not None and not decision.trigger.startswith(("converge", "manual"))
        if step and decision is not None:
            out += _agrees(sim, spec, group, decision, activity, bounds)
        if step and previous is not None and previous.finished_at is not None:
            d = _direction(activity)
            gap = sim.seconds(activity.created_at) - sim.seconds(previous.finished_at)
            if d != _direction(previous) and gap < window[d]:
                out.append(
                    f"{_at(sim.seconds(activity.created_at))} flap: scale-{d} {gap:.0f}s after the scale-"
                    f"{_direction(previous)} ended (its rule's window is {window[d]}s)"
                )
        if step or (decision is not None and decision.trigger.startswith("converge")):
            previous = activity
    return out[:5]


def _agrees(
    sim: Sim, spec: ScalingGroup, group: str, decision: DecisionRecord, activity: Activity, bounds: Bounds
) -> list[str]:
    t = sim.seconds(decision.at)
    cpu, memory = _mean_cpu(sim, group, t, bounds.rate_window_s)
    th = spec.thresholds
    if _direction(activity) == "out":
        ok = cpu > th.cpu_high - TOLERANCE or memory > th.memory_high - TOLERANCE
    else:
        ok = cpu < th.cpu_low + TOLERANCE and memory < th.memory_low + TOLERANCE
    if ok:
        return []
    return [
        f"{_at(t)} scale-{_direction(activity)} ({decision.trigger}: {decision.reason}) against the load: "
        f"busiest VM averaged cpu {cpu:.1f}% memory {memory:.1f}% over the rate window"
    ]


async def alerts_decided(sim: Sim, group: str) -> list[str]:
    decisions = await sim.decisions(group)
    out: list[str] = []
    for at, alert in sim.delivered_alerts:
        if alert.group != group:
            continue
        if not any(d.trigger == f"alert:{alert.alertname}" and sim.seconds(d.at) >= at - 1e-6 for d in decisions):
            out.append(f"{_at(at)} alert {alert.alertname} delivered and never decided")
    return out[:5]


async def nothing_leaked(sim: Sim, group: str) -> list[str]:
    """At rest (no activity running): the world holds exactly the group's instances."""
    spec = sim.specs[group]

    def read(uow: object) -> tuple[list, list, list]:
        return (
            uow.instances.all(group),  # type: ignore[attr-defined]
            uow.activities.active(group),  # type: ignore[attr-defined]
            uow.ip_pools.leases(spec.ip_pool),  # type: ignore[attr-defined]
        )

    instances, active, leases = await sim.store.transaction(read)
    if active:
        return [f"an activity still runs at the end: {[a.id for a in active]}"]
    out: list[str] = []
    names = {i.vm_name for i in instances if i.state is InstanceState.IN_SERVICE}
    stray = [i.vm_name for i in instances if i.state not in _AT_REST]
    if stray:
        out.append(f"instances not in service at rest: {stray}")
    world = sim.worlds[group]
    alive = {vm.name for vm in world.vms.values() if vm.state is not VmState.DELETED}
    members = {name for (pool, name) in sim.services.members if pool == spec.pool}
    targets = {name for (job, name) in sim.services.targets if job == spec.prometheus_job}
    held = {lease.vm_name for lease in leases if lease.state is not LeaseState.RELEASED and lease.group == group} | {
        i.vm_name for i in instances if i.base and i.state is InstanceState.IN_SERVICE
    }
    for what, found in (("VMs", alive), ("pool members", members), ("targets", targets), ("IP leases", held)):
        if found != names:
            extra, missing = sorted(found - names), sorted(names - found)
            out.append(f"{what} differ from the instances: extra {extra}, missing {missing}")
    if await sim.lease.holder(group) is not None:
        out.append("the group's lease is held with no activity running")
    return out


async def check_all(sim: Sim, group: str | None = None, *, at_rest: bool = True) -> list[str]:
    """Every invariant for ``group`` (the first group by default)."""
    name = group or next(iter(sim.specs))
    found = (
        await within_limits(sim, name)
        + await no_stall(sim, name)
        + await no_flap(sim, name)
        + await alerts_decided(sim, name)
    )
    if at_rest:
        found += await nothing_leaked(sim, name)
    return found


def _at(t: float) -> str:
    t = max(0.0, t)
    return f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}:{int(t % 60):02d}"
