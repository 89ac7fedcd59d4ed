"""Composition root of the inventory service: build everything from settings, connect nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from faststream import FastStream

from services.inventory.adapters.sql import SqlOperationStore
from services.inventory.adapters.sql_claims import SqlOperationClaims
from services.inventory.adapters.tables import leases as lease_table
from services.inventory.adapters.vcenter import VcenterProvisioner
from services.inventory.adapters.vcenter_session import ConnectionParams, VcenterSession
from services.inventory.adapters.vcenter_watch import VcenterInventory
from services.inventory.context import Timeouts
from services.inventory.handlers import build_routers
from services.inventory.metrics import register_inventory_metrics
from services.inventory.ports import InventoryReader, OperationStore, VmProvisioner
from services.inventory.service import InventoryService
from services.inventory.settings import InventorySettings
from shared.messages import Event
from shared.runtime import ServiceRuntime, threaded_check
from shared.singleton_sql import SqlLeases
from shared.subjects import Subject

__all__ = ["create_app", "create_service"]


def _session(settings: InventorySettings) -> VcenterSession:
    return VcenterSession(
        ConnectionParams(
            host=settings.vcenter_host,
            port=settings.vcenter_port,
            username=settings.vcenter_username,
            password=settings.vcenter_password.get_secret_value(),
            protocol=settings.vcenter_protocol,
            verify_tls=not settings.vcenter_insecure,
            ca_file=settings.vcenter_ca_file,
            timeout_s=settings.vcenter_call_timeout_s,
        )
    )


def create_service(
    settings: InventorySettings,
    runtime: ServiceRuntime,
    *,
    reader: InventoryReader | None = None,
    provisioner: VmProvisioner | None = None,
    store: OperationStore | None = None,
) -> InventoryService:
    """Wire the service into ``runtime`` (vCenter adapters unless others are given)."""
    session = None
    if reader is None or provisioner is None:
        session = _session(settings)
        reader = reader or VcenterInventory(session, page_size=settings.page_size)
        provisioner = provisioner or VcenterProvisioner(session)

    async def publish(subject: Subject[Any], event: Event) -> None:
        await runtime.bus.publish(subject, event)

    service = InventoryService(
        reader,
        provisioner,
        publish,
        timeouts=Timeouts(
            task_s=settings.task_timeout_s,
            ip_s=settings.ip_timeout_s,
            poll_s=settings.ip_poll_s,
            republish_s=settings.republish_interval_s,
            claim_ttl_s=settings.operation_claim_ttl_s,
        ),
        wait_s=settings.watch_wait_s,
        resync_s=settings.watch_resync_s,
        backoff_s=settings.retry_backoff_s,
        page_size=settings.query_page_size,
    )
    for router in build_routers(runtime.bus, service):
        runtime.include(router)
    register_inventory_metrics(runtime.registry, service)

    async def start() -> None:
        if store is not None:  # a test's store: one replica
            await service.start(store)
            return
        engine = runtime.require_engine()
        await service.start(
            SqlOperationStore(engine),
            claims=SqlOperationClaims(engine),
            owner=runtime.instance,
            leases=SqlLeases(engine, lease_table),
            lease_ttl_s=settings.singleton_ttl_s,
        )

    async def stop() -> None:
        await service.stop()
        if session is not None:
            await asyncio.to_thread(session.close)

    runtime.add_check("vcenter", threaded_check(reader.ping), critical=False)
    runtime.on_startup(start)
    runtime.on_shutdown(stop)
    return service


def create_app(settings: InventorySettings, runtime: ServiceRuntime | None = None) -> FastStream:
    """The FastStream app of the inventory service."""
    runtime = runtime or ServiceRuntime("inventory", settings)
    create_service(settings, runtime)
    return runtime.app()
