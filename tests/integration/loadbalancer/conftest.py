"""Fixtures of the loadbalancer integration tests: application backends and a real HAProxy."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from lab.config import LabConfig
from lab.loadbalancer import LAB_POOL, F5Paths, HAProxyPaths, f5sim_part, haproxy_part
from lab.runner import Lab
from shared.embedded import free_port
from tests.integration.loadbalancer.lb_support import Backend, RunningF5, RunningHAProxy


@pytest.fixture(scope="session")
def backends() -> Iterator[tuple[Backend, Backend]]:
    """Two live application backends on their own loopback addresses."""
    pair = (Backend("app-a", "127.0.10.21"), Backend("app-b", "127.0.10.22"))
    yield pair
    for backend in pair:
        backend.stop()


@pytest.fixture
def dead_endpoint() -> tuple[str, int]:
    """An address where nothing listens."""
    return "127.0.10.250", free_port("127.0.10.250")


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[RunningHAProxy]:
    """Real HAProxy with the lab's generated configuration (pools ``web`` and ``other``)."""
    config = LabConfig(
        lab_dir=tmp_path,
        haproxy_frontend_port=free_port(),
        haproxy_stats_port=free_port(),
    )
    part = haproxy_part(config, pools=(LAB_POOL, "other"))
    lab = Lab(tmp_path, [part])
    lab.start(part)
    try:
        yield RunningHAProxy(lab, part, config, HAProxyPaths(lab.part_dir(part)))
    finally:
        lab.stop(part)


def _free_pair() -> int:
    for _ in range(50):
        port = free_port()
        try:
            with __import__("socket").socket() as probe:
                probe.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no two adjacent free ports")


@pytest.fixture(scope="session")
def f5sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningF5]:
    """The F5 simulator (an HA pair), started once through the lab part."""
    lab_dir = tmp_path_factory.mktemp("f5lab")
    config = LabConfig(lab_dir=lab_dir, f5_port=_free_pair(), haproxy_frontend_port=free_port())
    part = f5sim_part(config)
    lab = Lab(lab_dir, [part])
    lab.start(part)
    try:
        password = F5Paths(lab.part_dir(part)).password_file.read_text().strip()
        yield RunningF5(lab, part, config, password)
    finally:
        lab.stop(part)


@pytest.fixture
async def f5_admin(f5sim: RunningF5) -> AsyncIterator[httpx.AsyncClient]:
    """A plain iControl REST client (Basic auth) for arranging the simulator."""
    async with httpx.AsyncClient(base_url=f5sim.active_url, auth=("admin", f5sim.password), timeout=5) as client:
        yield client


@pytest.fixture
async def f5_partition(f5_admin: httpx.AsyncClient) -> str:
    """A partition of this test's own, holding pool ``web`` (HTTP monitor) and virtual ``web_vs``."""
    partition = "t" + uuid.uuid4().hex[:10]
    for path, body in [
        ("/mgmt/tm/auth/partition", {"name": partition}),
        ("/mgmt/tm/ltm/pool", {"name": "web", "partition": partition, "monitor": "/Common/http"}),
        (
            "/mgmt/tm/ltm/virtual",
            {"name": "web_vs", "partition": partition, "destination": "127.0.0.1:80", "pool": f"/{partition}/web"},
        ),
    ]:
        response = await f5_admin.post(path, json=body)
        assert response.status_code == 200, response.text
    return partition
