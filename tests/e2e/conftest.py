"""The whole system in the lab, started once per test module."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.system import System, free_lab_config
from shared.testing.servers import delete_streams, free_port, fresh_database


def start_system(
    tmp: Path, nats_url: str, redis_url: str, postgres_url: str, load_balancer: str = "haproxy"
) -> Iterator[System]:
    """Start lab + services on free ports, yield, stop everything (the database dropped last)."""
    with fresh_database(postgres_url, "e2e") as database_url:
        prefix = "e2e" + uuid.uuid4().hex[:8]
        system = System(
            config=free_lab_config(tmp / "lab"),
            state_dir=tmp / "state",
            env={
                "NATS_URL": nats_url,
                "REDIS_URL": redis_url,
                "DATABASE_URL": database_url,
                "SUBJECT_PREFIX": prefix,
                "HEARTBEAT_INTERVAL_S": "1",
                "LOG_LEVEL": "INFO",
            },
            gateway_port=free_port(),
            load_balancer=load_balancer,  # type: ignore[arg-type]
        )
        try:
            system.start()
            yield system
        finally:
            system.stop()
            # its streams go too: left behind, every run added three to the shared JetStream
            asyncio.run(delete_streams(nats_url, prefix))


@pytest.fixture(scope="module")
def system(
    tmp_path_factory: pytest.TempPathFactory, nats_url: str, redis_url: str, postgres_url: str
) -> Iterator[System]:
    """The lab with HAProxy as the load balancer."""
    yield from start_system(tmp_path_factory.mktemp("e2e"), nats_url, redis_url, postgres_url)


@pytest.fixture(scope="module")
def system_f5(
    tmp_path_factory: pytest.TempPathFactory, nats_url: str, redis_url: str, postgres_url: str
) -> Iterator[System]:
    """The lab with the F5 BIG-IP simulator as the load balancer."""
    yield from start_system(tmp_path_factory.mktemp("e2e-f5"), nats_url, redis_url, postgres_url, "f5")
