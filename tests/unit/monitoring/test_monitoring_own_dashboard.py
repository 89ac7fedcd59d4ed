"""vmscale's own dashboard is provisioned into Grafana like the per-job ones, and a Grafana
that is down at start is waited out rather than failing the service."""

from __future__ import annotations

from typing import Any

from services.monitoring.own_dashboard import provision_own_dashboard
from shared.errors import ServiceUnavailable
from shared.observability import DASHBOARD_UID
from testkit.monitoring.memory import MemoryDashboards


class DownThenUp(MemoryDashboards):
    """Grafana refusing the first ``outages`` calls, then keeping dashboards like the fake."""

    def __init__(self, outages: int) -> None:
        super().__init__()
        self.outages = outages
        self.calls = 0

    async def upsert(self, dashboard: dict[str, Any], folder_uid: str | None = None) -> str:
        self.calls += 1
        if self.calls <= self.outages:
            raise ServiceUnavailable("grafana is unreachable")
        return await super().upsert(dashboard, folder_uid)


async def test_the_dashboard_lands_in_its_folder_bound_to_the_data_source() -> None:
    grafana = MemoryDashboards()
    url = await provision_own_dashboard(grafana, "lab-prom", "ops")
    assert url == f"/d/{DASHBOARD_UID}"
    assert grafana.folders[DASHBOARD_UID] == "ops"
    model = grafana.dashboards[DASHBOARD_UID]
    assert {panel["datasource"]["uid"] for panel in model["panels"]} == {"lab-prom"}


async def test_a_grafana_outage_at_start_is_retried_until_it_answers() -> None:
    grafana = DownThenUp(outages=2)
    await provision_own_dashboard(grafana, "prometheus", retry_s=0)
    assert grafana.calls == 3 and DASHBOARD_UID in grafana.dashboards
