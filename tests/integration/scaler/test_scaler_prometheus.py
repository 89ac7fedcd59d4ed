"""The scaler's Prometheus adapter against the lab's real Prometheus and lab VM agents.

Prometheus (Debian's, scraping every second) reads its targets from a ``file_sd`` JSON file, as
the monitoring service writes it; each lab agent serves node-exporter metrics whose CPU and
memory follow the load set on it. The adapter's readings must follow that load (busiest instance
for the alert re-check, the average for target tracking), and a stopped Prometheus must read as
unavailable — which the decision turns into ``metrics_unavailable``: never scale in blind.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from lab.agent import agent_part, set_load
from lab.config import LabConfig
from lab.monitoring import monitoring_paths, prometheus_part
from lab.runner import Lab, Part
from services.scaler.adapters.prometheus import PrometheusMetrics
from services.scaler.domain import (
    AlertSignal,
    Block,
    BlockReason,
    MetricReading,
    Observed,
    StepPolicy,
    TargetTrackingPolicy,
    decide,
)
from shared.embedded import free_port
from shared.errors import ServiceUnavailable
from shared.messages import utcnow
from tests.contracts.monitoring_lab import next_vm_address
from tests.integration.scaler.scaler_replica import group_spec

WINDOW = "5s"
"""Rate window of the CPU query: a few 1 s scrapes, so a load change shows within seconds."""


class LabPrometheus:
    """A lab Prometheus of this module's own, and where it reads its targets."""

    def __init__(self, root: Path) -> None:
        self.config = LabConfig(lab_dir=root, prometheus_port=free_port(), alertmanager_port=free_port())
        self.part = prometheus_part(self.config)
        self.lab = Lab(root, [self.part])
        self.url = f"http://{self.config.host}:{self.config.prometheus_port}"

    def register(self, job: str, addresses: list[str], port: int) -> None:
        """Write ``<job>.json`` the way the monitoring service does (atomically, with the job label)."""
        sd = monitoring_paths(self.config).file_sd_dir
        groups = [{"targets": [f"{a}:{port}" for a in addresses], "labels": {"job": job}}]
        staged = sd / f".{job}.json.tmp"
        staged.write_text(json.dumps(groups))
        staged.replace(sd / f"{job}.json")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabPrometheus]:
    """Debian's Prometheus, started for this module."""
    server = LabPrometheus(tmp_path_factory.mktemp("scaler-prometheus").resolve())
    server.lab.up()
    try:
        yield server
    finally:
        server.lab.down()


class Agents:
    """Lab VM agents of one test on fresh addresses and ports of their own.

    Their own ports, not the default 9100: a node_exporter bound to ``*:9100`` elsewhere on the
    host would otherwise answer in an agent's place.
    """

    def __init__(self, lab_dir: Path) -> None:
        self.lab_dir = lab_dir
        self.port = free_port()
        self.app_port = free_port()
        self.labs: list[tuple[Lab, Part]] = []

    def start(self, name: str, *, cpu: float, memory: float) -> str:
        """Start the agent of VM ``name``; returns its address."""
        address = next_vm_address()
        part = agent_part(name, address, metrics_port=self.port, app_port=self.app_port, cpu=cpu, memory=memory)
        lab = Lab(self.lab_dir, [part])
        lab.up()
        self.labs.append((lab, part))
        return address

    def load(self, address: str, **levels: float) -> None:
        """Set an agent's CPU and/or memory use."""
        set_load(address, port=self.port, **levels)

    def stop_all(self) -> None:
        for lab, part in self.labs:
            lab.stop(part)


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[Agents]:
    """Lab VM agents of this test, stopped afterwards."""
    fleet = Agents(tmp_path)
    try:
        yield fleet
    finally:
        fleet.stop_all()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


