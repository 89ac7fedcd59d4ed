"""Request dependencies: the gateway state, the caller, role checks, CSRF, rate limits."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from services.gateway.auth.model import Principal, Role
from services.gateway.auth.secrets import constant_time_equals
from services.gateway.auth.service import csrf_for
from services.gateway.errors import Forbidden
from services.gateway.state import GatewayState
from shared.errors import InvalidInput, RateLimited, ServiceUnavailable, Unauthorized

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "Admin",
    "Operator",
    "State",
    "Viewer",
    "client_address",
    "current_principal",
    "get_state",
    "rate_limit",
    "require",
    "single_valued_query",
]

SESSION_COOKIE = "vmscale_session"
CSRF_COOKIE = "vmscale_csrf"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_state(request: Request) -> GatewayState:
    """The gateway state of the app serving the request."""
    state: GatewayState = request.app.state.gateway
    return state


State = Annotated[GatewayState, Depends(get_state)]


@functools.lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _trusted(address: str, proxies: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(proxies))


def client_address(request: Request) -> str:
    """The caller's address: the peer, or, when the peer is one of the configured
    ``trusted_proxies``, the nearest ``X-Forwarded-For`` hop that is not a trusted proxy.

    With no trusted proxy configured, ``X-Forwarded-For`` is ignored (anyone can send it). A
    malformed hop stops the walk at the last address a trusted proxy vouched for.
    """
    peer = request.client.host if request.client else "unknown"
    proxies: tuple[str, ...] = tuple(request.app.state.gateway.settings.trusted_proxies)
    if not proxies or not _trusted(peer, proxies):
        return peer
    address = peer
    hops = [hop.strip() for hop in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return address
        address = hop
        if not _trusted(hop, proxies):
            return hop
    return address


async def current_principal(request: Request, state: State) -> Principal:
    """The caller, from an API key or a session cookie (with CSRF on unsafe methods); 401/403 otherwise."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    header = request.headers.get("authorization", "")
    principal: Principal | None = None
    if header:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise Unauthorized("use 'Authorization: Bearer <api key>'")
        principal = await asyncio.to_thread(state.auth.from_api_key, credentials.strip())
        if principal is None:
            raise Unauthorized("unknown or revoked API key")
    else:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            principal = await asyncio.to_thread(state.auth.from_session, token)
        if principal is None:
            raise Unauthorized("log in or send an API key")
        if request.method not in _SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not constant_time_equals(sent, csrf_for(token or "")):
                raise Forbidden("missing or wrong CSRF token")
    request.state.principal = principal
    return principal


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits callers with at least ``role``."""

    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.role.allows(role):
            raise Forbidden(f"this needs the {role.value} role", field=role.value)
        return principal

    return check


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


async def rate_limit(state: GatewayState, bucket: str, key: str, limit: int, fail_open: bool = False) -> None:
    """Count a hit in ``bucket``; ``RateLimited`` past the limit.

    Without Redis: ``fail_open`` lets the request through, otherwise ``ServiceUnavailable``.
    """
    if state.limiter is None:
        return
    try:
        retry_after = await state.limiter.hit(f"{bucket}:{key}", limit)
    except ServiceUnavailable:
        if fail_open:
            return
        raise
    if retry_after is not None:
        raise RateLimited("too many requests; slow down", retry_after_s=retry_after)


# by id(): a route is unhashable, and lives as long as the app
_QUERY_NAMES: dict[int, frozenset[str]] = {}


def _query_params(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_params(sub)
    return names


def _query_names(route: APIRoute) -> frozenset[str]:
    names = _QUERY_NAMES.get(id(route))
    if names is None:
        names = _QUERY_NAMES[id(route)] = frozenset(_query_params(route.dependant))
    return names


async def single_valued_query(request: Request) -> None:
    """422 for a query parameter given twice (every one of ours takes one value; Starlette would
    silently keep the last)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    for name in _query_names(route):
        if len(request.query_params.getlist(name)) > 1:
            raise InvalidInput(f"query parameter {name!r} given more than once", field=name)
