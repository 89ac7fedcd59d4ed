"""Composition root of the monitoring service: build everything from settings, connect nothing.

The HTTP client, adapters and use cases are built here; the client is closed on shutdown.
With ``targets_mode = "http_sd"`` an authenticated endpoint serves the target groups to
Prometheus' ``http_sd_configs``. The file leases (``locks.LeaseLocks``) live in the service's
database, bound in the start hook once the runtime has migrated it.
"""

from __future__ import annotations

import httpx
from faststream import FastStream

from services.monitoring.adapters.tables import leases as lease_table
from services.monitoring.agents import AgentInstaller
from services.monitoring.handlers import build_routers
from services.monitoring.http_sd import HttpSdServer
from services.monitoring.own_dashboard import provision_own_dashboard
from services.monitoring.service import MonitoringService
from services.monitoring.settings import MonitoringSettings
from services.monitoring.wiring import Monitoring, build_artifacts, build_monitoring
from shared.late import Late
from shared.runtime import ServiceRuntime
from shared.singleton import Leases
from shared.singleton_sql import SqlLeases

__all__ = ["build_service", "create_app"]


def build_service(
    settings: MonitoringSettings, client: httpx.AsyncClient, parts: Monitoring | None = None
) -> MonitoringService:
    """The use cases of the service over real adapters (``parts`` when already built)."""
    parts = parts or build_monitoring(settings, client)

    async def probe(address: str, port: int) -> bool:
        try:
            response = await client.get(f"http://{address}:{port}/metrics", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    return MonitoringService(
        settings,
        parts.registry,
        parts.alerting,
        parts.dashboards,
        AgentInstaller(parts.vms, probe),
        build_artifacts(settings, client),
    )


def create_app(settings: MonitoringSettings, runtime: ServiceRuntime | None = None) -> FastStream:
    """The FastStream app of the monitoring service."""
    runtime = runtime or ServiceRuntime("monitoring", settings)
    client = httpx.AsyncClient(timeout=settings.http_timeout_s)
    leases: Late[Leases] = Late("file leases")
    parts = build_monitoring(settings, client, leases=leases.proxy(), owner=runtime.instance)
    service = build_service(settings, client, parts)
    for router in build_routers(runtime.bus, service):
        runtime.include(router)
    http_sd = HttpSdServer(service.registry, settings) if settings.targets_mode == "http_sd" else None

    async def start() -> None:
        leases.bind(SqlLeases(runtime.require_engine(), lease_table))
        if http_sd is not None:
            await http_sd.start()

    async def stop() -> None:
        if http_sd is not None:
            await http_sd.stop()
        await client.aclose()

    async def read_config() -> None:  # one read of Alertmanager's file: in a local directory or over SFTP
        await service.alerting.routes()

    runtime.add_check("prometheus", parts.prometheus.ping, critical=False)
    runtime.add_check("alertmanager", parts.alertmanager.ping, critical=False)
    if parts.dashboards is not None:
        runtime.add_check("grafana", parts.dashboards.ping, critical=False)
    runtime.add_check("config_files", read_config, critical=False)
    dashboards = parts.dashboards
    if dashboards is not None:

        async def own_dashboard() -> None:
            await provision_own_dashboard(dashboards, settings.grafana_datasource_uid, settings.grafana_folder_uid)

        runtime.background(own_dashboard)
    runtime.on_startup(start)
    runtime.on_shutdown(stop)
    return runtime.app()
