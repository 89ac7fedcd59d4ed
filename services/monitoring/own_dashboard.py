"""vmscale's own dashboard (``shared.observability``), provisioned into Grafana like the per-job
ones: once at start, and again every ``retry_s`` until Grafana has taken it."""

from __future__ import annotations

import asyncio

from services.monitoring.ports import Dashboards
from shared.errors import VmscaleError
from shared.observability import DASHBOARD_UID, dashboard
from shared.telemetry import get_logger

__all__ = ["provision_own_dashboard"]

log = get_logger(__name__)


async def provision_own_dashboard(
    dashboards: Dashboards, datasource_uid: str, folder_uid: str = "", retry_s: float = 10.0
) -> str:
    """Create or update the vmscale dashboard; returns its URL path. A Grafana outage is waited
    out (logged, retried), never fatal: the service runs without its dashboard meanwhile."""
    while True:
        try:
            url = await dashboards.upsert(dashboard(datasource_uid), folder_uid or None)
        except VmscaleError as exc:
            log.warning("vmscale dashboard not provisioned yet; retrying", uid=DASHBOARD_UID, error=str(exc))
            await asyncio.sleep(retry_s)
            continue
        log.info("vmscale dashboard provisioned", uid=DASHBOARD_UID, url=url)
        return url