async def eventually(
    read: Callable[[], object], check: Callable[[MetricReading], bool], what: str, timeout: float = 45.0
) -> MetricReading:
    """Read until ``check`` holds (Prometheus needs a few scrapes to see a change)."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: MetricReading | None = None
    while asyncio.get_running_loop().time() < deadline:
        last = await read()  # type: ignore[misc]
        assert last is not None
        if check(last):
            return last
        await asyncio.sleep(0.5)
    raise AssertionError(f"{what}: last reading {last}")


def near(value: float | None, expected: float, tolerance: float = 3.0) -> bool:
    return value is not None and abs(value - expected) <= tolerance


async def test_readings_follow_the_load_of_the_groups_agents(
    prometheus: LabPrometheus, agents: Agents, http: httpx.AsyncClient
) -> None:
    job = f"web{uuid.uuid4().hex[:6]}"
    busy = agents.start(f"{job}-1", cpu=90, memory=30)
    quiet = agents.start(f"{job}-2", cpu=10, memory=60)
    prometheus.register(job, [busy, quiet], agents.port)
    metrics = PrometheusMetrics(http, prometheus.url, WINDOW)
    group = group_spec("web", prometheus_job=job)
    tracking = TargetTrackingPolicy(target=50)

    async def read() -> MetricReading:
        return await metrics.read(group, tracking)

    first = await eventually(
        read,
        lambda r: near(r.cpu, 90) and near(r.memory, 60) and near(r.value, 50),
        "busiest CPU 90 %, busiest memory 60 %, average CPU 50 %",
    )
    assert first.available and f'job="{job}"' in first.queries["cpu"]
    assert await metrics.target_count(job) == 2 and await metrics.job_exists(job)
    assert sorted(await metrics.target_addresses(job)) == sorted([busy, quiet])
    loads = await metrics.instance_loads(group)  # what the least_busy victim order ranks by
    assert sorted(loads) == sorted([busy, quiet]) and near(loads[busy], 90) and near(loads[quiet], 10), loads

    agents.load(busy, cpu=20, memory=5)
    agents.load(quiet, memory=15)
    await eventually(
        read,
        lambda r: near(r.cpu, 20) and near(r.memory, 15) and near(r.value, 15),
        "after the load dropped: busiest CPU 20 %, busiest memory 15 %, average CPU 15 %",
    )
    memory_policy = TargetTrackingPolicy(target=50, metric="memory")
    average = await metrics.read(group, memory_policy)
    assert near(average.value, 10)


async def test_a_job_nobody_scrapes_reads_as_no_data_and_never_scales_in(
    prometheus: LabPrometheus, http: httpx.AsyncClient
) -> None:
    metrics = PrometheusMetrics(http, prometheus.url, WINDOW)
    reading = await metrics.read(group_spec("web", prometheus_job="nobody"))
    assert reading.available and reading.cpu is None and reading.memory is None
    assert not await metrics.job_exists("nobody")
    assert _scale_in(reading).reason is BlockReason.METRICS_UNAVAILABLE


def _scale_in(reading: MetricReading) -> Block:
    """What the decision makes of ``reading`` for a scale-in alert on a group above min."""
    from services.scaler.domain import Instance, InstanceState

    now = utcnow()
    group = group_spec("web", min_size=1)
    vm = Instance(group="web", vm_name="web-1", state=InstanceState.IN_SERVICE, created_at=now)
    alert = AlertSignal(alertname="web_LowResourceUsage", fingerprint="f", starts_at=now, received_at=now)
    observed = Observed(
        instances=(vm, vm.model_copy(update={"vm_name": "web-2"})), free_ips=5, alert=alert, metrics=reading
    )
    decision = decide(group, StepPolicy(), observed, now)
    assert isinstance(decision, Block), decision
    return decision


async def test_a_stopped_prometheus_reads_as_unavailable(tmp_path: Path, http: httpx.AsyncClient) -> None:
    own = LabPrometheus(tmp_path / "lab")
    own.lab.up()
    try:
        metrics = PrometheusMetrics(http, own.url, WINDOW, timeout_s=2.0)
        assert (await metrics.read(group_spec("web"))).available
    finally:
        own.lab.down()
    reading = await metrics.read(group_spec("web"))
    assert not reading.available and reading.cpu is None
    assert reading.error is not None and "Prometheus unreachable" in reading.error
    with pytest.raises(ServiceUnavailable):
        await metrics.target_count("web")
    assert await metrics.instance_loads(group_spec("web")) == {}
    block = _scale_in(reading)
    assert block.reason is BlockReason.METRICS_UNAVAILABLE and "never scale in blind" in block.message
