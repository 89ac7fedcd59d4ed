"""The in-memory fakes honour the same contracts as the real adapters."""

from __future__ import annotations

from services.monitoring.ports import Dashboards
from testkit.monitoring.memory import MemoryAlertmanager, MemoryDashboards, MemoryStore
from tests.contracts.monitoring_ports import AlertmanagerSilencesContract, ConfigStoreContract, DashboardsContract


class TestMemoryStore(ConfigStoreContract):
    def make_store(self) -> MemoryStore:
        return MemoryStore()


class TestMemoryAlertmanager(AlertmanagerSilencesContract):
    def make_alertmanager(self) -> MemoryAlertmanager:
        return MemoryAlertmanager()


class TestMemoryDashboards(DashboardsContract):
    def make_dashboards(self) -> MemoryDashboards:
        return MemoryDashboards()

    async def make_folder(self, dashboards: Dashboards) -> str:
        return "folder-1"

    async def folder_of(self, dashboards: Dashboards, uid: str) -> str:
        assert isinstance(dashboards, MemoryDashboards)
        return dashboards.folders[uid]
