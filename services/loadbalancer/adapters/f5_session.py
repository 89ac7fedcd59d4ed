"""An iControl REST session: HA device choice, token lifecycle, retries and error mapping.

* Devices are given as a list of base URLs (an HA pair); the one whose
  ``/mgmt/tm/cm/failover-status`` says ``ACTIVE`` is used, re-checked every
  ``active_check_s`` and after a connection failure.
* Token auth: ``POST /mgmt/shared/authn/login`` (``loginProviderName`` ``tmos``); the token is
  renewed ``refresh_margin_s`` before it expires (the old one is deleted), a 401 causes one
  fresh login and one retry, and ``aclose`` deletes the token.
* ``500`` (``mcpd`` lost), ``503`` (restarting) and connection failures are retried with
  exponential back-off; what remains is translated to our exception tree.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from shared.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    OperationTimeout,
    ServiceUnavailable,
    Unauthorized,
    VmscaleError,
)

__all__ = ["F5Error", "F5Session"]

Json = dict[str, Any]


@dataclass
class _Token:
    value: str
    expires: float


class F5Error(Exception):
    """A non-2xx answer, before translation (adapters translate it to our tree)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    return str(body.get("message") or body) if isinstance(body, dict) else str(body)


def translate(exc: F5Error, **details: Any) -> VmscaleError:
    """Our error for an F5 answer: 404 NotFound, 409 Conflict, 400 referenced → Conflict, ..."""
    if exc.status == 404:
        return NotFound(exc.message, **details)
    if exc.status == 409 or "referenced by a member" in exc.message:
        return Conflict(exc.message, **details)
    if exc.status in (401, 403):
        return Unauthorized(exc.message, **details)
    if exc.status >= 500:
        return ServiceUnavailable(exc.message, **details)
    return InvalidInput(exc.message, **details)


class F5Session:
    """Authenticated JSON requests to the active BIG-IP of ``devices``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        devices: list[str],
        username: str,
        password: str,
        *,
        retries: int = 3,
        backoff_s: float = 1.0,
        refresh_margin_s: float = 60.0,
        active_check_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not devices:
            raise InvalidInput("at least one BIG-IP device is needed")
        self.client = client
        self.devices = [device.rstrip("/") for device in devices]
        self._username = username
        self._password = password
        self.retries = retries
        self.backoff_s = backoff_s
        self.refresh_margin_s = refresh_margin_s
        self.active_check_s = active_check_s
        self._clock = clock
        self._tokens: dict[str, _Token] = {}
        self._active: str | None = None
        self._checked_at = 0.0
        self._lock = asyncio.Lock()
        self.logins = 0

    # -- public -----------------------------------------------------------------------------

    async def request(
        self, method: str, path: str, json: Json | None = None, headers: dict[str, str] | None = None
    ) -> Json:
        """``method path`` on the active device; the parsed JSON body (``{}`` when empty).

        Raises ``F5Error`` for a 4xx answer (the caller translates it with context),
        ``ServiceUnavailable``/``OperationTimeout`` when retries are exhausted, ``Unauthorized``
        when the credentials are refused.
        """
        attempt = 0
        while True:
            try:
                base = await self._active_device()
                return await self._authed(base, method, path, json, headers)
            except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError) as exc:
                self._active = None  # maybe a failover: look again
                error: VmscaleError = ServiceUnavailable(f"BIG-IP unreachable: {type(exc).__name__}", path=path)
                cause: BaseException = exc
            except httpx.TimeoutException as exc:
                error, cause = OperationTimeout("BIG-IP did not answer in time", path=path), exc
            except F5Error as exc:
                if exc.status not in (500, 503):
                    raise
                error, cause = ServiceUnavailable(exc.message, path=path, status=exc.status), exc
            if attempt >= self.retries:
                raise error from cause
            await asyncio.sleep(self.backoff_s * 2**attempt)
            attempt += 1

    async def aclose(self) -> None:
        """Delete our tokens (best effort); the client belongs to the caller."""
        for base, token in list(self._tokens.items()):
            try:
                await self.client.delete(
                    f"{base}/mgmt/shared/authz/tokens/{token.value}", headers={"X-F5-Auth-Token": token.value}
                )
            except httpx.HTTPError:
                pass
        self._tokens.clear()

    # -- internals --------------------------------------------------------------------------

    async def _active_device(self) -> str:
        now = self._clock()
        if self._active is not None and now - self._checked_at < self.active_check_s:
            return self._active
        async with self._lock:
            if self._active is not None and self._clock() - self._checked_at < self.active_check_s:
                return self._active
            reachable = False
            for base in self.devices:
                try:
                    status = await self._authed(base, "GET", "/mgmt/tm/cm/failover-status", None, None)
                except (httpx.TransportError, F5Error):
                    continue
                reachable = True
                if _failover_status(status) == "ACTIVE":
                    self._active, self._checked_at = base, self._clock()
                    return base
            what = "no BIG-IP reports ACTIVE" if reachable else "no BIG-IP device is reachable"
            raise ServiceUnavailable(what, devices=len(self.devices))

    async def _token(self, base: str, *, fresh: bool = False) -> str:
        token = self._tokens.get(base)
        if token is not None and not fresh and self._clock() < token.expires - self.refresh_margin_s:
            return token.value
        response = await self.client.post(
            f"{base}/mgmt/shared/authn/login",
            json={"username": self._username, "password": self._password, "loginProviderName": "tmos"},
        )
        if response.status_code in (401, 403):
            raise Unauthorized("BIG-IP refused the credentials", device=base)
        if response.status_code >= 400:
            raise F5Error(response.status_code, _message(response))
        body = response.json()["token"]
        self.logins += 1
        self._tokens[base] = _Token(str(body["token"]), self._clock() + float(body.get("timeout", 1200)))
        if token is not None:  # the replaced token: free its slot (100 per user)
            try:
                await self.client.delete(
                    f"{base}/mgmt/shared/authz/tokens/{token.value}", headers={"X-F5-Auth-Token": body["token"]}
                )
            except httpx.HTTPError:
                pass
        return self._tokens[base].value

    async def _authed(
        self, base: str, method: str, path: str, json: Json | None, headers: dict[str, str] | None
    ) -> Json:
        for fresh in (False, True):
            token = await self._token(base, fresh=fresh)
            response = await self.client.request(
                method, f"{base}{path}", json=json, headers={**(headers or {}), "X-F5-Auth-Token": token}
            )
            if response.status_code == 401 and not fresh:
                self._tokens.pop(base, None)  # expired or revoked: log in again once
                continue
            if response.status_code >= 400:
                raise F5Error(response.status_code, _message(response))
            if not response.content:
                return {}
            body = response.json()
            return body if isinstance(body, dict) else {"items": body}
        raise Unauthorized("BIG-IP rejected a fresh token", device=base)


def _failover_status(body: Json) -> str:
    for entry in (body.get("entries") or {}).values():
        nested = (entry.get("nestedStats") or {}).get("entries") or {}
        status = (nested.get("status") or {}).get("description")
        if status:
            return str(status).upper()
    return ""
