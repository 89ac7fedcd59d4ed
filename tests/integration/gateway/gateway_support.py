"""Helpers of the gateway integration tests: the running gateway handle and its settings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from services.gateway.settings import GatewaySettings
from services.gateway.state import GatewayState
from services.gateway.testing import FakeScaler
from shared.testing.servers import free_port

WEBHOOK_TOKEN = "wh-" + "k" * 40
ADMIN_PASSWORD = "correct horse battery staple"


@dataclass
class Gateway:
    """A running gateway and what the tests need around it."""

    app: FastAPI
    client: httpx.AsyncClient
    scaler: FakeScaler
    settings: GatewaySettings

    @property
    def state(self) -> GatewayState:
        return self.app.state.gateway

    async def login(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> httpx.AsyncClient:
        """A client of its own with a session cookie and the CSRF header."""
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://gateway")
        response = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return client

    @contextlib.asynccontextmanager
    async def served(self) -> AsyncIterator[str]:
        """Serve the (already started) app over real HTTP on a loopback port; yields the base URL."""
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=port, lifespan="off", log_config=None))
        task = asyncio.create_task(server.serve())
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            server.force_exit = True
            await asyncio.wait_for(task, timeout=10)

    async def wait_alerts(self, count: int, timeout: float = 10.0) -> None:
        """Wait until the stand-in scaler consumed ``count`` alert events."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.scaler.fired) + len(self.scaler.resolved) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"only {len(self.scaler.fired) + len(self.scaler.resolved)} alerts arrived")
            await asyncio.sleep(0.02)


def gateway_settings(nats_url: str, redis_url: str, database_url: str, prefix: str, tmp: Path, **extra: Any):
    return GatewaySettings(
        nats_url=nats_url,
        redis_url=redis_url,
        database_url=database_url,
        subject_prefix=prefix,
        state_dir=tmp,
        webhook_token=WEBHOOK_TOKEN,
        initial_admin_password=ADMIN_PASSWORD,
        heartbeat_interval_s=0.5,
        group_cache_ttl_s=0.0,
        backend_timeout_s=0.5,
        **extra,
    )
