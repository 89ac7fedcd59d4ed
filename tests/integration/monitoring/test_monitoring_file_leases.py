"""Two monitoring replicas writing one remote file set over SFTP lose nothing: each
read-modify-write runs under a lease in the service's database (``locks.LeaseLocks``).

Real parts: the lab's sshd (SFTP), one PostgreSQL database migrated by the monitoring service,
two engines and two owners, each replica with its own SSH session and its own process locks (as
on two hosts, where ``flock`` cannot reach). A replica that stalled past its lease's TTL has its
write refused by the fencing check; one that cannot get the lease gives up with ``Contention``.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from services.monitoring.adapters.files import SftpDirStore
from services.monitoring.adapters.ssh import AsyncsshConnector
from services.monitoring.adapters.tables import leases as lease_table
from services.monitoring.domain import Target
from services.monitoring.locks import FencedStore, LeaseLocks, ProcessLocks
from services.monitoring.registry import TargetRegistry
from services.monitoring.wiring import build_monitoring
from shared.db import make_engine, upgrade
from shared.errors import Contention
from shared.singleton_sql import SqlLeases
from testkit.clock import FakeClock
from tests.contracts.monitoring_lab import MonitoringLab, lab_settings

pytestmark = pytest.mark.timeout(180)

PER_REPLICA = 15
WHERE = "sftp://127.0.0.1/file_sd"


@pytest.fixture
def engines(postgres_database: str) -> Iterator[tuple[Engine, Engine]]:
    upgrade("monitoring", postgres_database)
    one, two = make_engine(postgres_database), make_engine(postgres_database)
    yield one, two
    one.dispose()
    two.dispose()


@pytest.fixture
async def sessions(monitoring_lab: MonitoringLab, tmp_path: Path) -> AsyncIterator[tuple[SftpDirStore, SftpDirStore]]:
    """Two SFTP sessions (one per replica) on one remote file_sd directory."""
    stores = []
    for n in (1, 2):
        connector = AsyncsshConnector(
            user=monitoring_lab.sshd.user,
            key_file=monitoring_lab.sshd.user_key,
            known_hosts=tmp_path / f"known_hosts-{n}",
            port=monitoring_lab.config.sshd_port,
        )
        stores.append(SftpDirStore(connector, "127.0.0.1", str(tmp_path / "remote" / "file_sd")))
    yield stores[0], stores[1]
    for store in stores:
        await store.close()


def replica(
    store: SftpDirStore, engine: Engine, owner: str, clock: FakeClock | None = None, **timing: float
) -> tuple[TargetRegistry, LeaseLocks]:
    """One replica's registry: its own process locks, the shared lease table as ``owner``."""
    locks = LeaseLocks(ProcessLocks(), SqlLeases(engine, lease_table, clock), owner, WHERE, **timing)
    return TargetRegistry(FencedStore(store), None, locks), locks  # type: ignore[arg-type]


def addresses(directory: Path) -> set[str]:
    groups = json.loads((directory / "web.json").read_text())
    return {target for group in groups for target in group["targets"]}


async def test_two_replicas_registering_over_sftp_concurrently_lose_nothing(
    engines: tuple[Engine, Engine], sessions: tuple[SftpDirStore, SftpDirStore], tmp_path: Path
) -> None:
    (one, _), (two, _) = replica(sessions[0], engines[0], "replica-1"), replica(sessions[1], engines[1], "replica-2")
    adds = [
        registry.add(Target(job="web", address=f"10.0.{n}.{i + 1}", port=9100))
        for i in range(PER_REPLICA)
        for n, registry in ((1, one), (2, two))
    ]
    outcomes = await asyncio.gather(*adds)
    assert all(outcome.created for outcome in outcomes)
    assert len(addresses(tmp_path / "remote" / "file_sd")) == 2 * PER_REPLICA


async def test_a_replica_past_its_lease_ttl_is_refused_its_write(
    engines: tuple[Engine, Engine], sessions: tuple[SftpDirStore, SftpDirStore], tmp_path: Path
) -> None:
    clock = FakeClock()
    slow, slow_locks = replica(sessions[0], engines[0], "replica-1", clock, ttl_s=600.0)
    fast, _ = replica(sessions[1], engines[1], "replica-2", clock, ttl_s=600.0)
    await fast.add(Target(job="web", address="127.0.30.1", port=9100))
    store = FencedStore(sessions[0])
    with pytest.raises(Contention):
        async with slow_locks.hold("file_sd-web"):
            stale = await store.read("web.json")
            clock.advance(601)  # stalled past the TTL (no renewal ran): the other replica takes over
            other = fast.add(Target(job="web", address="127.0.30.2", port=9100))
            await asyncio.create_task(other, context=contextvars.Context())  # another replica's task
            assert stale is not None
            await store.write("web.json", stale)  # its old copy would drop 127.0.30.2
    assert addresses(tmp_path / "remote" / "file_sd") == {"127.0.30.1:9100", "127.0.30.2:9100"}
    await slow.add(Target(job="web", address="127.0.30.3", port=9100))  # the retry reads afresh
    assert len(addresses(tmp_path / "remote" / "file_sd")) == 3


async def test_a_replica_that_cannot_get_the_lease_gives_up_retryably(
    engines: tuple[Engine, Engine], sessions: tuple[SftpDirStore, SftpDirStore]
) -> None:
    _, holder = replica(sessions[0], engines[0], "replica-1")
    waiter, _ = replica(sessions[1], engines[1], "replica-2", wait_s=0.3)
    async with holder.hold("file_sd-web"):
        with pytest.raises(Contention):
            await waiter.add(Target(job="web", address="127.0.30.1", port=9100))
    outcome = await waiter.add(Target(job="web", address="127.0.30.1", port=9100))  # released: it goes through
    assert outcome.created


async def test_the_service_wiring_takes_the_lease_in_sftp_mode(
    engines: tuple[Engine, Engine], monitoring_lab: MonitoringLab, tmp_path: Path, http: httpx.AsyncClient
) -> None:
    remote = tmp_path / "plg" / "file_sd"
    settings = lab_settings(
        monitoring_lab,
        tmp_path,
        config_location="sftp",
        plg_host="127.0.0.1",
        plg_port=monitoring_lab.config.sshd_port,
        plg_user=monitoring_lab.sshd.user,
        plg_key_file=monitoring_lab.sshd.user_key,
        file_sd_dir=remote,
    )
    parts = [
        build_monitoring(settings, http, leases=SqlLeases(engine, lease_table), owner=f"replica-{n}")
        for n, engine in enumerate(engines)
    ]
    try:
        await asyncio.gather(
            *(
                part.registry.add(Target(job="web", address=f"10.1.{n}.{i + 1}", port=9100))
                for i in range(PER_REPLICA)
                for n, part in enumerate(parts)
            )
        )
    finally:
        for part in parts:
            for store in part.stores:
                if isinstance(store, SftpDirStore):
                    await store.close()
    assert len(addresses(remote)) == 2 * PER_REPLICA
    with engines[0].connect() as connection:
        names = [row.name for row in connection.execute(select(lease_table.c.name))]
    assert names == [f"file:file_sd-web:sftp://127.0.0.1:{monitoring_lab.config.sshd_port}{remote}"]
