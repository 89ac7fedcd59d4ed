"""Fixtures shared by every tier: server discovery and per-test isolation.

Servers are found in this order: a URL from the environment, the default loopback port, an
embedded server started here. A missing server fails the run; nothing is skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.testing.clock import FakeClock
from shared.testing.servers import (
    EmbeddedServer,
    delete_streams,
    fresh_database,
    start_embedded_nats,
    start_embedded_redis,
    url_reachable,
)

DEFAULT_NATS = "nats://127.0.0.1:4222"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at a fixed start."""
    return FakeClock()


def _find_or_start(env: str, default: str, start, tmp: Path) -> tuple[str, EmbeddedServer | None]:
    url = os.environ.get(env)
    if url:
        return url, None
    if url_reachable(default):
        return default, None
    server = start(tmp)
    return server.url, server


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A NATS server with JetStream."""
    url, server = _find_or_start("NATS_URL", DEFAULT_NATS, start_embedded_nats, tmp_path_factory.mktemp("nats"))
    yield url
    if server:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server."""
    url, server = _find_or_start("REDIS_URL", DEFAULT_REDIS, start_embedded_redis, tmp_path_factory.mktemp("redis"))
    yield url
    if server:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """PostgreSQL; unlike NATS and Redis it is not embedded, so its absence fails the test."""
    url = os.environ.get("TEST_POSTGRES_URL") or DEFAULT_POSTGRES
    if not url_reachable(url.replace("postgresql+psycopg", "postgresql")):
        pytest.fail(f"PostgreSQL is not reachable at {url}; start it or set TEST_POSTGRES_URL")
    return url


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database of this test's own, dropped afterwards."""
    with fresh_database(postgres_url, "t") as url:
        yield url


@pytest.fixture
def redis_prefix(prefix: str) -> str:
    """A Redis key prefix of this test's own."""
    return f"{prefix}:"


@pytest.fixture
def prefix() -> str:
    """A subject/stream prefix of this test's own."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
async def js_cleanup(nats_url: str, prefix: str) -> AsyncIterator[None]:
    """Delete this test's streams afterwards."""
    yield
    await delete_streams(nats_url, prefix)
