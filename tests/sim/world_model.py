"""The VMs and the load they share: what Prometheus scrapes and vCenter would report.

A ``World`` holds the group's VMs and a load curve. Demand is shared equally among the VMs that
are RUNNING and in service (the driver says which VMs take traffic: those in the pool); each one's
CPU is ``min(100, demand / n_serving)`` (plus an optional per-VM hog), a running VM outside the
pool idles at ``idle_cpu``. Memory is ``min(100, memory_base + memory_per_cpu * cpu)``.

The exporter of each VM counts ``node_cpu_seconds_total{mode="idle"}`` per core (all cores are
equally busy, so one series stands for every core: ``avg by (instance)`` of identical rates is
that rate). The counter is integrated with the midpoint rule in steps of at most ``max_step_s``,
split at every state change, and restarts from 0 when the VM boots (a counter reset).

Faults are state only (delete, power off, a dead exporter, ``capacity_exhausted``); the driver
turns them into the scaler's replies. Nothing here reads a clock: every change happens at the
simulated time given (or the ``SimTime``'s now), after the world — and first its followers, the
Prometheus model, so its scrapes until then see the world as it was — has been advanced to it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from .load import LoadCurve
from .simtime import Instant, SimTime

__all__ = ["CapacityExhausted", "ExporterSample", "SimVm", "Transition", "VmState", "World"]

GIB = 1024**3


class _Follower(Protocol):
    def advance_to(self, at: Instant | None = None) -> object: ...


class VmState(StrEnum):
    """Life of a simulated VM."""

    CLONING = "cloning"
    POWERED_OFF = "powered_off"
    BOOTING = "booting"
    RUNNING = "running"
    DELETED = "deleted"


class CapacityExhausted(RuntimeError):
    """A clone asked for while the world's ``capacity_exhausted`` flag is set."""


@dataclass(frozen=True)
class Transition:
    """A VM changed state at ``at`` (seconds)."""

    at: float
    vm: str
    old: VmState | None
    new: VmState


@dataclass(frozen=True)
class ExporterSample:
    """What the VM's node exporter answers at one scrape."""

    idle_seconds: float
    mem_available_bytes: float
    mem_total_bytes: float


@dataclass
class SimVm:
    """One VM: its state, when each state began, and its exporter's counters."""

    name: str
    address: str
    state: VmState
    since: dict[VmState, float] = field(default_factory=dict)
    in_service: bool = False
    exporter_up: bool = True
    hog: float = 0.0
    idle_seconds: float = 0.0
    cores: int = 1
    generation: int = 0

    @property
    def answering(self) -> bool:
        """True when a scrape of its exporter succeeds."""
        return self.state is VmState.RUNNING and self.exporter_up


