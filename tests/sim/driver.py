"""The simulation driver: the real scaler (decisions, sagas, timers, leases, reconciliation)
over in-memory ports, in simulated time, against the models of the world, Prometheus and
Alertmanager (docs/architecture.md §3a, §6).

What is real: every line of ``services/scaler`` above its ports — the loop's evaluations, the
pure decision and condition, the sagas and their compensation, the outbox, the lease and its
fence, the reconciliation. What is modelled: the services it commands (the scaler's
``FakeWorld`` answers them, each reply delayed as the real service would take: a clone
``clone_s``, a boot ``boot_s``), the VMs and their load (``World``), Prometheus (scrapes,
``rate()``, rule evaluation with ``for:``) and Alertmanager with the gateway (``AlertmanagerModel``).

Each command the scaler publishes is mirrored into the models (a clone starts a VM cloning, a
target registered is scraped, a pool member takes a share of the load, a silence mutes the
scale-in alert) and its reply is delivered when due. Time moves in steps of ``tick_s`` or to the
next due reply, whichever comes first; at each step the models advance, due replies and the
gateway's alert messages are delivered, and the scaler ticks once, as its service loop does.

Faults are methods: ``flush_redis``, ``restart``, ``bus_down``, ``prometheus_down``,
``delete_vm``, ``kill_exporter``, ``capacity``, and alert messages dropped as dead letters (``dead_letter_alerts``).
Every step is sampled (load, size, the true CPU of each VM); ``timeline()`` prints them with the
decisions, and ``invariants.py`` checks them.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.scaler.activities import EngineConfig
from services.scaler.domain import Retry
from services.scaler.domain.model import InstanceState, IpPool, ScalingGroup
from services.scaler.domain.saga import Activity
from services.scaler.ports import DecisionRecord
from services.scaler.reconcile import ReconcileConfig
from services.scaler.service import Ports, Scaler
from services.scaler.steps import REPLY_SUBJECTS
from shared import subjects
from shared.errors import ServiceUnavailable
from shared.messages import AlertFired, AlertResolved, MemberState, Message, PowerState
from shared.subjects import Subject
from testkit.clock import FakeClock
from testkit.scaler.fake_world import FakeVm, FakeWorld
from testkit.scaler.memory import MemoryHealthProbe, MemoryHooks, MemoryLease, MemoryResourceChecker, RecordingPublisher
from testkit.scaler.memory_store import MemoryStore

from .models import AlertmanagerModel, LoadCurve, ModelMetrics, PrometheusModel, RuleSpec, SimTime, VmState, World

__all__ = ["Sample", "Sim", "SimConfig"]

_REPLY_NAMES = {s.name for s in REPLY_SUBJECTS}
_MONITORING_EVENTS = {
    subjects.MONITORING_ALERTS_PROVISIONED.name,
    subjects.MONITORING_ALERTS_REMOVED.name,
    subjects.MONITORING_FAILED.name,
}
_POWER = {VmState.RUNNING: "poweredOn", VmState.BOOTING: "poweredOn", VmState.POWERED_OFF: "poweredOff"}


@dataclass(frozen=True)
class SimConfig:
    """The simulated deployment: timings of the world, Prometheus, Alertmanager and the scaler."""

    clone_s: float = 60.0
    boot_s: float = 30.0
    other_reply_s: float = 1.0
    scrape_interval_s: float = 15.0
    rule_interval_s: float = 15.0
    rate_window_s: float = 300.0
    evaluation_interval_s: float = 15.0
    tick_s: float = 5.0
    sample_s: float = 15.0
    lost_grace_s: float = 60.0
    unhealthy_grace_s: float = 300.0
    silence_renew_s: float = 600.0
    group_wait_s: float = 10.0
    group_interval_s: float = 10.0
    repeat_interval_s: float = 300.0
    send_resolved: bool = False
    memory_base: float = 20.0
    memory_per_cpu: float = 0.3
    base_vms: int = 2
    pool_size: int = 60


@dataclass(frozen=True)
class Sample:
    """The state of the simulation after one step."""

    t: float
    group: str
    load: float
    size: int
    serving: int
    busy: bool
    cpu: dict[str, float]
    memory: dict[str, float]


@dataclass
class _Fault:
    """A fault's window in simulated seconds (``end`` None while it lasts)."""

    kind: str
    start: float
    end: float | None = None


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    subject: Subject[Any] = field(compare=False)
    message: Message = field(compare=False)


