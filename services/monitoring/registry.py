"""Prometheus registration through file_sd: one JSON file per job, one writer per job.

Each change reads the job's file, applies the change and writes the whole (small) file back
atomically under the job's lock (``services.monitoring.locks``: across the replicas sharing the
directory), so concurrent registrations never lose or corrupt an entry
and Prometheus is never reloaded or restarted (file_sd is watched). The same files back the
``http_sd`` endpoint when Prometheus pulls targets instead.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from services.monitoring.domain import SYSTEM_JOBS, Target, check_job, parse_job_file, render_job_file, target_groups
from services.monitoring.domain.rules import cpu_expr, memory_expr
from services.monitoring.locks import FileLocks, ProcessLocks
from services.monitoring.ports import ConfigStore, PrometheusApi
from shared.errors import Conflict, OperationTimeout

__all__ = ["RegisterOutcome", "TargetHealth", "TargetRegistry"]

SUFFIX = ".json"


@dataclass(frozen=True)
class RegisterOutcome:
    """What ``add`` did: ``created`` is false when the same target was already there."""

    target: Target
    created: bool
    job_created: bool


@dataclass(frozen=True)
class TargetHealth:
    """One target as Prometheus sees it."""

    job: str
    target: str
    instance: str
    vm_name: str | None
    health: str
    last_error: str
    last_scrape: str | None


class TargetRegistry:
    """Jobs and targets of vmscale (the system jobs are neither listed nor touched)."""

    def __init__(self, store: ConfigStore, prometheus: PrometheusApi, locks: FileLocks | None = None) -> None:
        self._store = store
        self._prometheus = prometheus
        self._locks: FileLocks = locks or ProcessLocks()
        """One holder per job file: across replicas with ``FlockLocks`` on a shared directory."""

    async def _load(self, job: str) -> list[Target] | None:
        data = await self._store.read(job + SUFFIX)
        return None if data is None else parse_job_file(job, data)

    async def add(self, target: Target) -> RegisterOutcome:
        """Add ``target`` to its job (creating the job file when needed).

        Idempotent: the same address:port for the same VM is a no-op. Raises ``Conflict`` when
        that address:port is registered for another VM, or the job is a system job.
        """
        check_job(target.job)
        async with self._locks.hold(f"file_sd-{target.job}"):
            current = await self._load(target.job)
            existing = {t.key: t for t in current or []}
            if target.key in existing:
                other = existing[target.key]
                if other.vm_name != target.vm_name:
                    raise Conflict(
                        "duplicate target: already registered for another VM",
                        job=target.job,
                        target=target.key,
                        vm_name=other.vm_name,
                    )
                if other.labels == target.labels:
                    return RegisterOutcome(other, created=False, job_created=False)
            existing[target.key] = target
            await self._store.write(target.job + SUFFIX, render_job_file(existing.values()))
            return RegisterOutcome(
                target, created=target.key not in {t.key for t in current or []}, job_created=current is None
            )

    async def remove(self, job: str, address: str, port: int) -> bool:
        """Remove one target; ``False`` when it was not there. The job file stays (maybe empty)."""
        check_job(job)
        async with self._locks.hold(f"file_sd-{job}"):
            current = await self._load(job)
            if current is None:
                return False
            kept = [t for t in current if t.key != f"{address}:{port}"]
            if len(kept) == len(current):
                return False
            await self._store.write(job + SUFFIX, render_job_file(kept))
            return True

    async def delete_job(self, job: str) -> bool:
        """Delete a job and its targets; ``False`` when it did not exist. System jobs refuse."""
        check_job(job)
        async with self._locks.hold(f"file_sd-{job}"):
            return await self._store.delete(job + SUFFIX)

    async def jobs(self) -> dict[str, int]:
        """Every vmscale job with its target count."""
        out: dict[str, int] = {}
        for name in await self._store.names(SUFFIX):
            job = name[: -len(SUFFIX)]
            if job.lower() in SYSTEM_JOBS:
                continue
            out[job] = len(await self._load(job) or [])
        return out

    async def targets(self, job: str) -> list[Target]:
        """The targets of ``job`` (empty when the job does not exist)."""
        check_job(job)
        return await self._load(job) or []

    async def all_target_groups(self) -> list[dict[str, Any]]:
        """Every job's target groups, for ``http_sd_configs``."""
        groups: list[dict[str, Any]] = []
        for job in await self.jobs():
            groups.extend(target_groups(await self._load(job) or []))
        return groups

    async def usage(
        self, job: str, minutes: int, step_s: int, rate_window: str
    ) -> dict[str, dict[str, tuple[tuple[float, float], ...]]]:
        """Per-instance CPU and memory use (percent) over the last ``minutes``, as the alert
        rules compute them: ``{instance: {"cpu": ((t, v), ...), "memory": (...)}}``."""
        check_job(job)
        end = time.time()
        start = end - minutes * 60
        found: dict[str, dict[str, tuple[tuple[float, float], ...]]] = {}
        for kind, expr in (("cpu", cpu_expr(job, rate_window)), ("memory", memory_expr(job))):
            for series in await self._prometheus.query_range(expr, start, end, step_s):
                instance = str((series.get("metric") or {}).get("instance", ""))
                points = tuple((float(t), round(float(v), 2)) for t, v in series.get("values") or [])
                found.setdefault(instance, {})[kind] = points
        return found

    async def health(self, job: str) -> list[TargetHealth]:
        """Prometheus' view of the job's targets (``/api/v1/targets``)."""
        check_job(job)
        out = []
        for item in await self._prometheus.targets():
            labels = item.get("labels") or {}
            if labels.get("job") != job:
                continue
            discovered = item.get("discoveredLabels") or {}
            out.append(
                TargetHealth(
                    job=job,
                    target=str(discovered.get("__address__") or labels.get("instance", "")),
                    instance=str(labels.get("instance", "")),
                    vm_name=labels.get("vmName"),
                    health=str(item.get("health", "unknown")),
                    last_error=str(item.get("lastError", "")),
                    last_scrape=item.get("lastScrape"),
                )
            )
        return out

    async def wait_up(self, job: str, target: str, timeout_s: float, poll_s: float = 1.0) -> TargetHealth:
        """Block until Prometheus reports ``target`` of ``job`` up; ``OperationTimeout`` otherwise."""
        deadline = time.monotonic() + timeout_s
        last: TargetHealth | None = None
        while True:
            for item in await self.health(job):
                if item.target == target:
                    last = item
                    if item.health == "up":
                        return item
            if time.monotonic() >= deadline:
                raise OperationTimeout(
                    "target not up in time",
                    job=job,
                    target=target,
                    health=last.health if last else "not discovered",
                    last_error=last.last_error if last else "",
                )
            await asyncio.sleep(poll_s)
