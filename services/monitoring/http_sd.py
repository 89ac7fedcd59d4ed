"""``http_sd_configs`` endpoint: Prometheus pulls vmscale's target groups instead of reading files.

``GET /targets`` answers the JSON list of target groups of every vmscale job (the same
documents file_sd uses) behind ``Authorization: Bearer <http_sd_token>``; anything else is 404,
a wrong or missing token 401. It listens on ``http_sd_host:http_sd_port`` (loopback by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json

from services.monitoring.registry import TargetRegistry
from services.monitoring.settings import MonitoringSettings
from shared.errors import ConfigurationError, VmscaleError

__all__ = ["HttpSdServer"]


class HttpSdServer:
    """A minimal HTTP/1.1 server for the one read-only resource Prometheus polls."""

    def __init__(self, registry: TargetRegistry, settings: MonitoringSettings) -> None:
        if settings.http_sd_token is None or not settings.http_sd_token.get_secret_value():
            raise ConfigurationError("targets_mode=http_sd needs http_sd_token")
        self._registry = registry
        self._token = settings.http_sd_token.get_secret_value()
        self._host = settings.http_sd_host
        self._port = settings.http_sd_port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        if self._server is None:
            raise RuntimeError("not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Bind and serve in the background."""
        self._server = await asyncio.start_server(self._handle, self._host, self._port)

    async def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _respond(self, status: int, body: bytes, writer: asyncio.StreamWriter) -> None:
        reason = {200: "OK", 401: "Unauthorized", 404: "Not Found", 503: "Service Unavailable"}[status]
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            lines = request.decode("latin-1").split("\r\n")
            method, path, _ = [*lines[0].split(" "), "", "", ""][:3]
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            presented = headers.get("authorization", "").removeprefix("Bearer ").strip()
            if method != "GET" or path.split("?", 1)[0] != "/targets":
                await self._respond(404, b'{"error":"not found"}', writer)
            elif not hmac.compare_digest(presented, self._token):
                await self._respond(401, b'{"error":"unauthorized"}', writer)
            else:
                try:
                    groups = await self._registry.all_target_groups()
                    await self._respond(200, json.dumps(groups).encode(), writer)
                except VmscaleError:
                    await self._respond(503, b'{"error":"targets unavailable"}', writer)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