class World:
    """The VMs of one (or more) groups sharing one load curve."""

    def __init__(
        self,
        time: SimTime,
        load: LoadCurve,
        *,
        clone_s: float = 60.0,
        boot_s: float = 30.0,
        cores: int = 1,
        mem_total_bytes: float = 8 * GIB,
        memory_base: float = 30.0,
        memory_per_cpu: float = 0.0,
        idle_cpu: float = 0.0,
        boot_cpu: float = 0.0,
        initial_idle_s: float = 1_000_000.0,
        max_step_s: float = 5.0,
    ) -> None:
        self.time = time
        self.load = load
        self.clone_s, self.boot_s, self.cores = clone_s, boot_s, cores
        self.mem_total_bytes = mem_total_bytes
        self.memory_base, self.memory_per_cpu = memory_base, memory_per_cpu
        self.idle_cpu, self.boot_cpu = idle_cpu, boot_cpu
        self.initial_idle_s = initial_idle_s
        self.max_step_s = max_step_s
        self.capacity_exhausted = False
        self.vms: dict[str, SimVm] = {}
        self.now = time.now()
        self.log: list[Transition] = []
        self._untaken: list[Transition] = []
        self._scheduled: list[tuple[float, int, str, int, VmState]] = []
        self._seq = 0
        self._followers: list[_Follower] = []

    # -- the driver's actions -------------------------------------------------------------

    def add_vm(self, name: str, address: str, *, in_service: bool = True, at: Instant | None = None) -> SimVm:
        """A VM already running (a base VM), its idle counter at ``initial_idle_s``."""
        t = self._to(at)
        vm = SimVm(name, address, VmState.RUNNING, in_service=in_service, cores=self.cores)
        vm.idle_seconds = self.initial_idle_s
        self.vms[name] = vm
        self._enter(vm, VmState.RUNNING, t, old=None)
        return vm

    def clone(self, name: str, address: str, *, power_on: bool = False, at: Instant | None = None) -> SimVm:
        """Start cloning; after ``clone_s`` the VM is POWERED_OFF (or BOOTING with ``power_on``).

        Raises ``CapacityExhausted`` while ``capacity_exhausted`` is set (nothing is created).
        """
        t = self._to(at)
        if self.capacity_exhausted:
            raise CapacityExhausted(f"no capacity to clone {name}")
        vm = SimVm(name, address, VmState.CLONING, cores=self.cores)
        self.vms[name] = vm
        self._enter(vm, VmState.CLONING, t, old=None)
        self._schedule(vm, t + self.clone_s, VmState.BOOTING if power_on else VmState.POWERED_OFF)
        return vm

    def power_on(self, name: str, at: Instant | None = None) -> None:
        """Boot a powered-off VM: BOOTING now, RUNNING after ``boot_s``; its counters restart."""
        t = self._to(at)
        vm = self._alive(name)
        if vm.state is VmState.POWERED_OFF:
            self._change(vm, VmState.BOOTING, t)

    def power_off(self, name: str, at: Instant | None = None) -> None:
        """Power the VM off at once (it leaves service; its exporter stops answering)."""
        t = self._to(at)
        vm = self._alive(name)
        if vm.state is not VmState.POWERED_OFF:
            vm.in_service = False
            self._change(vm, VmState.POWERED_OFF, t)

    def delete(self, name: str, at: Instant | None = None) -> None:
        """The VM vanishes (deleted in vCenter, by vmscale or behind its back)."""
        t = self._to(at)
        vm = self.vms.get(name)
        if vm is not None and vm.state is not VmState.DELETED:
            vm.in_service = False
            self._change(vm, VmState.DELETED, t)

    def set_in_service(self, name: str, in_service: bool, at: Instant | None = None) -> None:
        """Whether the VM takes a share of the load (the driver mirrors the pool)."""
        self._to(at)
        self._alive(name).in_service = in_service

    def set_exporter(self, name: str, up: bool, at: Instant | None = None) -> None:
        """Stop (or restart) the VM's exporter: the target stays in SD but scrapes fail."""
        self._to(at)
        self._alive(name).exporter_up = up

    def set_hog(self, name: str, percent: float, at: Instant | None = None) -> None:
        """Extra CPU on one VM (a runaway process), on top of its share."""
        self._to(at)
        self._alive(name).hog = percent

    # -- reading --------------------------------------------------------------------------

    def serving(self) -> list[SimVm]:
        """The VMs that take a share of the load now."""
        return [vm for vm in self.vms.values() if vm.state is VmState.RUNNING and vm.in_service]

    def cpu(self, name: str, at: Instant | None = None) -> float | None:
        """The VM's CPU % at ``at`` (after advancing there), None when it is not powered on."""
        t = self._to(at)
        vm = self.vms.get(name)
        if vm is None:
            return None
        return self._cpu_of(vm, self.load(t), len(self.serving()))

    def memory(self, name: str, at: Instant | None = None) -> float | None:
        """The VM's memory % at ``at``, None when it is not powered on."""
        cpu = self.cpu(name, at)
        return None if cpu is None else self._memory_at(cpu)

    def usage(self, names: Iterable[str], at: Instant | None = None) -> dict[str, tuple[float | None, float | None]]:
        """``(cpu(name, at), memory(name, at))`` of each VM named, the world advanced once for all."""
        t = self._to(at)
        demand, n = self.load(t), len(self.serving())
        out: dict[str, tuple[float | None, float | None]] = {}
        for name in names:
            vm = self.vms.get(name)
            cpu = None if vm is None else self._cpu_of(vm, demand, n)
            out[name] = (cpu, None if cpu is None else self._memory_at(cpu))
        return out

    def scrape(self, name: str) -> ExporterSample | None:
        """The exporter's answer at ``self.now``, or None when it does not answer."""
        vm = self.vms.get(name)
        if vm is None or not vm.answering:
            return None
        cpu = self._cpu_of(vm, self.load(self.now), len(self.serving())) or 0.0
        mem = self._memory_at(cpu)
        total = self.mem_total_bytes
        return ExporterSample(vm.idle_seconds, total * (1 - mem / 100), total)

    def take_transitions(self) -> list[Transition]:
        """State changes since the last call, in order (whoever advanced the world)."""
        taken, self._untaken = self._untaken, []
        return taken

    # -- time -----------------------------------------------------------------------------

    def follow(self, model: _Follower) -> None:
        """Have ``model`` (the Prometheus model) advanced to ``t`` before the world moves to
        ``t``, so that its scrapes before ``t`` see the world as it was then."""
        self._followers.append(model)

    def advance_to(self, at: Instant | None = None) -> list[Transition]:
        """Bring the followers, then the world, to ``at``; returns the state changes applied."""
        t = self.time.resolve(at)
        for follower in self._followers:
            follower.advance_to(t)
        return self.run_until(t)

    def run_until(self, t: float) -> list[Transition]:
        """Integrate the counters up to ``t`` seconds and apply due state changes (followers are
        not advanced: this is what a follower calls at each of its scrapes)."""
        if t < self.now:
            raise ValueError(f"the world is at {self.now:g}s; cannot go back to {t:g}s")
        done: list[Transition] = []
        while self._scheduled and self._scheduled[0][0] <= t:
            when, _, name, generation, state = heapq.heappop(self._scheduled)
            vm = self.vms.get(name)
            if vm is None or vm.generation != generation:
                continue
            self._integrate(when)
            done.append(self._change(vm, state, when))
        self._integrate(t)
        return done

    def _to(self, at: Instant | None) -> float:
        t = self.time.resolve(at)
        self.advance_to(t)
        return t

    def _integrate(self, t: float) -> None:
        start = self.now
        if t <= start:
            return
        active: list[SimVm] = []
        n = 0  # len(self.serving()), counted in the same pass
        for vm in self.vms.values():
            if vm.state is VmState.RUNNING:
                active.append(vm)
                if vm.in_service:
                    n += 1
            elif vm.state is VmState.BOOTING:
                active.append(vm)
        if active:
            steps = max(1, int((t - start) / self.max_step_s + 0.999999))
            dt = (t - start) / steps
            cpu_of = self._cpu_of
            for k in range(steps):
                demand = self.load(start + (k + 0.5) * dt)
                for vm in active:
                    cpu = cpu_of(vm, demand, n) or 0.0
                    vm.idle_seconds += dt * (1.0 - cpu / 100.0)
        self.now = t

    def _cpu_of(self, vm: SimVm, demand: float, n_serving: int) -> float | None:
        if vm.state is VmState.BOOTING:
            return self.boot_cpu
        if vm.state is not VmState.RUNNING:
            return None
        base = demand / n_serving if vm.in_service and n_serving else self.idle_cpu
        return min(100.0, base + vm.hog)

    def _memory_at(self, cpu: float) -> float:
        return min(100.0, self.memory_base + self.memory_per_cpu * cpu)

    def _alive(self, name: str) -> SimVm:
        vm = self.vms.get(name)
        if vm is None or vm.state is VmState.DELETED:
            raise KeyError(f"no VM {name!r} in the world")
        return vm

    def _schedule(self, vm: SimVm, at: float, state: VmState) -> None:
        self._seq += 1
        heapq.heappush(self._scheduled, (at, self._seq, vm.name, vm.generation, state))

    def _enter(self, vm: SimVm, state: VmState, t: float, old: VmState | None) -> Transition:
        vm.state = state
        vm.since[state] = t
        transition = Transition(t, vm.name, old, state)
        self.log.append(transition)
        self._untaken.append(transition)
        return transition

    def _change(self, vm: SimVm, state: VmState, t: float) -> Transition:
        vm.generation += 1
        transition = self._enter(vm, state, t, old=vm.state)
        if state is VmState.BOOTING:
            vm.idle_seconds = 0.0
            self._schedule(vm, t + self.boot_s, VmState.RUNNING)
        return transition
