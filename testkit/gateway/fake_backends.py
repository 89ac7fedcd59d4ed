"""Inventory, monitoring and load balancer stand-ins on the bus, for the gateway's tests and UI tests.

``FakeBackends`` composes the three back-end stand-ins (``testkit/<service>/standin.py``) that
also answer the scaler's commands, seeded with a small estate: two VMs in the ``web`` job and
pool, a template, datastores, clusters, folders, alert rules and a VIP. Real subscribers on the
test's subject prefix that keep state, not mocks: the gateway talks to them exactly as it talks to
the real services. It also beats for every back-end service and answers the scaler's health query.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from faststream.nats import NatsRouter

from shared import subjects
from shared.bus import Bus
from shared.messages import (
    DatastoreInfo,
    FolderInfo,
    HealthQuery,
    HealthReply,
    InventoryObject,
    PoolMember,
    ServiceHeartbeat,
    TemplateInfo,
    VirtualServerInfo,
    VmInfo,
    utcnow,
)
from shared.runtime import VERSION
from testkit.gateway.backend_data import up_member
from testkit.inventory.standin import FakeVm, InventoryStandIn
from testkit.loadbalancer.standin import LoadbalancerStandIn
from testkit.monitoring.standin import MonitoringStandIn
from testkit.standin import StandIn

__all__ = ["FakeBackends"]

VMS = (
    VmInfo(name="web-01", moref="vm-1", power_state="poweredOn", ip="127.0.10.11"),
    VmInfo(name="web-02", moref="vm-2", power_state="poweredOn", ip="127.0.10.12"),
)
TEMPLATES = (TemplateInfo(vm=VmInfo(name="ubuntu-22-template", moref="vm-9", template=True), description="base image"),)
ESTATE: dict[str, Any] = {
    "datastores": (
        DatastoreInfo(moref="datastore-11", name="ds-01", datacenter="DC1", capacity=2 << 40, free_space=1 << 40),
        DatastoreInfo(moref="datastore-12", name="ds-02", datacenter="DC1", capacity=1 << 40, free_space=3 << 37),
    ),
    "clusters": (InventoryObject(moref="domain-c7", name="cluster-01", datacenter="DC1", path="/DC1/host/cluster-01"),),
    "hosts": (
        InventoryObject(moref="host-21", name="127.0.20.1", datacenter="DC1", parent="cluster-01"),
        InventoryObject(moref="host-22", name="127.0.20.2", datacenter="DC1", parent="cluster-01"),
    ),
    "resource_pools": (
        InventoryObject(moref="resgroup-8", name="Resources", datacenter="DC1", parent="cluster-01"),
        InventoryObject(moref="resgroup-31", name="web", datacenter="DC1", parent="cluster-01"),
    ),
    "folders": (
        FolderInfo(moref="group-v41", name="vmscale", path="vmscale", datacenter="DC1"),
        FolderInfo(moref="group-v42", name="web", path="vmscale/web", datacenter="DC1"),
    ),
}
"""The inventory's vCenter picture besides VMs and templates."""
ALERTS: tuple[dict[str, Any], ...] = (
    {
        "labels": {"alertname": "web_HighResourceUsage", "service": "web", "severity": "warning"},
        "annotations": {"summary": "CPU above 80% on web-01"},
        "startsAt": "2026-01-01T10:00:00Z",
        "status": {"state": "active"},
    },
)
"""Alerts as Alertmanager's v2 API lists them."""
VIPS = (VirtualServerInfo(name="web-vs", address="127.0.10.100", port=80, pool="web-pool"),)


