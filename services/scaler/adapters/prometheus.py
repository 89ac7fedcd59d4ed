"""``MetricsQuery`` over Prometheus' HTTP API with an injected ``httpx.AsyncClient``.

CPU and memory are the original's alert expressions (docs/original-system.md §7.1): the busiest
instance's utilisation, so a re-read confirms (or not) what the alert said. Target tracking uses
the average over instances (as Kubernetes' HPA does), or the policy's own PromQL.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx

from services.scaler.domain.model import MetricHistory, MetricPoint, MetricReading, ScalingGroup, TargetTrackingPolicy
from shared.errors import InvalidInput, OperationTimeout, ServiceUnavailable

__all__ = ["PrometheusMetrics", "cpu_query", "memory_query", "seconds_of"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds_of(duration: str) -> float:
    """A Prometheus duration such as ``10s``, ``5m`` or ``1h`` in seconds."""
    return float(duration[:-1]) * _UNITS[duration[-1]]


def _cpu_per_instance(job: str, window: str) -> str:
    return f'100 - (avg by (instance) (rate(node_cpu_seconds_total{{mode="idle",job="{job}"}}[{window}])) * 100)'


def _memory_per_instance(job: str) -> str:
    return (
        f'(1 - (avg by (instance) (node_memory_MemAvailable_bytes{{job="{job}"}})'
        f' / avg by (instance) (node_memory_MemTotal_bytes{{job="{job}"}}))) * 100'
    )


def cpu_query(job: str, window: str = "5m", aggregate: str = "max") -> str:
    """The CPU utilisation of the busiest (``max``) or average (``avg``) instance of ``job``."""
    return f"{aggregate}({_cpu_per_instance(job, window)})"


def memory_query(job: str, aggregate: str = "max") -> str:
    """The memory utilisation of the busiest (``max``) or average (``avg``) instance of ``job``."""
    return f"{aggregate}({_memory_per_instance(job)})"


class PrometheusMetrics:
    """Reads group metrics from Prometheus."""

    def __init__(
        self, client: httpx.AsyncClient, base_url: str, rate_window: str = "5m", timeout_s: float = 5.0
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._window = rate_window
        self._timeout = timeout_s

    async def _get(self, path: str, params: dict[str, str]) -> Any:
        try:
            response = await self._client.get(f"{self._base}{path}", params=params, timeout=self._timeout)
        except httpx.TimeoutException as exc:
            raise OperationTimeout("Prometheus timed out", path=path) from exc
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"Prometheus unreachable: {type(exc).__name__}", path=path) from exc
        if response.status_code in (400, 422):
            raise InvalidInput(f"Prometheus rejected the query: {response.text[:200]}", path=path)
        if response.status_code >= 500:
            raise ServiceUnavailable(f"Prometheus answered {response.status_code}", path=path)
        try:
            body = response.json()
        except ValueError as exc:
            raise ServiceUnavailable("Prometheus answered something that is not JSON", path=path) from exc
        if body.get("status") != "success":
            raise ServiceUnavailable(f"Prometheus error: {body.get('error', 'unknown')}", path=path)
        return body["data"]

    async def scalar(self, query: str) -> float | None:
        """The single value of an instant query, or None when it has no result."""
        data = await self._get("/api/v1/query", {"query": query})
        result = data.get("result") or []
        if data.get("resultType") == "scalar":
            return float(result[1])
        if not result:
            return None
        value = float(result[0]["value"][1])
        return None if value != value else value  # NaN means "no data"

    async def read(self, group: ScalingGroup, policy: TargetTrackingPolicy | None = None) -> MetricReading:
        """Busiest-instance CPU and memory, and the policy's value; never raises."""
        job = group.prometheus_job
        queries = {"cpu": cpu_query(job, self._window), "memory": memory_query(job)}
        if policy is not None:
            if policy.metric == "custom" and policy.query:
                queries["value"] = policy.query
            elif policy.metric == "memory":
                queries["value"] = memory_query(job, "avg")
            else:
                queries["value"] = cpu_query(job, self._window, "avg")
        try:
            values = await asyncio.gather(*(self.scalar(q) for q in queries.values()))
        except (ServiceUnavailable, OperationTimeout, InvalidInput) as exc:
            return MetricReading(available=False, queries=queries, error=str(exc))
        found = dict(zip(queries, values, strict=True))
        return MetricReading(
            available=True, cpu=found["cpu"], memory=found["memory"], value=found.get("value"), queries=queries
        )

    async def _series(self, query: str, start: datetime, end: datetime, step_s: float) -> dict[float, float]:
        """One range query's single series as ``{unix time: value}`` (NaN left out)."""
        params = {"query": query, "start": f"{start.timestamp():.3f}", "end": f"{end.timestamp():.3f}"}
        params["step"] = f"{step_s:g}"
        data = await self._get("/api/v1/query_range", params)
        result = data.get("result") or []
        if not result:
            return {}
        return {float(t): float(v) for t, v in result[0].get("values", []) if float(v) == float(v)}

    async def history(self, group: ScalingGroup, start: datetime, end: datetime, step_s: float) -> MetricHistory:
        """The alert rules' expressions over ``[start, end]`` every ``step_s``; never raises."""
        job = group.prometheus_job
        queries = {"cpu": cpu_query(job, self._window), "memory": memory_query(job)}
        try:
            cpu, memory = await asyncio.gather(*(self._series(q, start, end, step_s) for q in queries.values()))
        except (ServiceUnavailable, OperationTimeout, InvalidInput) as exc:
            return MetricHistory(available=False, queries=queries, error=str(exc), step_s=step_s)
        points = tuple(
            MetricPoint(at=datetime.fromtimestamp(t, UTC), cpu=cpu.get(t), memory=memory.get(t))
            for t in sorted(cpu.keys() | memory.keys())
        )
        return MetricHistory(
            available=True, points=points, step_s=step_s, rate_window_s=seconds_of(self._window), queries=queries
        )

    async def instance_loads(self, group: ScalingGroup) -> dict[str, float]:
        """Each instance's CPU % now, by address (host part of ``instance``); {} on any failure."""
        query = _cpu_per_instance(group.prometheus_job, self._window)
        try:
            data = await self._get("/api/v1/query", {"query": query})
        except (ServiceUnavailable, OperationTimeout, InvalidInput):
            return {}
        loads = {}
        for row in data.get("result") or []:
            instance = str(row.get("metric", {}).get("instance", ""))
            value = float(row["value"][1])
            if instance and value == value:
                loads[instance.rsplit(":", 1)[0] if instance.count(":") == 1 else instance] = value
        return loads

    async def target_count(self, job: str) -> int:
        """Active targets of ``job`` (any health)."""
        data = await self._get("/api/v1/targets", {"state": "active"})
        return sum(
            1
            for target in data.get("activeTargets", [])
            if target.get("scrapePool") == job or target.get("labels", {}).get("job") == job
        )

    async def target_health(self, job: str) -> dict[str, bool]:
        """Each active target's last scrape (``health`` up or down; unknown left out), by address."""
        data = await self._get("/api/v1/targets", {"state": "active"})
        out = {}
        for target in data.get("activeTargets", []):
            labels = target.get("labels", {})
            health = target.get("health")
            if (target.get("scrapePool") != job and labels.get("job") != job) or health not in ("up", "down"):
                continue
            raw = str(labels.get("instance") or target.get("discoveredLabels", {}).get("__address__", ""))
            out[raw.rsplit(":", 1)[0] if raw.count(":") == 1 else raw] = health == "up"
        return out

    async def target_addresses(self, job: str) -> list[str]:
        """The host part of every active target of ``job`` (its ``instance`` label, else address)."""
        data = await self._get("/api/v1/targets", {"state": "active"})
        out = []
        for target in data.get("activeTargets", []):
            labels = target.get("labels", {})
            if target.get("scrapePool") != job and labels.get("job") != job:
                continue
            raw = labels.get("instance") or target.get("discoveredLabels", {}).get("__address__", "")
            out.append(str(raw).rsplit(":", 1)[0] if raw.count(":") == 1 else str(raw))
        return out

    async def job_exists(self, job: str) -> bool:
        """True when Prometheus has active targets for ``job``."""
        return await self.target_count(job) > 0
