"""Fixtures for the inventory against vcsim: a topology, the simulator, the service, a client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from faststream.nats import NatsRouter
from faststream.nats.annotations import NatsMessage

from lab.vcsim import Vcsim, start_vcsim
from services.inventory.app import create_service
from services.inventory.service import InventoryService
from services.inventory.settings import InventorySettings
from shared import subjects
from shared.bus import Bus, DeadLetterPolicy, Topology, build_broker
from shared.runtime import ServiceRuntime

TOPOLOGY: dict[str, Any] = {
    "datacenters": [
        {
            "name": "DC1",
            "folders": ["templates/linux", "prod/web", "prod/db", "scratch"],
            "networks": ["lab-net", "backend-net"],
            "datastores": ["ds1", "ds2"],
            "clusters": [{"name": "c1", "hosts": 2, "pools": ["web"]}],
            "vms": [
                {"name": "tpl-web", "folder": "templates/linux", "template": True, "nics": [{"network": "lab-net"}]},
                {
                    "name": "web-{n}",
                    "count": 3,
                    "start": 1,
                    "folder": "prod/web",
                    "pool": "web",
                    "nics": [{"network": "lab-net", "ip_base": "127.0.10.11"}],
                },
                {
                    "name": "web-10",
                    "folder": "prod/web",
                    "pool": "web",
                    "nics": [{"network": "lab-net", "ip": "127.0.10.20"}],
                },
                {
                    "name": "db-1",
                    "folder": "prod/db",
                    "datastore": "ds2",
                    "nics": [
                        {"network": "lab-net", "ip": "127.0.10.50"},
                        {"network": "backend-net", "ip": "127.0.20.50", "ipv6": ["fd00::50"]},
                    ],
                },
                {"name": "idle-1", "folder": "scratch", "power": "off", "nics": [{"network": "lab-net"}]},
                {"name": "vCLS-0001", "power": "on", "nics": [{}]},
            ],
        },
        {
            "name": "DC2",
            "folders": ["templates/linux"],
            "networks": ["lab-net"],
            "datastores": ["ds1"],
            "hosts": ["esx-dc2"],
            "vms": [
                {"name": "tpl-dc2", "folder": "templates/linux", "host": "esx-dc2", "template": True, "nics": [{}]},
                {"name": "app-1", "host": "esx-dc2", "nics": [{"ip": "127.0.11.5"}]},
            ],
        },
    ]
}

EVENTS = [
    subjects.VM_CLONED,
    subjects.VM_POWERED_ON,
    subjects.VM_POWERED_OFF,
    subjects.VM_IP_ASSIGNED,
    subjects.VM_DESTROYED,
    subjects.VM_OPERATION_FAILED,
    subjects.TEMPLATE_CREATED,
    subjects.TEMPLATE_DELETED,
]


@pytest.fixture
def vcsim(tmp_path: Path) -> Iterator[Vcsim]:
    """A simulator serving ``TOPOLOGY``."""
    server = start_vcsim(TOPOLOGY, tmp_path / "vcsim")
    try:
        yield server
    finally:
        server.stop()


def inventory_settings(vcsim: Vcsim, nats_url: str, prefix: str, state: Path, **overrides: Any) -> InventorySettings:
    """Settings for a service against ``vcsim`` with compressed timings."""
    values: dict[str, Any] = {
        "nats_url": nats_url,
        "subject_prefix": prefix,
        "state_dir": state,
        "metrics_port": 0,
        "vcenter_host": vcsim.host,
        "vcenter_port": vcsim.port,
        "vcenter_protocol": "http",
        "vcenter_username": vcsim.username,
        "vcenter_password": vcsim.password,
        "task_timeout_s": 20,
        "ip_timeout_s": 5,
        "ip_poll_s": 0.1,
        "watch_wait_s": 1,
        "retry_backoff_s": 0.2,
        "retry_delay_s": 0.1,
        "heartbeat_interval_s": 1,
    }
    values.update(overrides)
    return InventorySettings(**values)


class Client:
    """Stands in for the scaler and the gateway: commands, events, queries."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.events: list[tuple[str, Any]] = []
        router = NatsRouter()
        for subject in EVENTS:
            self._listen(router, subject)
        bus.broker.include_router(router)

    def _listen(self, router: NatsRouter, subject: Any) -> None:
        @router.subscriber(self.bus.topology.subject(subject))
        async def collect(message: NatsMessage) -> None:
            self.events.append((subject.name, subject.model.model_validate_json(message.body)))

    async def expect(self, subject: Any, timeout: float = 20.0, **fields: Any) -> Any:
        """The first event on ``subject`` whose fields match."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for name, message in self.events:
                if name == subject.name and all(getattr(message, k) == v for k, v in fields.items()):
                    return message
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {subject.name} with {fields}; got {self.events}")

    def seen(self, subject: Any) -> list[Any]:
        """Every event received on ``subject``."""
        return [message for name, message in self.events if name == subject.name]

    async def ask(self, subject: Any, query: Any) -> Any:
        """A query's reply (errors in the reply fail the test)."""
        reply = await self.bus.request(subject, query, timeout=10)
        assert reply.error is None, reply.error
        return reply


@pytest.fixture
async def client(nats_url: str, prefix: str) -> AsyncIterator[Client]:
    """A bus client on this test's prefix."""
    bus = build_broker(nats_url, client_name="inventory-test", topology=Topology(prefix), policy=DeadLetterPolicy())
    c = Client(bus)
    await bus.connect()
    await bus.broker.start()
    try:
        yield c
    finally:
        await bus.broker.stop()


class Running:
    """An in-process inventory service."""

    def __init__(self, runtime: ServiceRuntime, service: InventoryService) -> None:
        self.runtime = runtime
        self.service = service

    async def synced(self, timeout: float = 20.0) -> None:
        """Wait for the cold sync."""
        await asyncio.wait_for(self.service.watcher.synced.wait(), timeout)


@pytest.fixture
async def inventory(
    vcsim: Vcsim, nats_url: str, prefix: str, tmp_path: Path, js_cleanup: None
) -> AsyncIterator[Running]:
    """The inventory service against ``vcsim``, started and synced."""
    settings = inventory_settings(vcsim, nats_url, prefix, tmp_path / "state")
    runtime = ServiceRuntime("inventory", settings)
    service = create_service(settings, runtime)
    await runtime.start()
    await runtime.bus.broker.start()
    running = Running(runtime, service)
    try:
        await running.synced()
        yield running
    finally:
        await runtime.bus.broker.stop()
        await runtime.stop()
