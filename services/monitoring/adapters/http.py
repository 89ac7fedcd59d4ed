"""One place where httpx outcomes become the shared error tree, for the HTTP adapters."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import httpx

from shared.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    OperationTimeout,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
)

__all__ = ["send"]


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or body)[:300]
    return str(body)[:300]


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    system: str,
    accept: Collection[int] = (),
    **kwargs: Any,
) -> httpx.Response:
    """Send a request; return the response when it is 2xx or in ``accept``.

    Otherwise raise: transport failure or 5xx → ``ServiceUnavailable``; timeout →
    ``OperationTimeout``; 401/403 → ``Unauthorized``; 404 → ``NotFound``; 409/412 →
    ``Conflict``; 429 → ``RateLimited``; other 4xx → ``InvalidInput``. ``details`` name the
    system and the status, never a credential.
    """
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise OperationTimeout(f"{system} did not answer in time", system=system) from exc
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(f"{system} is unreachable: {type(exc).__name__}", system=system) from exc
    status = response.status_code
    if 200 <= status < 300 or status in accept:
        return response
    detail: dict[str, Any] = {"system": system, "status": status, "reason": _message(response)}
    if status >= 500:
        raise ServiceUnavailable(f"{system} failed", **detail)
    if status in (401, 403):
        raise Unauthorized(f"{system} refused the credentials", **detail)
    if status == 404:
        raise NotFound(f"{system}: not found", **detail)
    if status in (409, 412):
        raise Conflict(f"{system}: conflict", **detail)
    if status == 429:
        raise RateLimited(f"{system} asks to slow down", **detail)
    raise InvalidInput(f"{system} rejected the request", **detail)
