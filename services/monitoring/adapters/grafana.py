"""Grafana's HTTP API (legacy ``/api`` endpoints, service-account bearer token)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import httpx

from services.monitoring.adapters.http import send
from shared.errors import Conflict

__all__ = ["GrafanaHttp"]


class GrafanaHttp:
    """``Dashboards`` against Grafana; the token rides in the client's default headers."""

    def __init__(
        self, client: httpx.AsyncClient, base_url: str, token: str, *, basic: tuple[str, str] | None = None
    ) -> None:
        """``token``: a service-account token; or ``basic`` (user, password) as the original used."""
        self._client = client
        self._base = base_url.rstrip("/")
        if basic is not None:
            pair = base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode("ascii")
            self._headers = {"Authorization": f"Basic {pair}"}
        else:
            self._headers = {"Authorization": f"Bearer {token}"}

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await send(
            self._client, method, f"{self._base}{path}", system="grafana", headers=self._headers, **kwargs
        )

    async def ping(self) -> None:
        """``GET /api/search?limit=1`` with the token (``/api/health`` would not check the token)."""
        await self._call("GET", "/api/search", params={"limit": 1})

    async def listed(self) -> dict[str, tuple[str, str]]:
        """``GET /api/search?type=dash-db``: uid → (title, URL path)."""
        found = (await self._call("GET", "/api/search", params={"type": "dash-db", "limit": 5000})).json()
        return {str(d["uid"]): (str(d.get("title", "")), str(d.get("url", ""))) for d in found if d.get("uid")}

    async def upsert(self, dashboard: dict[str, Any], folder_uid: str | None = None) -> str:
        """Create or update by uid, keeping the current folder unless another one is named.

        Grafana moves a dashboard to the root when an update omits the folder, so the current
        folder is read first and sent back, with the current ``version``. A 412
        ``version-mismatch`` (someone saved in between) is answered by reading again, up to
        three times, after which vmscale's rendering wins (``overwrite``: vmscale owns these
        dashboards); ``name-exists`` (another uid holds the title in that folder) is a
        ``Conflict``.
        """
        uid = str(dashboard["uid"])
        for attempt in range(4):
            current = await self._call("GET", f"/api/dashboards/uid/{uid}", accept=(404,))
            folder, version = folder_uid, None
            if current.status_code == 200:
                found = current.json()
                version = found.get("dashboard", {}).get("version")
                if folder is None:
                    folder = str(found.get("meta", {}).get("folderUid") or "")
            model = {**dashboard, "id": None, "version": version}
            body: dict[str, Any] = {"dashboard": model, "overwrite": attempt == 3, "message": "vmscale"}
            if folder:
                body["folderUid"] = folder
            response = await self._call("POST", "/api/dashboards/db", json=body, accept=(412,))
            if response.status_code != 412:
                return str(response.json().get("url") or f"/d/{uid}")
            status = response.json().get("status")
            if status != "version-mismatch":
                raise Conflict("Grafana refused the dashboard", uid=uid, status=status)
        raise Conflict("the dashboard kept changing under us", uid=uid, status="version-mismatch")  # pragma: no cover

    async def delete(self, uid: str) -> bool:
        """Delete by uid."""
        response = await self._call("DELETE", f"/api/dashboards/uid/{uid}", accept=(404,))
        return response.status_code == 200

    async def annotate(self, text: str, tags: Sequence[str], time_ms: int | None = None) -> int:
        """An organisation-wide annotation."""
        body: dict[str, Any] = {"text": text, "tags": list(tags)}
        if time_ms is not None:
            body["time"] = time_ms
        response = await self._call("POST", "/api/annotations", json=body)
        return int(response.json()["id"])
