"""Fixtures of the loadbalancer integration tests: application backends and a real HAProxy."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from lb_support import Backend, RunningHAProxy

from lab.config import LabConfig
from lab.loadbalancer import LAB_POOL, HAProxyPaths, haproxy_part
from lab.runner import Lab
from shared.testing.servers import free_port


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
