"""Helpers of the gateway integration tests: the running gateway handle and its settings."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from services.gateway.state import GatewayState
from shared import subjects
from shared.bus import Topology, build_broker
from shared.embedded import free_port
from shared.messages import DeadLetter
from shared.subjects import Subject
from testkit.gateway.fake_backends import FakeBackends
from testkit.gateway.fake_scaler import FakeScaler
from testkit.servers import delete_streams, fresh_database

WEBHOOK_TOKEN = "wh-" + "k" * 40
ADMIN_PASSWORD = "correct horse battery staple"
# A valid group the stand-in scaler does not have yet.
SPEC = {
    "name": "shop",
    "vm_prefix": "shop",
    "template": "ubuntu-22-template",
    "prometheus_job": "shop",
    "min_size": 2,
    "max_size": 4,
    "pool": "web-pool",
    "vip": "127.0.10.100",
    "ip_pool": "lab",
}


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


async def dead_letter(gateway: Gateway, subject: Subject[Any], payload: str) -> None:
    """Store a dead letter of ``subject`` (as the bus's middleware would) carrying ``payload``."""
    letter = DeadLetter(
        subject=subject.name,
        consumer=gateway.state.runtime.bus.topology.durable("loadbalancer", subject),
        reason="member not allowed",
        error_kind="InvalidInput",
        deliveries=1,
        headers={"Nats-Msg-Id": "m-1", "correlation_id": "act-1"},
        payload=payload,
    )
    await gateway.state.runtime.bus.publish(subjects.dead_letter(subject), letter)


async def stored(gateway: Gateway, count: int) -> None:
    """Wait until the DLQ stream holds ``count`` dead letters."""
    for _ in range(200):
        if sum((await gateway.state.dead_letters.counts()).values()) == count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not {count} dead letters")


def gateway_settings(nats_url: str, redis_url: str, database_url: str, prefix: str, tmp: Path, **extra: Any):
    defaults: dict[str, Any] = {"heartbeat_interval_s": 0.5, "group_cache_ttl_s": 0.0, "backend_timeout_s": 0.5}
    return GatewaySettings(
        nats_url=nats_url,
        redis_url=redis_url,
        database_url=database_url,
        subject_prefix=prefix,
        state_dir=tmp,
        webhook_token=WEBHOOK_TOKEN,
        initial_admin_password=ADMIN_PASSWORD,
        **(defaults | extra),
    )


@dataclass
class GatewayThread:
    """A gateway and the stand-in backends served over loopback HTTP from a thread of their own.

    For synchronous callers (schemathesis): the app, its bus and uvicorn live on the thread's
    event loop; the caller gets the base URL and the app (its auth store is safe to use from
    another thread: every call opens its own database session).
    """

    app: FastAPI
    url: str

    @classmethod
    @contextlib.contextmanager
    def start(cls, nats_url: str, redis_url: str, postgres_url: str, tmp: Path) -> Iterator[GatewayThread]:
        prefix = "t" + uuid.uuid4().hex[:12]
        with fresh_database(postgres_url) as database_url:
            settings = gateway_settings(nats_url, redis_url, database_url, prefix, tmp, backend_timeout_s=2.0)
            app = create_app(settings)
            port = free_port()
            started, stop = threading.Event(), threading.Event()
            failure: list[BaseException] = []

            async def serve() -> None:
                backends_bus = build_broker(nats_url, client_name="stand-ins", topology=Topology(prefix))
                scaler = FakeScaler(groups={"web": True, "batch": False})
                backends_bus.broker.include_router(scaler.router(backends_bus))
                backends = FakeBackends()
                backends_bus.broker.include_router(backends.router(backends_bus))
                server = uvicorn.Server(
                    uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
                )
                async with contextlib.AsyncExitStack() as stack:
                    stack.push_async_callback(delete_streams, nats_url, prefix)
                    await stack.enter_async_context(app.router.lifespan_context(app))
                    await backends_bus.connect()
                    stack.push_async_callback(backends_bus.broker.stop)
                    await backends_bus.broker.start()
                    await stack.enter_async_context(backends.heartbeats(backends_bus, 0.5))
                    task = asyncio.create_task(server.serve())
                    try:
                        for _ in range(1500):
                            if server.started:
                                break
                            await asyncio.sleep(0.02)
                        started.set()
                        await asyncio.to_thread(stop.wait)
                    finally:
                        server.should_exit = True
                        await asyncio.wait_for(task, timeout=10)

            def run() -> None:
                try:
                    asyncio.run(serve())
                except BaseException as exc:  # reported to the caller below
                    failure.append(exc)
                    started.set()

            thread = threading.Thread(target=run, name="gateway", daemon=True)
            thread.start()
            started.wait(60)
            if failure or not started.is_set():
                raise RuntimeError("the gateway thread did not start") from (failure[0] if failure else None)
            try:
                yield cls(app, f"http://127.0.0.1:{port}")
            finally:
                stop.set()
                thread.join(30)
            if failure:
                raise failure[0]
