"""An admin changes a service's log level at run time through the gateway: the gateway at once,
the others (and the gateway's other replicas) when they hear it on the bus (real NATS); the
change is audited."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings
from tests.integration.gateway.gateway_support import Gateway


@pytest.fixture(autouse=True)
def restore_level() -> Iterator[None]:
    before = logging.getLogger().level
    yield
    logging.getLogger().setLevel(before)


async def listening(service: str, nats_url: str, prefix: str, tmp_path: Path) -> ServiceRuntime:
    runtime = ServiceRuntime(service, ServiceSettings(nats_url=nats_url, subject_prefix=prefix, state_dir=tmp_path))
    await runtime.bus.connect()
    await runtime.bus.broker.start()
    return runtime


@pytest.fixture
async def scaler_runtime(nats_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[ServiceRuntime]:
    """A second service's runtime on the same bus (only its signal listeners run)."""
    runtime = await listening("scaler", nats_url, prefix, tmp_path)
    yield runtime
    await runtime.bus.broker.stop()


@pytest.fixture
async def other_gateway(nats_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[ServiceRuntime]:
    """Another replica of the gateway (its runtime's signal listeners only)."""
    runtime = await listening("gateway", nats_url, prefix, tmp_path)
    yield runtime
    await runtime.bus.broker.stop()


async def changed(runtime: ServiceRuntime, level: str) -> None:
    for _ in range(200):
        if runtime.log_level == level:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the {runtime.service}'s level is still {runtime.log_level}")


async def test_one_service_then_all_change_level_and_the_change_is_audited(
    gateway: Gateway, scaler_runtime: ServiceRuntime
) -> None:
    admin = await gateway.login()
    try:
        one = await admin.put("/api/v1/log-level", json={"service": "scaler", "level": "DEBUG"})
        assert one.status_code == 200, one.text
        await changed(scaler_runtime, "DEBUG")
        assert one.json()["gateway"] == gateway.state.runtime.log_level == "INFO"
        every = await admin.put("/api/v1/log-level", json={"service": "all", "level": "WARNING"})
        assert every.json()["gateway"] == "WARNING"
        await changed(scaler_runtime, "WARNING")
        bad = await admin.put("/api/v1/log-level", json={"service": "scaler", "level": "CHATTY"})
        assert bad.status_code == 422
        audit = await admin.get("/api/v1/audit", params={"action": "log_level.set"})
    finally:
        await admin.aclose()
    entries = [e for e in audit.json() if e["action"] == "log_level.set"]
    assert {(e["target"], e["detail"]["level"]) for e in entries} == {("scaler", "DEBUG"), ("all", "WARNING")}


async def test_the_gateways_level_changes_on_every_replica_of_it(
    gateway: Gateway, other_gateway: ServiceRuntime, scaler_runtime: ServiceRuntime
) -> None:
    admin = await gateway.login()
    try:
        response = await admin.put("/api/v1/log-level", json={"service": "gateway", "level": "ERROR"})
    finally:
        await admin.aclose()
    assert response.status_code == 200 and response.json()["gateway"] == "ERROR"
    await changed(other_gateway, "ERROR")
    assert scaler_runtime.log_level == "INFO"
