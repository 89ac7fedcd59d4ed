"""Registration through file_sd: duplicates refused, concurrent writers never lose an entry."""

from __future__ import annotations

import asyncio
import json

import pytest

from services.monitoring.domain import Target
from services.monitoring.registry import TargetRegistry
from shared.errors import Conflict, OperationTimeout
from testkit.monitoring.memory import MemoryPrometheus, MemoryStore


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def prometheus(store: MemoryStore) -> MemoryPrometheus:
    return MemoryPrometheus(file_sd=store)


@pytest.fixture
def registry(store: MemoryStore, prometheus: MemoryPrometheus) -> TargetRegistry:
    return TargetRegistry(store, prometheus)


def target(n: int, job: str = "web", vm: str | None = None) -> Target:
    return Target.build(job, f"127.0.10.{n}", 9100, {"group": "web"}, vm_name=vm or f"vm-{n}")


async def test_registering_twice_is_a_no_op(registry: TargetRegistry, store: MemoryStore) -> None:
    first = await registry.add(target(1))
    second = await registry.add(target(1))
    assert (first.created, first.job_created) == (True, True)
    assert (second.created, second.job_created) == (False, False)
    assert store.writes == 1


async def test_the_same_address_for_another_vm_is_a_conflict(registry: TargetRegistry) -> None:
    await registry.add(target(1))
    with pytest.raises(Conflict):
        await registry.add(target(1, vm="intruder"))
    assert [t.vm_name for t in await registry.targets("web")] == ["vm-1"]


async def test_concurrent_registrations_keep_every_target(registry: TargetRegistry, store: MemoryStore) -> None:
    await asyncio.gather(*(registry.add(target(n, job=f"job{n % 3}")) for n in range(1, 121)))
    assert await registry.jobs() == {"job0": 40, "job1": 40, "job2": 40}
    for name, data in store.files.items():
        assert len(json.loads(data)) == 40, name


async def test_remove_and_delete_job(registry: TargetRegistry) -> None:
    await registry.add(target(1))
    await registry.add(target(2))
    assert await registry.remove("web", "127.0.10.1", 9100) is True
    assert await registry.remove("web", "127.0.10.1", 9100) is False
    assert [t.key for t in await registry.targets("web")] == ["127.0.10.2:9100"]
    assert await registry.delete_job("web") is True
    assert await registry.jobs() == {}


async def test_system_jobs_are_hidden_and_protected(registry: TargetRegistry, store: MemoryStore) -> None:
    store.files["prometheus.json"] = b"[]"
    assert await registry.jobs() == {}
    with pytest.raises(Conflict):
        await registry.delete_job("prometheus")
    assert "prometheus.json" in store.files


async def test_wait_up_returns_once_prometheus_reports_the_target_up(
    registry: TargetRegistry, prometheus: MemoryPrometheus
) -> None:
    await registry.add(target(1))
    health = await registry.wait_up("web", "127.0.10.1:9100", timeout_s=1, poll_s=0.01)
    assert (health.health, health.vm_name, health.instance) == ("up", "vm-1", "127.0.10.1")
    prometheus.down.add("127.0.10.1:9100")
    with pytest.raises(OperationTimeout):
        await registry.wait_up("web", "127.0.10.1:9100", timeout_s=0.05, poll_s=0.01)


async def test_usage_reports_each_up_instance_of_the_job_over_time(
    registry: TargetRegistry, prometheus: MemoryPrometheus
) -> None:
    await registry.add(target(1))
    await registry.add(target(2))
    await registry.add(target(3, job="api"))
    prometheus.usage[("127.0.10.1", "cpu")] = 91.5
    prometheus.usage[("127.0.10.2", "memory")] = 40.0
    prometheus.down.add("127.0.10.2:9100")
    usage = await registry.usage("web", minutes=2, step_s=30, rate_window="10s")
    assert set(usage) == {"127.0.10.1"}, "down targets and other jobs are left out"
    cpu = usage["127.0.10.1"]["cpu"]
    assert len(cpu) == 5 and {value for _, value in cpu} == {91.5}
    assert [t for t, _ in cpu] == sorted(t for t, _ in cpu)
