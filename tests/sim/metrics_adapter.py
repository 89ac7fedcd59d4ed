"""The scaler's ``MetricsQuery`` port over the Prometheus model.

It answers what ``services/scaler/adapters/prometheus.py`` would get from the real Prometheus:
the busiest instance's CPU and memory (the alert rules' expressions, ``max()``), the average
over instances for a target-tracking policy (custom PromQL is not modelled: its value is None),
range queries for ``history``, and the job's targets. Each call first advances the model to the
``SimTime``'s now (``auto_advance``), so the scaler always reads a Prometheus that is up to date;
``history`` never evaluates after now.
"""

from __future__ import annotations

import math
from datetime import datetime

from services.monitoring.domain.rules import duration
from services.scaler.adapters.prometheus import cpu_query, memory_query
from services.scaler.domain.model import MetricHistory, MetricPoint, MetricReading, ScalingGroup, TargetTrackingPolicy
from shared.errors import ServiceUnavailable

from .prometheus_model import PrometheusModel, PrometheusUnavailable

__all__ = ["ModelMetrics"]

UNREACHABLE = "Prometheus unreachable"
_MISSING = object()


class ModelMetrics:
    """``MetricsQuery`` backed by a ``PrometheusModel``; never touches a network or a wall clock."""

    def __init__(self, prometheus: PrometheusModel, *, auto_advance: bool = True) -> None:
        self.prometheus = prometheus
        self.auto_advance = auto_advance
        self.calls: list[tuple[float, str, str]] = []
        # Frozen points are shared between overlapping histories (building pydantic values is
        # most of a history's cost): by job, the model's cache version of the job and the
        # point's millisecond (a point is a function of these alone).
        self._points: dict[str, tuple[int, dict[int, MetricPoint | None]]] = {}

    def _now(self, method: str, job: str) -> float:
        now = self.prometheus.time.now()
        if self.auto_advance and now > self.prometheus.now:
            self.prometheus.advance_to(now)
        self.calls.append((now, method, job))
        return min(now, self.prometheus.now)

    def _queries(self, job: str) -> dict[str, str]:
        window = duration(round(self.prometheus.rate_window_s))
        return {"cpu": cpu_query(job, window), "memory": memory_query(job)}

    async def read(self, group: ScalingGroup, policy: TargetTrackingPolicy | None = None) -> MetricReading:
        """Busiest-instance CPU and memory now, and the policy's average; never raises."""
        job = group.prometheus_job
        now = self._now("read", job)
        queries = self._queries(job)
        if policy is not None:
            window = duration(round(self.prometheus.rate_window_s))
            if policy.metric == "custom" and policy.query:
                queries["value"] = policy.query
            elif policy.metric == "memory":
                queries["value"] = memory_query(job, "avg")
            else:
                queries["value"] = cpu_query(job, window, "avg")
        try:
            cpu, memory = self.prometheus.instant(job, now)
            avg_cpu, avg_memory = self.prometheus.average(job, now)
        except PrometheusUnavailable:
            return MetricReading(available=False, queries=queries, error=UNREACHABLE)
        value = None
        if policy is not None and policy.metric != "custom":
            value = avg_memory if policy.metric == "memory" else avg_cpu
        return MetricReading(available=True, cpu=cpu, memory=memory, value=value, queries=queries)

    async def history(self, group: ScalingGroup, start: datetime, end: datetime, step_s: float) -> MetricHistory:
        """The busiest instance's CPU and memory every ``step_s`` from ``start`` to ``min(end,
        now)``, oldest first; times with no data on either side have no point; never raises."""
        job = group.prometheus_job
        now = self._now("history", job)
        prometheus = self.prometheus
        window = prometheus.rate_window_s
        queries = self._queries(job)
        if prometheus.down:
            return MetricHistory(
                available=False, step_s=step_s, rate_window_s=window, queries=queries, error=UNREACHABLE
            )
        if step_s <= 0:
            raise ValueError("step must be positive")
        first = prometheus.time.seconds(start)
        last = min(prometheus.time.seconds(end), now)
        steps = math.floor((last - first) / step_s + 1e-9) + 1 if first <= last else 0
        cache = self._cache(job, prometheus.cache_version(job), round(first * 1000))
        known = cache.get
        points = []
        for k in range(steps):
            t = first + k * step_s
            ms = round(t * 1000)
            point = known(ms, _MISSING)
            if point is _MISSING:
                point = cache[ms] = self._new_point(job, t)
            if point is not None:
                points.append(point)
        return MetricHistory(available=True, points=tuple(points), step_s=step_s, rate_window_s=window, queries=queries)

    def _cache(self, job: str, version: int, oldest_ms: int) -> dict[int, MetricPoint | None]:
        """The job's points of this cache version; points older than ``oldest_ms`` are dropped
        now and then (a later history rarely asks for them again; if it does, they are rebuilt)."""
        held = self._points.get(job)
        if held is None or held[0] != version:
            held = self._points[job] = (version, {})
        cache = held[1]
        if len(cache) > 2_000:
            for ms in [ms for ms in cache if ms < oldest_ms]:
                del cache[ms]
        return cache

    def _new_point(self, job: str, t: float) -> MetricPoint | None:
        cpu, mem = self.prometheus.instant(job, t)
        if cpu is None and mem is None:
            return None
        return MetricPoint(at=self.prometheus.time.at(t), cpu=cpu, memory=mem)

    async def instance_loads(self, group: ScalingGroup) -> dict[str, float]:
        """Each instance's CPU now, by address (the model's instance label); {} while down."""
        job = group.prometheus_job
        now = self._now("loads", job)
        if self.prometheus.down:
            return {}
        return {i: p.cpu for i, p in self.prometheus.per_instance(job, now).items() if p.cpu is not None}

    async def job_exists(self, job: str) -> bool:
        """True when the job has active targets. Raises ``ServiceUnavailable`` while down."""
        return await self.target_count(job) > 0

    async def target_health(self, job: str) -> dict[str, bool]:
        """Each scraped target's last scrape, by address. Raises ``ServiceUnavailable`` while down."""
        self._now("health", job)
        if self.prometheus.down:
            raise ServiceUnavailable(UNREACHABLE)
        return {t.instance: t.health == "up" for t in self.prometheus.targets(job) if t.health in ("up", "down")}

    async def target_count(self, job: str) -> int:
        """Active targets of the job (any health). Raises ``ServiceUnavailable`` while down."""
        self._now("targets", job)
        if self.prometheus.down:
            raise ServiceUnavailable(UNREACHABLE)
        return len(self.prometheus.targets(job))
