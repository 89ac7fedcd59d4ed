"""The whole system in the lab, started once per test module."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from lab.system import Demo, System, free_lab_config
from shared.embedded import free_port
from testkit.otlp_receiver import OtlpReceiver, otlp_receiver
from testkit.servers import delete_streams, fresh_database


def start_system(
    tmp: Path,
    nats_url: str,
    redis_url: str,
    postgres_url: str,
    load_balancer: str = "haproxy",
    otlp_endpoint: str = "",
) -> Iterator[System]:
    """Start lab + services on free ports, yield, stop everything (the database dropped last).
    With ``otlp_endpoint`` every service sends its spans there (the lab's ``otlp_endpoint``)."""
    with fresh_database(postgres_url, "e2e") as database_url:
        prefix = "e2e" + uuid.uuid4().hex[:8]
        system = System(
            config=replace(free_lab_config(tmp / "lab"), otlp_endpoint=otlp_endpoint),
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
def otlp() -> Iterator[OtlpReceiver]:
    """A loopback OTLP/HTTP collector the HAProxy lab's services send their spans to."""
    with otlp_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def system(
    tmp_path_factory: pytest.TempPathFactory, nats_url: str, redis_url: str, postgres_url: str, otlp: OtlpReceiver
) -> Iterator[System]:
    """The lab with HAProxy as the load balancer, its services' spans sent to ``otlp``."""
    yield from start_system(
        tmp_path_factory.mktemp("e2e"), nats_url, redis_url, postgres_url, otlp_endpoint=otlp.endpoint
    )


@pytest.fixture(scope="module")
def system_f5(
    tmp_path_factory: pytest.TempPathFactory, nats_url: str, redis_url: str, postgres_url: str
) -> Iterator[System]:
    """The lab with the F5 BIG-IP simulator as the load balancer."""
    yield from start_system(tmp_path_factory.mktemp("e2e-f5"), nats_url, redis_url, postgres_url, "f5")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``make run`` itself on free ports, with its own embedded NATS and Redis and SQLite files
    (nothing shared with other tests: flushing its Redis touches no one else's data)."""
    tmp = tmp_path_factory.mktemp("e2e-demo")
    running = Demo(config=free_lab_config(tmp / "lab"), state_dir=tmp / "state", env={}, gateway_port=free_port())
    try:
        running.start()
        yield running
    finally:
        running.stop()
