"""Fixtures shared by every tier: server discovery and per-test isolation; and the tier marker.

A test's tier is its directory: every test under ``tests/<tier>/`` gets the ``<tier>`` marker
here, so ``make test`` (``-m <tier>`` per directory) selects each test exactly once.

Servers are found in this order: a URL from the environment, the default loopback port, an
embedded server started here. A missing server fails the run; nothing is skipped. PostgreSQL:
``TEST_POSTGRES_URL`` when set (one that does not answer fails the run, it is never replaced),
else 127.0.0.1:5432 when a session opens there, else an embedded cluster for the session
(``VMSCALE_TEST_POSTGRES=embedded`` skips the 5432 probe); see ``testkit.servers.postgres_server``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.embedded import EmbeddedServer, start_embedded_nats, start_embedded_redis, url_reachable
from testkit.clock import FakeClock
from testkit.servers import PostgresUnavailable, delete_streams, fresh_database, postgres_server

DEFAULT_NATS = "nats://127.0.0.1:4222"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"

TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "integration", "sim", "ha", "e2e", "ui")


def tier_of(path: Path) -> str | None:
    """The tier of a test file under ``tests/``: the directory it sits in (None for none)."""
    parts = Path(path).resolve().relative_to(TESTS).parts
    return parts[0] if len(parts) > 1 and parts[0] in TIERS else None


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with its directory's tier; a test outside the tier directories, or
    carrying another tier's marker, is a usage error (``make test`` would never run it, or run it twice)."""
    for item in items:
        if not Path(item.path).resolve().is_relative_to(TESTS):
            continue
        tier = tier_of(item.path)
        if tier is None:
            raise pytest.UsageError(f"{item.nodeid}: tests live under tests/{{{','.join(TIERS)}}}/")
        others = sorted({m.name for m in item.iter_markers() if m.name in TIERS} - {tier})
        if others:
            raise pytest.UsageError(f"{item.nodeid}: in tests/{tier}/ but marked {', '.join(others)}")
        item.add_marker(getattr(pytest.mark, tier))


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
def postgres_url() -> Iterator[str]:
    """PostgreSQL: the named one, the one on 5432, or an embedded cluster for the session."""
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(postgres_server())
        except (PostgresUnavailable, ValueError) as exc:
            pytest.fail(str(exc), pytrace=False)
        yield url


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