class FakeBackends:
    """Inventory, monitoring and load balancer stand-ins with one estate.

    Keywords name what to seed: ``vms`` (``VmInfo``), ``members`` (pool → ``PoolMember``s),
    ``jobs`` (job → how many of the VMs it scrapes), and any field of a stand-in
    (``templates``, ``vcenter_synced``, ``prometheus_up``, ``grafana_up``, ``alerts``, …).
    ``vcenter_synced=False`` is an inventory that has not reached vCenter yet;
    ``prometheus_up=False`` makes the Prometheus-backed monitoring queries answer
    ``ServiceUnavailable`` as the monitoring service does.
    """

    services: tuple[str, ...] = ("inventory", "monitoring", "scaler", "loadbalancer")

    def __init__(
        self,
        *,
        vms: tuple[VmInfo, ...] = VMS,
        members: dict[str, tuple[PoolMember, ...]] | None = None,
        jobs: dict[str, int] | None = None,
        **fields: Any,
    ) -> None:
        self.inventory = InventoryStandIn(templates=TEMPLATES, **ESTATE)
        self.monitoring = MonitoringStandIn(alerts=ALERTS)
        self.loadbalancer = LoadbalancerStandIn(virtual_servers=VIPS)
        for name, value in fields.items():
            owner = next((s for s in self.standins if name in type(s).__dataclass_fields__), None)
            if owner is None:
                raise TypeError(f"no stand-in holds {name!r}")
            setattr(owner, name, value)
        self.vms = vms
        self.jobs = {"web": len(vms)} if jobs is None else jobs
        self.members = (
            {"web-pool": tuple(up_member(vm.name, vm.ip or "") for vm in vms)} if members is None else members
        )

    @property
    def standins(self) -> tuple[StandIn, ...]:
        """The three back-end services."""
        return (self.inventory, self.monitoring, self.loadbalancer)

    # -- the estate, by its old names -----------------------------------------------------------

    @property
    def vms(self) -> tuple[VmInfo, ...]:
        """The VMs the inventory lists."""
        return tuple(vm.info() for vm in self.inventory.vms.values())

    @vms.setter
    def vms(self, vms: tuple[VmInfo, ...]) -> None:
        """Replace the inventory's VMs; every scrape job then scrapes them."""
        self.inventory.vms = {info.name: FakeVm.of(info) for info in vms}
        self.jobs = dict.fromkeys(self.monitoring.jobs, len(vms))

    @property
    def jobs(self) -> dict[str, int]:
        """Prometheus jobs and their target counts."""
        return self.monitoring.target_counts()

    @jobs.setter
    def jobs(self, jobs: dict[str, int]) -> None:
        """Replace the scrape jobs: each scrapes the first ``count`` VMs (node exporter, :9100)."""
        known = [vm for vm in self.inventory.vms.values() if vm.ip]
        self.monitoring.jobs = set(jobs)
        self.monitoring.targets = {
            (job, vm.name): f"{vm.ip}:9100" for job, count in jobs.items() for vm in known[:count]
        }

    @property
    def members(self) -> dict[str, tuple[PoolMember, ...]]:
        """Every pool's members."""
        return {pool: self.loadbalancer.members_of(pool) for pool in self.loadbalancer.pool_names()}

    @members.setter
    def members(self, members: dict[str, tuple[PoolMember, ...]]) -> None:
        self.loadbalancer.pools = set(members)
        self.loadbalancer.members = {
            (pool, m.name): (m.address, m.port, m.state) for pool, found in members.items() for m in found
        }

    @property
    def templates(self) -> tuple[TemplateInfo, ...]:
        """The inventory's templates."""
        return self.inventory.templates

    @templates.setter
    def templates(self, templates: tuple[TemplateInfo, ...]) -> None:
        self.inventory.templates = templates

    @property
    def alerts(self) -> tuple[dict[str, Any], ...]:
        """Alertmanager's active alerts."""
        return self.monitoring.alerts

    @alerts.setter
    def alerts(self, alerts: tuple[dict[str, Any], ...]) -> None:
        self.monitoring.alerts = alerts

    # -- on the bus -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def heartbeats(self, bus: Bus, interval_s: float = 0.5) -> AsyncIterator[None]:
        """Beat for every backend service while inside, so the gateway reports them alive."""
        started = utcnow()

        async def beat() -> None:
            while True:
                for service in self.services:
                    await bus.publish(
                        subjects.HEARTBEAT,
                        ServiceHeartbeat(
                            service=service,
                            instance=f"{service}-stand-in",
                            pid=os.getpid(),
                            started_at=started,
                            version=VERSION,
                        ),
                    )
                await asyncio.sleep(interval_s)

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def router(self, bus: Bus) -> NatsRouter:
        """Responders for inventory, monitoring and load balancer queries (and the scaler's health)."""
        router = NatsRouter()
        for standin in self.standins:
            standin.add_queries(router, bus)

        @bus.responder(router, subjects.health_query("scaler"), "scaler")
        async def scaler_health(query: HealthQuery) -> HealthReply:
            return self.health("scaler")

        return router

    def health(self, service: str) -> HealthReply:
        """What ``service`` answers about itself and the external systems it drives (no Jenkins)."""
        for standin in self.standins:
            if standin.service == service:
                return standin.health()
        return HealthReply(
            service=service,
            healthy=True,
            checks={"nats": "ok", "database": "ok", "redis": "ok"},
            latency_ms={},
            external=[],
        )
