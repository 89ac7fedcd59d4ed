"""Grafana: the simulator's 412 and folder semantics, and the adapter's handling of them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from services.monitoring.adapters.grafana import GrafanaHttp
from services.monitoring.domain import dashboard_uid, infrastructure_dashboard, jvm_dashboard, jvm_dashboard_uid
from shared.errors import Unauthorized
from tests.contracts.monitoring_lab import MonitoringLab


@pytest.fixture
async def api(monitoring_lab: MonitoringLab) -> AsyncIterator[httpx.AsyncClient]:
    token = monitoring_lab.grafana.token_file.read_text().strip()
    async with httpx.AsyncClient(
        base_url=monitoring_lab.grafana_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        yield client


@pytest.fixture
async def grafana(monitoring_lab: MonitoringLab) -> AsyncIterator[GrafanaHttp]:
    token = monitoring_lab.grafana.token_file.read_text().strip()
    async with httpx.AsyncClient(timeout=10) as client:
        yield GrafanaHttp(client, monitoring_lab.grafana_url, token)


async def test_the_simulator_moves_a_dashboard_to_the_root_when_an_update_omits_the_folder(
    api: httpx.AsyncClient,
) -> None:
    folder = f"f-{uuid.uuid4().hex[:6]}"
    await api.post("/api/folders", json={"uid": folder, "title": folder})
    uid = f"d-{uuid.uuid4().hex[:6]}"
    created = (
        await api.post("/api/dashboards/db", json={"dashboard": {"uid": uid, "title": uid}, "folderUid": folder})
    ).json()
    update = {"dashboard": {"uid": uid, "title": uid, "version": created["version"]}}
    assert (await api.post("/api/dashboards/db", json=update)).status_code == 200
    assert (await api.get(f"/api/dashboards/uid/{uid}")).json()["meta"]["folderUid"] == ""


async def test_the_simulator_answers_412_for_a_stale_version_and_a_taken_title(api: httpx.AsyncClient) -> None:
    uid = f"d-{uuid.uuid4().hex[:6]}"
    await api.post("/api/dashboards/db", json={"dashboard": {"uid": uid, "title": uid}})
    await api.post("/api/dashboards/db", json={"dashboard": {"uid": uid, "title": uid, "version": 1}})
    stale = await api.post("/api/dashboards/db", json={"dashboard": {"uid": uid, "title": uid, "version": 1}})
    assert (stale.status_code, stale.json()["status"]) == (412, "version-mismatch")
    taken = await api.post("/api/dashboards/db", json={"dashboard": {"uid": "other" + uid, "title": uid}})
    assert (taken.status_code, taken.json()["status"]) == (412, "name-exists")


async def test_the_infrastructure_dashboard_is_saved_in_its_folder_and_stays_there(
    grafana: GrafanaHttp, api: httpx.AsyncClient
) -> None:
    folder = f"f-{uuid.uuid4().hex[:6]}"
    await api.post("/api/folders", json={"uid": folder, "title": folder})
    job = f"job-{uuid.uuid4().hex[:6]}"
    dashboard = infrastructure_dashboard(job, service="web", environment="lab")
    await grafana.upsert(dashboard, folder_uid=folder)
    await grafana.upsert({**dashboard, "refresh": "10s"})
    stored = (await api.get(f"/api/dashboards/uid/dashboard-{job}")).json()
    assert stored["meta"]["folderUid"] == folder
    assert stored["dashboard"]["refresh"] == "10s"
    assert len(stored["dashboard"]["panels"]) == 10


async def test_concurrent_upserts_resolve_version_mismatches(grafana: GrafanaHttp, api: httpx.AsyncClient) -> None:
    job = f"job-{uuid.uuid4().hex[:6]}"
    dashboard = infrastructure_dashboard(job)
    await asyncio.gather(*(grafana.upsert({**dashboard, "refresh": f"{n}s"}) for n in range(1, 5)))
    assert (await api.get(f"/api/dashboards/uid/dashboard-{job}")).status_code == 200


async def test_a_saved_dashboard_is_listed_with_its_title_and_url(grafana: GrafanaHttp) -> None:
    job = f"job-{uuid.uuid4().hex[:6]}"
    await grafana.upsert(infrastructure_dashboard(job))
    await grafana.upsert(jvm_dashboard(job))
    listed = await grafana.listed()
    assert listed[dashboard_uid(job)][0] == f"{job} monitoring"
    assert listed[dashboard_uid(job)][1].startswith(f"/d/{dashboard_uid(job)}")
    assert listed[jvm_dashboard_uid(job)][0] == f"{job} JMX monitoring"
    await grafana.delete(dashboard_uid(job))
    assert dashboard_uid(job) not in await grafana.listed()


async def test_annotations_are_written(grafana: GrafanaHttp, api: httpx.AsyncClient) -> None:
    tag = f"group-{uuid.uuid4().hex[:6]}"
    await grafana.annotate("scale-out started", ["vmscale", tag])
    found = (await api.get("/api/annotations", params={"tags": tag})).json()
    assert [a["text"] for a in found] == ["scale-out started"]


async def test_a_wrong_token_is_unauthorized(monitoring_lab: MonitoringLab) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(Unauthorized):
            await GrafanaHttp(client, monitoring_lab.grafana_url, "glsa_wrong").annotate("x", [])


async def test_the_health_ping_checks_the_token_not_just_that_grafana_answers(
    grafana: GrafanaHttp, monitoring_lab: MonitoringLab
) -> None:
    await grafana.ping()
    async with httpx.AsyncClient(timeout=10) as client:
        with pytest.raises(Unauthorized):
            await GrafanaHttp(client, monitoring_lab.grafana_url, "not-the-token").ping()
