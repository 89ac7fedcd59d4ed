"""Two monitoring replicas sharing a config directory never lose each other's writes.

Real processes, a real directory, real ``flock``: the replicas' registrations interleave on one
job file and every target survives; a lock held by another process makes a writer wait (and give
up with ``Contention`` past its limit); a holder killed with SIGKILL leaves no stale lock.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.monitoring.adapters.files import LocalDirStore
from services.monitoring.adapters.flock import LOCKS_DIR, FlockLocks
from services.monitoring.domain import Target
from services.monitoring.registry import TargetRegistry
from shared.errors import Contention

pytestmark = pytest.mark.timeout(120)

PER_REPLICA = 25

REPLICA = """
import asyncio, sys
from pathlib import Path
from services.monitoring.adapters.files import LocalDirStore
from services.monitoring.adapters.flock import LOCKS_DIR, FlockLocks
from services.monitoring.domain import Target
from services.monitoring.registry import TargetRegistry

async def main(directory: Path, replica: int, count: int) -> None:
    registry = TargetRegistry(LocalDirStore(directory), None, FlockLocks(directory / LOCKS_DIR))
    for i in range(count):
        await registry.add(Target(job="web", address=f"10.0.{replica}.{i + 1}", port=9100))

asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
"""

HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()
"""


def start_holder(lock_file: Path) -> subprocess.Popen[str]:
    """Another process holding ``lock_file`` until its stdin gets a line (or it is killed)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_file)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_two_replicas_registering_into_one_job_file_lose_nothing(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    replicas = [
        subprocess.Popen([sys.executable, "-c", REPLICA, str(tmp_path), str(n), str(PER_REPLICA)], cwd=root)
        for n in (1, 2)
    ]
    assert [replica.wait(timeout=90) for replica in replicas] == [0, 0]
    groups = json.loads((tmp_path / "web.json").read_text())
    addresses = {target for group in groups for target in group["targets"]}
    assert len(addresses) == 2 * PER_REPLICA


async def test_a_writer_waits_for_another_process_and_gives_up_past_its_limit(tmp_path: Path) -> None:
    locks = FlockLocks(tmp_path, timeout_s=0.3)
    holder = start_holder(tmp_path / "file_sd-web.lock")
    try:
        with pytest.raises(Contention):
            async with locks.hold("file_sd-web"):
                pass
        async with locks.hold("file_sd-db"):  # another name is free
            pass
    finally:
        holder.communicate("release\n", timeout=10)
    async with locks.hold("file_sd-web"):
        pass


async def test_a_holder_killed_mid_write_leaves_no_stale_lock(tmp_path: Path) -> None:
    holder = start_holder(tmp_path / LOCKS_DIR / "file_sd-web.lock")
    holder.kill()
    holder.wait(timeout=10)
    registry = TargetRegistry(LocalDirStore(tmp_path), None, FlockLocks(tmp_path / LOCKS_DIR, timeout_s=5))  # type: ignore[arg-type]
    outcome = await registry.add(Target(job="web", address="127.0.0.1", port=9100))
    assert outcome.created
    assert await LocalDirStore(tmp_path).names(".json") == ["web.json"]  # the lock files are not jobs


async def test_tasks_of_one_process_queue_on_the_same_name(tmp_path: Path) -> None:
    locks = FlockLocks(tmp_path)
    inside: list[int] = []
    overlaps: list[int] = []

    async def critical(n: int) -> None:
        async with locks.hold("rules-web"):
            inside.append(n)
            if len(inside) > 1:
                overlaps.append(n)
            await asyncio.sleep(0)
            inside.remove(n)

    await asyncio.gather(*(critical(n) for n in range(20)))
    assert overlaps == []
