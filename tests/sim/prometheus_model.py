"""A Prometheus that scrapes the simulated VMs, answers the alert rules' queries and evaluates them.

What the scaler can notice is modelled after Prometheus 2.42 (the lab's), 3.x on request:

* **Scraping.** Each registered target is scraped every ``scrape_interval_s`` at its own fixed
  offset (slots ``offset + k * interval``); the sample's timestamp is the slot. A target whose VM
  does not answer gets ``up == 0`` and no samples — and, as Prometheus treats a failed scrape as an
  empty one, staleness markers for the series of its last good scrape.
* **Service discovery.** ``register`` / ``deregister`` take effect after ``sd_delay_s``. A removed
  target's scrape loop writes staleness markers timestamped at the slot it would have scraped
  next, 1.1 intervals after that slot (Prometheus' ``endOfRunStaleness``; dropped when a newer
  sample exists).
* **Queries.** Per instance, CPU = ``100 - rate(idle[w]) * 100`` (``promql.extrapolated_rate``;
  range vectors ignore staleness markers, so a dead target's rate lives on for up to ``w``) and
  memory = ``(1 - MemAvailable / MemTotal) * 100`` from the newest sample within the 5 min
  lookback, unless a staleness marker is newer. ``max()`` (and ``avg()``) over instances.
* **Rules** (``rules_model``) are evaluated every ``evaluation_interval_s``; alerts to send go to
  the ``alertmanager`` sink (anything with ``receive(alerts, at)``).
* **Down** (``set_down``): no scrapes, no evaluations, queries raise ``PrometheusUnavailable``;
  alert state is lost and, on restart, restored from ``ALERTS_FOR_STATE`` as Prometheus does.

Events at the same millisecond run in the order: SD change, scrape, staleness write, evaluation;
the driver's own actions at ``t`` happen after the model's events at ``t``.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from .promql import SeriesPoint, TargetSeries
from .rules_model import Rule, RuleSpec, SentAlert
from .simtime import Instant, SimTime
from .world_model import ExporterSample

__all__ = ["AlertSink", "ExporterSource", "PrometheusModel", "PrometheusUnavailable", "Target"]

_SD, _SCRAPE, _STALE, _EVAL = 0, 1, 2, 3

Row = tuple[float, float | None, float | None]
"""One step of a range query: ``(t, max cpu, max memory)``."""


class PrometheusUnavailable(ConnectionError):
    """A query asked while the modelled Prometheus is down."""


class ExporterSource(Protocol):
    """What is scraped: the ``World``, or a scripted stand-in."""

    def run_until(self, t: float) -> object:
        """Bring the exporters' counters up to ``t`` seconds (never backwards)."""
        ...

    def scrape(self, name: str) -> ExporterSample | None:
        """The exporter of VM ``name`` now, or None when it does not answer."""
        ...


class AlertSink(Protocol):
    """Where alerts go (the Alertmanager model)."""

    def receive(self, alerts: list[SentAlert], at: float) -> None:
        """Take the alerts Prometheus posts at ``at`` (seconds)."""
        ...


@dataclass
class Target:
    """A scrape target: a VM's exporter in a job."""

    job: str
    vm_name: str
    instance: str
    offset_s: float
    active: bool = False
    health: str = "unknown"
    last_scrape: float | None = None
    generation: int = 0
    previous_ok: bool = False


@dataclass(frozen=True)
class _Sd:
    job: str
    vm_name: str
    instance: str | None
    offset_s: float


class _Event(NamedTuple):  # ordered by time, kind, push order (unique: payloads never compared)
    at: int
    kind: int
    seq: int
    payload: object


