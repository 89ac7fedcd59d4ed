"""Contract suites of the monitoring ports: each runs against the in-memory fake (unit tier)
and against the real system or lab simulator (integration tier)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.monitoring.ports import AlertmanagerApi, ConfigStore, Dashboards
from shared.errors import Conflict, InvalidInput

__all__ = ["AlertmanagerSilencesContract", "ConfigStoreContract", "DashboardsContract"]


class ConfigStoreContract:
    """What every ``ConfigStore`` must do."""

    @pytest.fixture
    def store(self) -> ConfigStore:
        return self.make_store()

    def make_store(self) -> ConfigStore:
        raise NotImplementedError

    async def test_a_written_file_reads_back_and_is_listed(self, store: ConfigStore) -> None:
        await store.write("web.json", b"[]\n")
        assert await store.read("web.json") == b"[]\n"
        assert "web.json" in await store.names(".json")

    async def test_a_missing_file_reads_as_none_and_deletes_as_false(self, store: ConfigStore) -> None:
        assert await store.read("nothing.json") is None
        assert await store.delete("nothing.json") is False

    async def test_a_rewrite_replaces_the_whole_content(self, store: ConfigStore) -> None:
        await store.write("job.json", b"a much longer first version\n")
        await store.write("job.json", b"short\n")
        assert await store.read("job.json") == b"short\n"

    async def test_delete_removes_the_file(self, store: ConfigStore) -> None:
        await store.write("gone.yml", b"x")
        assert await store.delete("gone.yml") is True
        assert await store.read("gone.yml") is None
        assert "gone.yml" not in await store.names()

    async def test_names_filter_by_suffix_and_hide_temporaries(self, store: ConfigStore) -> None:
        await store.write("a.json", b"1")
        await store.write("b.yml", b"2")
        assert await store.names(".json") == ["a.json"]
        assert all(not n.startswith(".") for n in await store.names())

    @pytest.mark.parametrize("name", ["../escape.json", "", ".hidden", "sub/dir.json"])
    async def test_a_path_instead_of_a_file_name_is_refused(self, store: ConfigStore, name: str) -> None:
        with pytest.raises(InvalidInput):
            await store.write(name, b"x")


class AlertmanagerSilencesContract:
    """What every ``AlertmanagerApi`` must do with silences and reloads."""

    @pytest.fixture
    def alertmanager(self) -> AlertmanagerApi:
        return self.make_alertmanager()

    def make_alertmanager(self) -> AlertmanagerApi:
        raise NotImplementedError

    def _silence(self, **overrides: Any) -> dict[str, Any]:
        now = datetime.now(UTC)
        body = {
            "matchers": [
                {"name": "service", "value": f"svc-{uuid.uuid4().hex[:6]}", "isRegex": False, "isEqual": True}
            ],
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(minutes=30)).isoformat(),
            "createdBy": "contract",
            "comment": "contract test",
        }
        return {**body, **overrides}

    async def test_a_created_silence_is_listed_active(self, alertmanager: AlertmanagerApi) -> None:
        silence_id = await alertmanager.put_silence(self._silence())
        found = {s["id"]: s for s in await alertmanager.silences()}
        assert found[silence_id]["status"]["state"] == "active"

    async def test_updating_by_id_extends_the_same_silence(self, alertmanager: AlertmanagerApi) -> None:
        body = self._silence()
        silence_id = await alertmanager.put_silence(body)
        later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        again = await alertmanager.put_silence({**body, "id": silence_id, "endsAt": later})
        ours = [s for s in await alertmanager.silences() if s["matchers"] == body["matchers"]]
        active = [s for s in ours if s["status"]["state"] == "active"]
        assert len(active) == 1
        assert again == active[0]["id"]

    async def test_an_expired_silence_is_no_longer_active(self, alertmanager: AlertmanagerApi) -> None:
        silence_id = await alertmanager.put_silence(self._silence())
        assert await alertmanager.expire_silence(silence_id) is True
        await asyncio.sleep(0.05)
        state = {s["id"]: s["status"]["state"] for s in await alertmanager.silences()}
        assert state[silence_id] == "expired"

    async def test_a_silence_without_matchers_is_refused(self, alertmanager: AlertmanagerApi) -> None:
        with pytest.raises(InvalidInput):
            await alertmanager.put_silence(self._silence(matchers=[]))


class DashboardsContract:
    """What every ``Dashboards`` must do; ``make_folder`` creates a folder and returns its uid."""

    @pytest.fixture
    def dashboards(self) -> Dashboards:
        return self.make_dashboards()

    def make_dashboards(self) -> Dashboards:
        raise NotImplementedError

    async def make_folder(self, dashboards: Dashboards) -> str:
        raise NotImplementedError

    async def folder_of(self, dashboards: Dashboards, uid: str) -> str:
        raise NotImplementedError

    def _dashboard(self, uid: str, title: str) -> dict[str, Any]:
        return {"id": None, "uid": uid, "title": title, "panels": [], "schemaVersion": 39}

    async def test_an_update_without_a_folder_keeps_the_dashboard_in_its_folder(self, dashboards: Dashboards) -> None:
        folder = await self.make_folder(dashboards)
        uid = f"dashboard-{uuid.uuid4().hex[:8]}"
        await dashboards.upsert(self._dashboard(uid, f"t {uid}"), folder_uid=folder)
        await dashboards.upsert(self._dashboard(uid, f"t {uid} v2"))
        assert await self.folder_of(dashboards, uid) == folder

    async def test_upsert_is_idempotent(self, dashboards: Dashboards) -> None:
        uid = f"dashboard-{uuid.uuid4().hex[:8]}"
        first = await dashboards.upsert(self._dashboard(uid, f"t {uid}"))
        second = await dashboards.upsert(self._dashboard(uid, f"t {uid}"))
        assert first.split("/")[2] == second.split("/")[2] == uid

    async def test_a_title_held_by_another_uid_in_the_folder_is_a_conflict(self, dashboards: Dashboards) -> None:
        title = f"same {uuid.uuid4().hex[:8]}"
        await dashboards.upsert(self._dashboard(f"a-{uuid.uuid4().hex[:8]}", title))
        with pytest.raises(Conflict):
            await dashboards.upsert(self._dashboard(f"b-{uuid.uuid4().hex[:8]}", title))

    async def test_delete_reports_whether_the_dashboard_existed(self, dashboards: Dashboards) -> None:
        uid = f"dashboard-{uuid.uuid4().hex[:8]}"
        await dashboards.upsert(self._dashboard(uid, f"t {uid}"))
        assert await dashboards.delete(uid) is True
        assert await dashboards.delete(uid) is False

    async def test_annotations_get_ids(self, dashboards: Dashboards) -> None:
        first = await dashboards.annotate("scale-out web", ["vmscale", "web"])
        second = await dashboards.annotate("scale-in web", ["vmscale", "web"])
        assert second != first
