"""Alertmanager over its HTTP API v2 (injected ``httpx.AsyncClient``)."""

from __future__ import annotations

from typing import Any

import httpx

from services.monitoring.adapters.http import send
from shared.errors import ConfigurationError

__all__ = ["AlertmanagerHttp"]


class AlertmanagerHttp:
    """``AlertmanagerApi`` against Alertmanager 0.25+."""

    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._base = base_url.rstrip("/")

    async def reload(self) -> None:
        """``POST /-/reload``; 500 means the new config was not applied."""
        response = await send(self._client, "POST", f"{self._base}/-/reload", system="alertmanager", accept=(500,))
        if response.status_code == 500:
            raise ConfigurationError("Alertmanager rejected the reload", reason=response.text.strip()[:500])

    async def ping(self) -> None:
        """``GET /api/v2/status``."""
        await send(self._client, "GET", f"{self._base}/api/v2/status", system="alertmanager")

    async def silences(self) -> list[dict[str, Any]]:
        """Every silence, any state."""
        response = await send(self._client, "GET", f"{self._base}/api/v2/silences", system="alertmanager")
        return list(response.json())

    async def put_silence(self, silence: dict[str, Any]) -> str:
        """Create or (with ``id``) update a silence."""
        response = await send(
            self._client, "POST", f"{self._base}/api/v2/silences", system="alertmanager", json=silence
        )
        return str(response.json()["silenceID"])

    async def expire_silence(self, silence_id: str) -> bool:
        """Expire a silence; 404 (unknown) or 500 on an already expired one is ``False``."""
        response = await send(
            self._client,
            "DELETE",
            f"{self._base}/api/v2/silence/{silence_id}",
            system="alertmanager",
            accept=(404,),
        )
        return response.status_code == 200

    async def alerts(self) -> list[dict[str, Any]]:
        """Alerts Alertmanager holds."""
        response = await send(self._client, "GET", f"{self._base}/api/v2/alerts", system="alertmanager")
        return list(response.json())
