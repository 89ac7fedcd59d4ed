"""Builds the configured ``PoolMembers`` driver (and what must be closed with it)."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable

import httpx

from services.loadbalancer.adapters.f5 import F5Pools
from services.loadbalancer.adapters.f5_session import F5Session
from services.loadbalancer.adapters.haproxy import HAProxyPools
from services.loadbalancer.adapters.haproxy_config import ConfigFile
from services.loadbalancer.adapters.haproxy_runtime import RuntimeClient
from services.loadbalancer.ports import PoolMembers
from services.loadbalancer.settings import LoadbalancerSettings

__all__ = ["build_driver", "f5_client"]

Closer = Callable[[], Awaitable[None]]


def f5_client(settings: LoadbalancerSettings) -> httpx.AsyncClient:
    """The HTTP client for iControl REST: TLS verified by default, against the CA bundle if given."""
    verify: bool | ssl.SSLContext = settings.f5_verify_tls
    if settings.f5_verify_tls and settings.f5_ca_bundle is not None:
        verify = ssl.create_default_context(cafile=str(settings.f5_ca_bundle))
    return httpx.AsyncClient(verify=verify, timeout=settings.f5_timeout_s)


def build_driver(settings: LoadbalancerSettings) -> tuple[PoolMembers, Closer]:
    """The driver named by ``settings.lb_driver`` and a coroutine function that releases it."""
    if settings.lb_driver == "f5":
        client = f5_client(settings)
        session = F5Session(
            client,
            settings.f5_devices,
            settings.f5_username,
            settings.f5_password.get_secret_value(),
            retries=settings.f5_retries,
            backoff_s=settings.f5_backoff_s,
        )

        async def close_f5() -> None:
            await session.aclose()
            await client.aclose()

        return F5Pools(session, settings.f5_partition), close_f5

    async def nothing() -> None:
        return None

    config = ConfigFile(settings.haproxy_config) if settings.haproxy_config else None
    return HAProxyPools(RuntimeClient(settings.haproxy_runtime), config, check_options=settings.haproxy_check), nothing
