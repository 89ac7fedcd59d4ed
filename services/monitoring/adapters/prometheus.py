"""Prometheus over its HTTP API (injected ``httpx.AsyncClient``)."""

from __future__ import annotations

from typing import Any

import httpx

from services.monitoring.adapters.http import send
from shared.errors import ConfigurationError

__all__ = ["PrometheusHttp"]


class PrometheusHttp:
    """``PrometheusApi`` against a Prometheus started with ``--web.enable-lifecycle``."""

    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self.reloads = 0

    async def reload(self) -> None:
        """``POST /-/reload``; 500 means the new files were rejected (the old ones stay)."""
        self.reloads += 1
        response = await send(self._client, "POST", f"{self._base}/-/reload", system="prometheus", accept=(500,))
        if response.status_code == 500:
            raise ConfigurationError("Prometheus rejected the reload", reason=response.text.strip()[:500])

    async def ping(self) -> None:
        """``GET /api/v1/status/buildinfo``."""
        await self._data("/api/v1/status/buildinfo")

    async def _data(self, path: str, **params: Any) -> Any:
        response = await send(self._client, "GET", f"{self._base}{path}", system="prometheus", params=params)
        return response.json().get("data")

    async def targets(self) -> list[dict[str, Any]]:
        """Active targets with health."""
        data = await self._data("/api/v1/targets", state="active")
        return list(data.get("activeTargets") or [])

    async def rule_groups(self) -> list[dict[str, Any]]:
        """Loaded rule groups."""
        data = await self._data("/api/v1/rules")
        return list(data.get("groups") or [])

    async def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts."""
        data = await self._data("/api/v1/alerts")
        return list(data.get("alerts") or [])

    async def query_range(self, expr: str, start: float, end: float, step_s: int) -> list[dict[str, Any]]:
        """The matrix result of a range query."""
        data = await self._data("/api/v1/query_range", query=expr, start=start, end=end, step=step_s)
        return list((data or {}).get("result") or [])