class PrometheusModel:
    """Scrapes, stores, queries and evaluates, in simulated time."""

    def __init__(
        self,
        time: SimTime,
        source: ExporterSource,
        *,
        scrape_interval_s: float = 15.0,
        evaluation_interval_s: float = 15.0,
        evaluation_offset_s: float = 0.0,
        rate_window_s: float = 300.0,
        lookback_s: float = 300.0,
        max_range_s: float = 3600.0,
        sd_delay_s: float = 0.0,
        resend_delay_s: float = 60.0,
        resolved_retention_s: float = 900.0,
        for_grace_period_s: float = 600.0,
        for_outage_tolerance_s: float = 3600.0,
        prometheus_3: bool = False,
        alertmanager: AlertSink | None = None,
    ) -> None:
        self.time, self.source, self.alertmanager = time, source, alertmanager
        self.scrape_interval_s, self.evaluation_interval_s = scrape_interval_s, evaluation_interval_s
        self.evaluation_offset_s, self.sd_delay_s = evaluation_offset_s, sd_delay_s
        self.rate_window_s, self.lookback_s = rate_window_s, lookback_s
        self.resend_delay_s, self.resolved_retention_s = resend_delay_s, resolved_retention_s
        self.for_grace_period_s, self.for_outage_tolerance_s = for_grace_period_s, for_outage_tolerance_s
        self.left_open = self.zero_limit_after = prometheus_3
        self.retention_s = rate_window_s + lookback_s + max_range_s
        self.now = time.now()
        self.down = False
        self.rules: dict[str, list[Rule]] = {}
        self.sent: list[SentAlert] = []
        self._targets: dict[tuple[str, str], Target] = {}
        self._series: dict[str, dict[str, TargetSeries]] = {}
        self._cache: dict[tuple[str, int], tuple[float | None, float | None, float | None, float | None]] = {}
        self._versions: dict[str, int] = {}
        self._events: list[_Event] = []
        self._seq = 0
        self._restore_countdown = 0
        self._next_trim = self.now + max(60.0, self.retention_s / 4)
        self._push(self._next_slot(self.now, self.evaluation_offset_s, evaluation_interval_s), _EVAL, None)
        follow = getattr(source, "follow", None)
        if follow is not None:
            follow(self)

    # -- configuration ---------------------------------------------------------------------

    def register(
        self, job: str, vm_name: str, address: str, *, offset_s: float = 0.0, at: Instant | None = None
    ) -> None:
        """Add ``vm_name``'s exporter to ``job`` (instance label = ``address``) after ``sd_delay_s``."""
        t = self._at(at)
        self._push(t + self.sd_delay_s, _SD, _Sd(job, vm_name, address, offset_s))
        self.advance_to(t)

    def deregister(self, job: str, vm_name: str, at: Instant | None = None) -> None:
        """Remove the target from ``job`` after ``sd_delay_s``; its series go stale."""
        t = self._at(at)
        self._push(t + self.sd_delay_s, _SD, _Sd(job, vm_name, None, 0.0))
        self.advance_to(t)

    def add_rules(self, spec: RuleSpec) -> None:
        """Load the service's two alert rules (replacing earlier ones, their state dropped)."""
        high, low = Rule(spec, spec.high_alert, spec.out_for_s), Rule(spec, spec.low_alert, spec.in_for_s)
        self.rules[spec.service] = [high, low]

    def remove_rules(self, service: str) -> None:
        """Unload the service's rules (their alerts are no longer sent)."""
        self.rules.pop(service, None)

    def set_down(self, down: bool, at: Instant | None = None) -> None:
        """Stop (True) or restart (False) Prometheus at ``at``."""
        t = self._at(at)
        self.advance_to(t)
        if down == self.down:
            return
        self.down = down
        if down:
            self._events = [e for e in self._events if e.kind == _SD]
            heapq.heapify(self._events)
            for rules in self.rules.values():
                for rule in rules:
                    if not self._restore_countdown:
                        rule.for_state_before_restart = rule.for_state
                    rule.alert = None
            return
        for target in self._targets.values():
            if target.active:
                target.previous_ok = False
                self._schedule_scrape(target, t)
        self._push(self._next_slot(t, self.evaluation_offset_s, self.evaluation_interval_s), _EVAL, None)
        self._restore_countdown = 2

    # -- reading ---------------------------------------------------------------------------

    def targets(self, job: str) -> list[Target]:
        """The job's active targets (any health), by VM name."""
        return sorted((t for t in self._targets.values() if t.job == job and t.active), key=lambda t: t.vm_name)

    def instant(self, job: str, at: Instant | None = None) -> tuple[float | None, float | None]:
        """``max()`` of the CPU and memory expressions over the job's instances at ``at``."""
        cpu, mem, _, _ = self._evaluate(job, self._query_time(at))
        return cpu, mem

    def average(self, job: str, at: Instant | None = None) -> tuple[float | None, float | None]:
        """``avg()`` of the CPU and memory expressions over the job's instances at ``at``."""
        _, _, cpu, mem = self._evaluate(job, self._query_time(at))
        return cpu, mem

    def per_instance(self, job: str, at: Instant | None = None) -> dict[str, SeriesPoint]:
        """Each instance's CPU and memory at ``at`` (instances with neither are left out)."""
        t = round(self._query_time(at) * 1000)
        out = {}
        for instance, series in sorted(self._series.get(job, {}).items()):
            point = self._point(series, t)
            if point.cpu is not None or point.memory is not None:
                out[instance] = point
        return out

    def range(self, job: str, start: Instant, end: Instant, step_s: float) -> list[Row]:
        """A range query: ``(t, max cpu, max memory)`` at ``start + k * step_s`` up to ``end``."""
        first, last = self.time.seconds(start), self._query_time(end)
        if step_s <= 0:
            raise ValueError("step must be positive")
        out = []
        for k in range(math.floor((last - first) / step_s + 1e-9) + 1):
            t = first + k * step_s
            cpu, mem, _, _ = self._evaluate(job, t)
            out.append((t, cpu, mem))
        return out

    def rule(self, service: str, alertname: str) -> Rule | None:
        """The service's rule of that name (its ``alert`` and ``changes``), or None."""
        return next((r for r in self.rules.get(service, []) if r.name == alertname), None)

    def up(self, job: str, vm_name: str) -> bool | None:
        """The target's health at its last scrape (None: not a target or never scraped)."""
        target = self._targets.get((job, vm_name))
        if target is None or target.health == "unknown":
            return None
        return target.health == "up"

    # -- time ------------------------------------------------------------------------------

    def advance_to(self, at: Instant | None = None) -> list[SentAlert]:
        """Run every scrape, staleness write and evaluation due up to ``at``; returns the
        alerts sent to Alertmanager meanwhile."""
        t = self.time.resolve(at)
        if t < self.now:
            raise ValueError(f"Prometheus is at {self.now:g}s; cannot go back to {t:g}s")
        limit = round(t * 1000)
        sent: list[SentAlert] = []
        while self._events and self._events[0].at <= limit:
            event = heapq.heappop(self._events)
            when = event.at / 1000
            self.now = max(self.now, when)
            if event.kind == _SD:
                self._apply_sd(event.payload, when)  # type: ignore[arg-type]
            elif event.kind == _SCRAPE:
                self._scrape(event.payload, when)  # type: ignore[arg-type]
            elif event.kind == _STALE:
                self._write_stale(event.payload, event.at)  # type: ignore[arg-type]
            else:
                sent.extend(self._run_rules(when))
        self.now = t
        if t >= self._next_trim:
            self._trim(t)
        return sent

    def _at(self, at: Instant | None) -> float:
        t = self.time.resolve(at)
        self.advance_to(t)
        return t

    def _query_time(self, at: Instant | None) -> float:
        if self.down:
            raise PrometheusUnavailable("Prometheus unreachable")
        t = self.now if at is None else self.time.seconds(at)
        if t > self.now + 1e-9:
            raise ValueError(f"query at {t:g}s is after the model's time {self.now:g}s; advance it first")
        return t

    def _push(self, at: float, kind: int, payload: object) -> None:
        self._seq += 1
        heapq.heappush(self._events, _Event(round(at * 1000), kind, self._seq, payload))

    @staticmethod
    def _next_slot(at: float, offset: float, interval: float) -> float:
        k = math.ceil((at - offset) / interval - 1e-9)
        return offset + k * interval

    def _schedule_scrape(self, target: Target, after: float) -> None:
        slot = self._next_slot(after, target.offset_s, self.scrape_interval_s)
        self._push(slot, _SCRAPE, (target, target.generation))

    # -- events ----------------------------------------------------------------------------

    def _apply_sd(self, change: _Sd, at: float) -> None:
        key = (change.job, change.vm_name)
        target = self._targets.get(key)
        if change.instance is None:
            if target is not None and target.active:
                target.active = False
                target.generation += 1
                if target.previous_ok and not self.down:
                    stale_at = self._next_slot(at, target.offset_s, self.scrape_interval_s)
                    if target.last_scrape is not None and stale_at <= target.last_scrape + 1e-9:
                        stale_at += self.scrape_interval_s
                    self._push(stale_at + 1.1 * self.scrape_interval_s, _STALE, (target, round(stale_at * 1000)))
            return
        if target is not None and target.active and target.instance == change.instance:
            return
        if target is not None and target.active:
            self._apply_sd(_Sd(change.job, change.vm_name, None, 0.0), at)
        target = Target(change.job, change.vm_name, change.instance, change.offset_s, active=True)
        target.generation = self._targets[key].generation + 1 if key in self._targets else 0
        self._targets[key] = target
        self._series.setdefault(change.job, {}).setdefault(change.instance, TargetSeries())
        if not self.down:
            self._schedule_scrape(target, at)

    def _scrape(self, payload: tuple[Target, int], at: float) -> None:
        target, generation = payload
        if not target.active or target.generation != generation:
            return
        self.source.run_until(at)
        sample = self.source.scrape(target.vm_name)
        t = round(at * 1000)
        series = self._series[target.job].setdefault(target.instance, TargetSeries())
        target.last_scrape = at
        if sample is None:
            target.health = "down"
            if target.previous_ok and series.mark_stale(t):
                self._invalidate(target.job)
            target.previous_ok = False
        else:
            target.health = "up"
            target.previous_ok = True
            series.append(t, sample.idle_seconds, sample.mem_available_bytes, sample.mem_total_bytes)
        self._push(at + self.scrape_interval_s, _SCRAPE, payload)

    def _write_stale(self, payload: tuple[Target, int], _written_at: int) -> None:
        target, stale_ms = payload
        series = self._series.get(target.job, {}).get(target.instance)
        if series is not None and series.mark_stale(stale_ms):
            self._invalidate(target.job)

    def _run_rules(self, at: float) -> list[SentAlert]:
        sent: list[SentAlert] = []
        for rules in self.rules.values():
            for rule in rules:
                cpu, mem, _, _ = self._evaluate(rule.spec.job, at)
                spec = rule.spec
                holds = spec.high_holds(cpu, mem) if rule.name == spec.high_alert else spec.low_holds(cpu, mem)
                rule.evaluate(holds, at, self.resolved_retention_s)
                alert = rule.to_send(at, self.resend_delay_s, self.evaluation_interval_s)
                if alert is not None:
                    sent.append(alert)
        if self._restore_countdown:
            # Prometheus restores the ``for`` state after the second evaluation following a start.
            self._restore_countdown -= 1
            if not self._restore_countdown:
                for rules in self.rules.values():
                    for rule in rules:
                        rule.restore(at, self.for_grace_period_s, self.for_outage_tolerance_s)
        self._push(at + self.evaluation_interval_s, _EVAL, None)
        if sent:
            self.sent.extend(sent)
            if self.alertmanager is not None:
                self.alertmanager.receive(sent, at)
        return sent

    # -- evaluation ------------------------------------------------------------------------

    def _point(self, series: TargetSeries, t: int) -> SeriesPoint:
        window, lookback = round(self.rate_window_s * 1000), round(self.lookback_s * 1000)
        cpu = series.cpu(t, window, left_open=self.left_open, zero_limit_first=not self.zero_limit_after)
        return SeriesPoint(cpu, series.memory(t, lookback, left_open=self.left_open))

    def _evaluate(self, job: str, at: float) -> tuple[float | None, float | None, float | None, float | None]:
        t = round(at * 1000)
        key = (job, t)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        cpus, mems = [], []
        for series in self._series.get(job, {}).values():
            point = self._point(series, t)
            if point.cpu is not None:
                cpus.append(point.cpu)
            if point.memory is not None:
                mems.append(point.memory)
        result = (
            max(cpus) if cpus else None,
            max(mems) if mems else None,
            sum(cpus) / len(cpus) if cpus else None,
            sum(mems) / len(mems) if mems else None,
        )
        self._cache[key] = result
        return result

    def cache_version(self, job: str) -> int:
        """Grows whenever a retroactive write (a staleness marker) changes past answers for ``job``:
        a caller may keep results keyed by it."""
        return self._versions.get(job, 0)

    def _invalidate(self, job: str) -> None:
        self._versions[job] = self._versions.get(job, 0) + 1
        self._cache = {k: v for k, v in self._cache.items() if k[0] != job}

    def _trim(self, now: float) -> None:
        horizon = round((now - self.retention_s) * 1000)
        for job, by_instance in self._series.items():
            for instance, series in list(by_instance.items()):
                series.trim(horizon)
                if not series.times and not any(
                    t.active and t.job == job and t.instance == instance for t in self._targets.values()
                ):
                    del by_instance[instance]
        self._cache = {k: v for k, v in self._cache.items() if k[1] >= horizon}
        self._next_trim = now + max(60.0, self.retention_s / 4)
