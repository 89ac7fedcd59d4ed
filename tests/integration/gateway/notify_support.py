"""The notifications' shared stores on the real Redis and PostgreSQL of the integration tier."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import redis.asyncio as aioredis

from services.gateway.adapters.redis_notify import RedisPinnedSpells, RedisSendLedger
from services.gateway.adapters.sql_notify import SqlDeliveryLog
from services.gateway.notify import NotifyStores
from shared.db import make_engine, upgrade

__all__ = ["shared_notify_stores"]


@contextlib.asynccontextmanager
async def shared_notify_stores(redis_url: str, namespace: str, database_url: str) -> AsyncIterator[NotifyStores]:
    """Redis-backed ledger and spells under ``namespace`` and the delivery log in
    ``database_url`` (migrated); the namespace's keys are deleted afterwards."""
    upgrade("gateway", database_url)
    engine = make_engine(database_url)
    client = aioredis.from_url(redis_url)
    try:
        yield NotifyStores(
            RedisSendLedger(client, namespace), RedisPinnedSpells(client, namespace), SqlDeliveryLog(engine)
        )
    finally:
        keys = [key async for key in client.scan_iter(f"{namespace}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        engine.dispose()