class Sim:
    """One scaler replica and the models of everything it talks to."""

    def __init__(self, groups: list[ScalingGroup], load: LoadCurve | dict[str, LoadCurve], config: SimConfig) -> None:
        self.config = config
        self.specs = {g.name: g for g in groups}
        self.clock = FakeClock(datetime(2026, 3, 2, 0, 0, tzinfo=UTC))
        self.time = SimTime(self.clock)
        curves = load if isinstance(load, dict) else {g.name: load for g in groups}
        self.worlds = {
            name: World(
                self.time,
                curves[name],
                clone_s=config.clone_s,
                boot_s=config.boot_s,
                memory_base=config.memory_base,
                memory_per_cpu=config.memory_per_cpu,
            )
            for name in self.specs
        }
        self.alertmanager = AlertmanagerModel(
            self.time,
            group_wait_s=config.group_wait_s,
            group_interval_s=config.group_interval_s,
            repeat_interval_s=config.repeat_interval_s,
            send_resolved=config.send_resolved,
        )
        self.prometheus = {
            name: PrometheusModel(
                self.time,
                world,
                scrape_interval_s=config.scrape_interval_s,
                evaluation_interval_s=config.rule_interval_s,
                rate_window_s=config.rate_window_s,
                alertmanager=self.alertmanager,
            )
            for name, world in self.worlds.items()
        }
        self.metrics = _GroupMetrics(
            {name: ModelMetrics(p) for name, p in self.prometheus.items()},
            {g.prometheus_job: g.name for g in groups},
        )
        self.services = FakeWorld()
        self.store = MemoryStore(self.clock)
        self.lease = MemoryLease(self.clock)
        self.publisher = RecordingPublisher()
        self.publisher.listeners.append(self._on_command)
        self.samples: list[Sample] = []
        self.faults: list[_Fault] = []
        self.delivered_alerts: list[tuple[float, AlertFired]] = []
        self.dropped_alerts: list[tuple[float, AlertFired]] = []
        self.restarts: list[float] = []
        self._pending: list[_Due] = []
        self._held: list[tuple[Subject[Any], Message]] = []
        self._seq = itertools.count()
        self._drop_alerts = 0
        self._next_sample = 0.0
        self._presence_down = False
        self._group_of_vm: dict[str, str] = {}
        self.scaler = self._new_scaler()

    # -- wiring ---------------------------------------------------------------------------

    def _new_scaler(self) -> Scaler:
        ports = Ports(
            store=self.store,
            lease=self.lease,
            metrics=self.metrics,
            probe=MemoryHealthProbe(self.services.app_healthy),
            hooks=MemoryHooks(),
            checker=MemoryResourceChecker(
                {g.prometheus_job for g in self.specs.values()},
                {g.template for g in self.specs.values()},
                {g.pool for g in self.specs.values()},
            ),
            publisher=self.publisher,
            clock=self.clock,
            presence=self._presence,
            existing_vms=self._existing_vms,
        )
        engine = EngineConfig(
            owner=f"sim-{len(self.restarts)}",
            lease_ttl_s=30,
            retry=Retry(max_attempts=3, backoff_s=5, compensation_attempts=6),
        )
        reconcile = ReconcileConfig(
            lost_grace_s=self.config.lost_grace_s,
            unhealthy_grace_s=self.config.unhealthy_grace_s,
            silence_renew_s=self.config.silence_renew_s,
            interval_s=self.config.evaluation_interval_s,
        )
        return Scaler(
            ports,
            owner=engine.owner,
            engine=engine,
            evaluation_interval_s=self.config.evaluation_interval_s,
            reconcile=reconcile,
        )

    async def _presence(self, names: list[str]) -> dict[str, str]:
        if self._presence_down:
            raise ServiceUnavailable("inventory unreachable (NATS down)")
        out: dict[str, str] = {}
        for name in names:
            world = self.worlds.get(self._group_of_vm.get(name, ""))
            vm = world.vms.get(name) if world is not None else None
            if vm is not None and vm.state in _POWER:
                out[name] = _POWER[vm.state]
        return out

    async def _existing_vms(self, spec: ScalingGroup) -> list[tuple[str, str]]:
        return [
            (t.vm_name, t.instance)
            for t in self.prometheus[spec.name].targets(spec.prometheus_job)
            if t.vm_name.startswith(f"{spec.vm_prefix}-base-")
        ]

    # -- set-up ---------------------------------------------------------------------------

    async def start(self) -> None:
        """The IP pool, each group with its base VMs running and scraped, enabled."""
        size = self.config.pool_size
        for index, spec in enumerate(self.specs.values()):
            net = f"127.{60 + index}"  # each group's pool and base VMs in a /16 of their own
            pool = IpPool.model_validate(
                {
                    "name": spec.ip_pool,
                    "network": f"{net}.0.0/16",
                    "gateway": f"{net}.0.1",
                    "ranges": [{"start": f"{net}.1.10", "end": f"{net}.1.{10 + size}"}],
                }
            )
            await self.scaler.admin.save_pool(pool)
            await self.scaler.admin.save_group(spec.model_copy(update={"enabled": False}), create=True)
            world, prometheus = self.worlds[spec.name], self.prometheus[spec.name]
            prometheus.add_rules(RuleSpec.of(spec))
            base = [(f"{spec.vm_prefix}-base-{i}", f"{net}.2.{10 + i}") for i in range(self.config.base_vms)]
            for name, address in base:
                self._group_of_vm[name] = spec.name
                world.add_vm(name, address, in_service=True)
                prometheus.register(spec.prometheus_job, name, address)
                self.services.vms[name] = FakeVm(
                    name=name, group=spec.name, template="t", ip=address, power=PowerState.ON
                )
                self.services.members[(spec.pool, name)] = (address, spec.member_port, MemberState.UP)
                self.services.targets[(spec.prometheus_job, name)] = f"{address}:{spec.monitoring_port}"
            if base:
                await self.scaler.admin.register_base(spec.name, base)
            if spec.enabled:
                await self.scaler.admin.set_enabled(spec.name, True)
        await self._settle()

    # -- commands and replies -------------------------------------------------------------

    def _on_command(self, subject: Subject[Any], message: Message) -> None:
        """Mirror a command into the models and schedule its replies."""
        now = self.time.now()
        name = subject.name
        vm_name = getattr(message, "vm_name", None)
        group = getattr(message, "group", None)
        if vm_name and group:
            self._group_of_vm.setdefault(vm_name, group)
        world = self.worlds.get(self._group_of_vm.get(vm_name or getattr(message, "name", ""), group or ""))
        delay = self.config.other_reply_s
        if name == subjects.CMD_VM_CLONE.name:
            assert world is not None
            if world.capacity_exhausted:
                self.services.fail("clone", vm_name=vm_name, reason="insufficient resources in the cluster")
            elif vm_name not in world.vms or world.vms[vm_name].state is VmState.DELETED:
                world.clone(vm_name, str(message.network.ip), power_on=message.power_on)  # type: ignore[attr-defined]
            delay = self.config.clone_s + (self.config.boot_s if message.power_on else 0)  # type: ignore[attr-defined]
        elif name == subjects.CMD_VM_POWER_ON.name and world is not None and vm_name in world.vms:
            if world.vms[vm_name].state is VmState.POWERED_OFF:
                world.power_on(vm_name)
            delay = self.config.boot_s
        elif name == subjects.CMD_VM_POWER_OFF.name and world is not None and vm_name in world.vms:
            if world.vms[vm_name].state is not VmState.DELETED:
                world.power_off(vm_name)
        elif name == subjects.CMD_VM_DESTROY.name and world is not None and vm_name in world.vms:
            if world.vms[vm_name].state is not VmState.DELETED:
                world.delete(vm_name)
        elif name == subjects.CMD_MONITORING_REGISTER.name:
            self._prometheus_of_job(message.job).register(message.job, vm_name, str(message.address))  # type: ignore[attr-defined]
        elif name == subjects.CMD_MONITORING_DEREGISTER.name:
            self._prometheus_of_job(message.job).deregister(message.job, vm_name)  # type: ignore[attr-defined]
        elif name == subjects.CMD_POOL_ADD.name and world is not None and message.name in world.vms:  # type: ignore[attr-defined]
            world.set_in_service(message.name, True)  # type: ignore[attr-defined]
        elif name in (subjects.CMD_POOL_DRAIN.name, subjects.CMD_POOL_REMOVE.name) and world is not None:
            member = message.name  # type: ignore[attr-defined]
            if member in world.vms and world.vms[member].state is not VmState.DELETED:
                world.set_in_service(member, False)
        elif name == subjects.CMD_MONITORING_SILENCE.name:
            spec = self.specs[group]  # type: ignore[index]
            if message.active:  # type: ignore[attr-defined]
                self.alertmanager.expire(spec.scale_in_alert, at=now)
                self.alertmanager.silence(spec.scale_in_alert, now + 3600.0, service=spec.name, at=now)
            else:
                self.alertmanager.expire(spec.scale_in_alert, at=now)
        for reply_subject, reply in self.services.handle(subject, message):
            heapq.heappush(self._pending, _Due(now + delay, next(self._seq), reply_subject, reply))

    def _prometheus_of_job(self, job: str) -> PrometheusModel:
        for spec in self.specs.values():
            if spec.prometheus_job == job:
                return self.prometheus[spec.name]
        raise KeyError(job)

    async def _deliver(self, subject: Subject[Any], message: Message) -> None:
        if self.publisher.down:
            self._held.append((subject, message))
            return
        if subject.name in _MONITORING_EVENTS:
            await self.scaler.admin.on_monitoring_event(message)  # type: ignore[arg-type]
        if subject.name in _REPLY_NAMES:
            await self.scaler.activities.on_reply(subject, message)

    async def _settle(self) -> None:
        """Deliver every reply due now and let local steps run."""
        for _ in range(1000):
            await self.scaler.relay.flush()
            await self.scaler.activities.idle()
            now = self.time.now()
            due = []
            while self._pending and self._pending[0].at <= now:
                due.append(heapq.heappop(self._pending))
            if not due:
                await asyncio.sleep(0)
                if not (self._pending and self._pending[0].at <= now):
                    return
            for item in due:
                await self._deliver(item.subject, item.message)
        raise AssertionError("the simulation did not settle")

    # -- time -----------------------------------------------------------------------------

    async def run_for(self, seconds: float) -> None:
        """Advance ``seconds`` of simulated time, step by step."""
        await self.run_until(self.time.now() + seconds)

    async def run_until(self, end: float) -> None:
        """Advance to ``end`` (seconds since the epoch) in steps of at most ``tick_s``."""
        tick = self.config.tick_s
        while self.time.now() < end - 1e-9:
            now = self.time.now()
            target = min(end, (now // tick + 1) * tick)
            if self._pending and not self.publisher.down:
                target = min(target, max(self._pending[0].at, now + 1e-3))
            self.clock.advance(target - now)
            await self._step()

    async def quiesce(self, limit_s: float = 1800.0) -> None:
        """Run until no activity is running (at most ``limit_s``), for checks at rest."""
        end = self.time.now() + limit_s
        while self.time.now() < end:
            active = await self.store.transaction(lambda uow: uow.activities.active())
            if not active:
                return
            await self.run_for(self.config.tick_s)

    async def _step(self) -> None:
        now = self.time.now()
        for world in self.worlds.values():
            world.advance_to(now)
        for prometheus in self.prometheus.values():
            prometheus.advance_to(now)
        for message in self.alertmanager.advance_to(now):
            await self._alert(message)
        await self._settle()
        await self.scaler.tick()
        await self._settle()
        if now >= self._next_sample:
            self._next_sample = now + self.config.sample_s - 1e-6
            await self._sample()

    async def _alert(self, message: AlertFired | AlertResolved) -> None:
        now = self.time.now()
        if isinstance(message, AlertFired):
            if self._drop_alerts > 0:
                self._drop_alerts -= 1
                self.dropped_alerts.append((now, message))
                return
            self.delivered_alerts.append((now, message))
            await self.scaler.triggers.on_alert_fired(message)
        else:
            await self.scaler.triggers.on_alert_resolved(message)

    async def _sample(self) -> None:
        now = self.time.now()
        instances, active = await self.store.transaction(lambda uow: (uow.instances.all(), uow.activities.active()))
        busy_groups = {a.group for a in active}
        sizes = Counter(i.group for i in instances if i.counts)
        for name, world in self.worlds.items():
            serving = world.serving()
            usage = world.usage([vm.name for vm in serving], now)
            self.samples.append(
                Sample(
                    t=now,
                    group=name,
                    load=world.load(now),
                    size=sizes[name],
                    serving=len(serving),
                    busy=name in busy_groups,
                    cpu={vm: cpu or 0.0 for vm, (cpu, _) in usage.items()},
                    memory={vm: memory or 0.0 for vm, (_, memory) in usage.items()},
                )
            )

    # -- faults ---------------------------------------------------------------------------

    def _fault(self, kind: str, duration_s: float | None = 0.0) -> _Fault:
        now = self.time.now()
        fault = _Fault(kind, now, None if duration_s is None else now + duration_s)
        self.faults.append(fault)
        return fault

    def flush_redis(self) -> None:
        """The lease store loses everything (an embedded Redis restarted, FLUSHALL)."""
        self._fault("redis flushed")
        self.lease.flush()

    async def restart(self, *, flush_redis: bool = False) -> None:
        """Kill the scaler (its in-memory state with it) and start a new replica on the same
        database; replies in flight are delivered to the new one (JetStream keeps them)."""
        self._fault("restart")
        self.restarts.append(self.time.now())
        if flush_redis:
            self.lease.flush()
        self.scaler = self._new_scaler()
        await self.scaler.activities.tick()
        await self._settle()

    async def bus_down(self, seconds: float) -> None:
        """NATS unreachable for ``seconds``: nothing is published or delivered, the inventory
        cannot vouch for any VM; afterwards the held messages arrive."""
        fault = self._fault("NATS down", seconds)
        self.publisher.down = True
        self._presence_down = True
        await self.run_until(fault.end or 0.0)
        self.publisher.down = False
        self._presence_down = False
        held, self._held = self._held, []
        for subject, message in held:
            await self._deliver(subject, message)
        await self._settle()

    async def prometheus_down(self, seconds: float, group: str | None = None) -> None:
        """Prometheus stopped for ``seconds`` (no scrapes, no rules, queries refused)."""
        fault = self._fault("Prometheus down", seconds)
        models = [self.prometheus[group]] if group else list(self.prometheus.values())
        for model in models:
            model.set_down(True)
        await self.run_until(fault.end or 0.0)
        for model in models:
            model.set_down(False)

    def delete_vm(self, name: str) -> None:
        """The VM is deleted in vCenter behind vmscale's back (its pool member and target stay)."""
        self._fault(f"{name} deleted")
        world = self.worlds[self._group_of_vm[name]]
        world.delete(name)
        self.services.vms.pop(name, None)

    def kill_exporter(self, name: str, *, lasting: bool = False) -> None:
        """The VM runs, but its exporter stops answering Prometheus (a hung or broken VM);
        ``lasting``: the fault excuses the invariants for as long as the run goes on."""
        self._fault(f"{name} exporter dead", None if lasting else 0.0)
        self.worlds[self._group_of_vm[name]].set_exporter(name, False)

    def capacity(self, exhausted: bool, group: str | None = None) -> None:
        """vCenter out of capacity (every clone fails) or back."""
        if exhausted:
            self._fault("capacity exhausted", None)
        else:
            for fault in self.faults:
                if fault.kind == "capacity exhausted" and fault.end is None:
                    fault.end = self.time.now()
        for name, world in self.worlds.items():
            if group is None or name == group:
                world.capacity_exhausted = exhausted

    def dead_letter_alerts(self, n: int) -> None:
        """The next ``n`` alert messages never reach the scaler (dead-lettered on every delivery)."""
        self._drop_alerts += n

    # -- reading ----------------------------------------------------------------------------

    async def decisions(self, group: str | None = None) -> list[DecisionRecord]:
        """Every decision, oldest first."""
        found = await self.store.transaction(lambda uow: uow.decisions.find(group, limit=1_000_000))
        return sorted(found, key=lambda d: d.at)

    async def activities(self, group: str | None = None) -> list[Activity]:
        """Every activity, oldest first."""
        found = await self.store.transaction(lambda uow: uow.activities.recent(group, limit=1_000_000))
        return sorted(found, key=lambda a: a.created_at)

    async def size(self, group: str) -> int:
        instances = await self.store.transaction(lambda uow: uow.instances.all(group))
        return sum(1 for i in instances if i.counts)

    async def in_service(self, group: str) -> list[str]:
        instances = await self.store.transaction(lambda uow: uow.instances.all(group))
        return sorted(i.vm_name for i in instances if i.state is InstanceState.IN_SERVICE)

    def seconds(self, at: datetime) -> float:
        return self.time.seconds(at)

    async def timeline(self, group: str | None = None, every_s: float = 600.0) -> str:
        """Time, load, size and every decision, as a table a failure can be read from."""
        name = group or next(iter(self.specs))
        decisions = [d for d in await self.decisions(name) if d.allowed or not d.trigger.startswith("evaluation")]
        rows: list[tuple[float, str]] = []
        last_size, last_mark = -1, -every_s
        for sample in (s for s in self.samples if s.group == name):
            if sample.size != last_size or sample.t - last_mark >= every_s:
                top = max(sample.cpu.values(), default=0.0)
                rows.append(
                    (
                        sample.t,
                        f"{_clock(sample.t)}  load {sample.load:7.1f}  size {sample.size:2d}  "
                        f"serving {sample.serving:2d}  max cpu {top:5.1f}%{'  (activity)' if sample.busy else ''}",
                    )
                )
                last_size, last_mark = sample.size, sample.t
        for d in decisions:
            verdict = f"{'+' if d.delta > 0 else ''}{d.delta}" if d.allowed else "blocked"
            rows.append(
                (self.seconds(d.at), f"{_clock(self.seconds(d.at))}  decision {verdict:>7}  {d.trigger}: {d.reason}")
            )
        for fault in self.faults:
            until = "" if fault.end is None or fault.end == fault.start else f" until {_clock(fault.end)}"
            rows.append((fault.start, f"{_clock(fault.start)}  FAULT {fault.kind}{until}"))
        rows.sort(key=lambda r: r[0])
        return "\n".join(text for _, text in rows)


def _clock(t: float) -> str:
    t = max(0.0, t)
    return f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}:{int(t % 60):02d}"


class _GroupMetrics:
    """``MetricsQuery`` routing each group's queries to its own Prometheus model."""

    def __init__(self, by_group: dict[str, ModelMetrics], group_of_job: dict[str, str]) -> None:
        self._by_group = by_group
        self._group_of_job = group_of_job

    def _of(self, group: ScalingGroup) -> ModelMetrics:
        return self._by_group[group.name]

    async def read(self, group: ScalingGroup, policy: Any = None) -> Any:
        return await self._of(group).read(group, policy)

    async def history(self, group: ScalingGroup, start: datetime, end: datetime, step_s: float) -> Any:
        return await self._of(group).history(group, start, end, step_s)

    async def instance_loads(self, group: ScalingGroup) -> dict[str, float]:
        return await self._of(group).instance_loads(group)

    def _of_job(self, job: str) -> ModelMetrics:
        return self._by_group[self._group_of_job[job]]

    async def job_exists(self, job: str) -> bool:
        return job in self._group_of_job and await self._of_job(job).job_exists(job)

    async def target_health(self, job: str) -> dict[str, bool]:
        return await self._of_job(job).target_health(job)

    async def target_count(self, job: str) -> int:
        return await self._of_job(job).target_count(job) if job in self._group_of_job else 0
