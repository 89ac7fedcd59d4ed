"""Registering 1,000 targets in 50 jobs: file_sd per job vs one whole config file per change.

vmscale writes one small JSON file per job (temp file + fsync + rename) and never reloads
Prometheus. The baseline is the original's approach without its SSH and restarts: every
target change re-renders and atomically rewrites one file holding every job. Both run here,
on the same disk, in the same process; the figure that matters is the ratio.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path

from services.monitoring.adapters.files import LocalDirStore
from services.monitoring.domain import Target, target_groups
from services.monitoring.registry import TargetRegistry
from testkit.monitoring.memory import MemoryPrometheus

JOBS, PER_JOB = 50, 20


def targets() -> list[Target]:
    """1,000 targets, 20 per job, addresses in 127.0.0.0/8."""
    return [
        Target.build(
            f"job-{j:02d}", f"127.{j}.{n // 250}.{n % 250 + 1}", 9100, {"group": f"g{j}"}, vm_name=f"vm-{j}-{n}"
        )
        for j in range(JOBS)
        for n in range(PER_JOB)
    ]


async def file_sd(directory: Path, all_targets: list[Target], concurrency: int) -> tuple[float, int, int]:
    """Wall time, Prometheus reloads and files written with vmscale's registry."""
    store = LocalDirStore(directory)
    prometheus = MemoryPrometheus()
    registry = TargetRegistry(store, prometheus)
    limit = asyncio.Semaphore(concurrency)

    async def add(target: Target) -> None:
        async with limit:
            await registry.add(target)

    start = time.perf_counter()
    await asyncio.gather(*(add(t) for t in all_targets))
    elapsed = time.perf_counter() - start
    assert sum((await registry.jobs()).values()) == len(all_targets)
    return elapsed, prometheus.reloads, len(await store.names(".json"))


async def whole_file(directory: Path, all_targets: list[Target]) -> float:
    """Wall time when each change rewrites one file holding every job's targets.

    Serialised as JSON like the per-job files, so the ratio measures the structure (whole
    file vs one small file per job), not YAML against JSON.
    """
    store = LocalDirStore(directory)
    jobs: dict[str, list[Target]] = {}
    start = time.perf_counter()
    for target in all_targets:
        jobs.setdefault(target.job, []).append(target)
        document = [group for _, members in sorted(jobs.items()) for group in target_groups(members)]
        await store.write("all-jobs.json", (json.dumps(document, indent=1) + "\n").encode())
    return time.perf_counter() - start


def main() -> None:
    """Print the figures."""
    all_targets = targets()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sequential, reloads, files = asyncio.run(file_sd(root / "seq", all_targets, 1))
        concurrent, reloads_c, _ = asyncio.run(file_sd(root / "conc", all_targets, 32))
        baseline = asyncio.run(whole_file(root / "whole", all_targets))
    print(f"targets: {len(all_targets)} in {JOBS} jobs ({files} job files)")
    print(f"file_sd per job, sequential:      {sequential:.3f} s  ({len(all_targets) / sequential:.0f} targets/s)")
    print(f"file_sd per job, 32 concurrent:   {concurrent:.3f} s")
    print(f"Prometheus reloads caused:        {reloads + reloads_c}")
    print(f"baseline, whole file per change:  {baseline:.3f} s")
    print(f"ratio baseline / file_sd (seq):   {baseline / sequential:.1f}x")
    if reloads + reloads_c:
        raise SystemExit("registration must never reload Prometheus")


if __name__ == "__main__":
    main()
