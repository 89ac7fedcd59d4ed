"""A gateway on real NATS, Redis and PostgreSQL, with a stand-in scaler on the same prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.gateway.app import create_app
from shared.bus import Bus, Topology, build_broker
from testkit.gateway.fake_backends import FakeBackends
from testkit.gateway.fake_scaler import FakeScaler
from tests.integration.gateway.gateway_support import Gateway, gateway_settings


@pytest.fixture
def scaler_bus(nats_url: str, prefix: str) -> Bus:
    return build_broker(nats_url, client_name="fake-scaler", topology=Topology(prefix))


@pytest.fixture
async def gateway(
    nats_url: str,
    redis_url: str,
    postgres_database: str,
    prefix: str,
    tmp_path: Path,
    js_cleanup: None,
    scaler_bus: Bus,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Gateway]:
    marker = request.node.get_closest_marker("backends")
    silent = marker is not None and marker.args == (None,)
    # Where nobody answers, a short timeout keeps the test quick; where the stand-ins answer,
    # one long enough that a loaded machine's slow reply is not taken for silence.
    timeout_s = 0.5 if silent else 5.0
    settings = gateway_settings(nats_url, redis_url, postgres_database, prefix, tmp_path, backend_timeout_s=timeout_s)
    app = create_app(settings)
    scaler = FakeScaler(groups={"web": True, "batch": False})
    scaler_bus.broker.include_router(scaler.router(scaler_bus))
    if not silent:
        backends = FakeBackends(**(marker.kwargs if marker else {}))
        scaler_bus.broker.include_router(backends.router(scaler_bus))
    async with app.router.lifespan_context(app):
        await scaler_bus.connect()
        await scaler_bus.broker.start()
        transport = httpx.ASGITransport(app=app, client=("127.0.0.9", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            try:
                yield Gateway(app, client, scaler, settings)
            finally:
                await scaler_bus.broker.stop()
