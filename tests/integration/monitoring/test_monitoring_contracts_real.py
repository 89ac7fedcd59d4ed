"""The real adapters honour the port contracts: local and SFTP stores, Alertmanager, Grafana."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.monitoring.adapters.alertmanager import AlertmanagerHttp
from services.monitoring.adapters.files import LocalDirStore, SftpDirStore
from services.monitoring.adapters.grafana import GrafanaHttp
from services.monitoring.adapters.ssh import AsyncsshConnector
from services.monitoring.ports import Dashboards
from tests.contracts.monitoring_lab import MonitoringLab
from tests.contracts.monitoring_ports import AlertmanagerSilencesContract, ConfigStoreContract, DashboardsContract


class TestLocalDirStore(ConfigStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> LocalDirStore:
        return LocalDirStore(tmp_path / "file_sd", backups_kept=2)

    async def test_backups_are_bounded(self, store: LocalDirStore) -> None:
        for n in range(5):
            await store.write("alertmanager.yml", f"v{n}".encode())
        backups = sorted((store.directory / ".backup").iterdir())
        assert [p.read_text() for p in backups] == ["v2", "v3"]


class TestSftpDirStore(ConfigStoreContract):
    """The PLG host reached over SFTP (the lab sshd), no sudo: vmscale owns the directory."""

    @pytest.fixture
    async def store(self, monitoring_lab: MonitoringLab, tmp_path: Path) -> AsyncIterator[SftpDirStore]:
        connector = AsyncsshConnector(
            user=monitoring_lab.sshd.user,
            key_file=monitoring_lab.sshd.user_key,
            known_hosts=tmp_path / "known_hosts",
            port=monitoring_lab.config.sshd_port,
        )
        store = SftpDirStore(connector, "127.0.0.1", str(tmp_path / "remote" / "rules"), backups_kept=1)
        yield store
        await store.close()

    async def test_a_rewrite_is_a_rename_and_keeps_one_backup(self, store: SftpDirStore, tmp_path: Path) -> None:
        for n in range(3):
            await store.write("web.yml", f"v{n}".encode())
        directory = tmp_path / "remote" / "rules"
        assert (directory / "web.yml").read_text() == "v2"
        assert [p.read_text() for p in (directory / ".backup").iterdir()] == ["v1"]
        assert not [p for p in directory.iterdir() if p.name.endswith(".vmscale-tmp")]


class TestAlertmanagerHttp(AlertmanagerSilencesContract):
    @pytest.fixture
    async def alertmanager(self, monitoring_lab: MonitoringLab) -> AsyncIterator[AlertmanagerHttp]:
        async with httpx.AsyncClient(timeout=10) as client:
            yield AlertmanagerHttp(client, monitoring_lab.alertmanager_url)


class TestGrafanaHttp(DashboardsContract):
    """Against the Grafana simulator (written from Grafana's HTTP API docs)."""

    @pytest.fixture
    async def dashboards(self, monitoring_lab: MonitoringLab) -> AsyncIterator[GrafanaHttp]:
        token = monitoring_lab.grafana.token_file.read_text().strip()
        async with httpx.AsyncClient(timeout=10) as client:
            self.base = monitoring_lab.grafana_url
            self.headers = {"Authorization": f"Bearer {token}"}
            yield GrafanaHttp(client, monitoring_lab.grafana_url, token)

    async def make_folder(self, dashboards: Dashboards) -> str:
        uid = f"f-{uuid.uuid4().hex[:8]}"
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{self.base}/api/folders", json={"uid": uid, "title": uid}, headers=self.headers
            )
        assert response.status_code == 200
        return uid

    async def folder_of(self, dashboards: Dashboards, uid: str) -> str:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{self.base}/api/dashboards/uid/{uid}", headers=self.headers)
        return str(response.json()["meta"]["folderUid"])
