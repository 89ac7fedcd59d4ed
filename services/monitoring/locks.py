"""Named locks around the read-modify-write of a configuration file.

Two monitoring replicas that share a ``file_sd`` / rules / Alertmanager directory must not
interleave their read-modify-write of the same file, or one replica's target, rule or route is
lost. ``FileLocks.hold(name)`` serialises every holder of ``name``: tasks of this process and,
with ``adapters.flock.FlockLocks``, every process on the host that shares the directory.
``ProcessLocks`` serialises this process's tasks only (the in-memory fakes; a single replica).

``LeaseLocks`` adds a lease in the service's database (``shared.singleton.Leases``) on top of
either: every replica sharing the files — on other hosts, over SFTP — takes it, so it holds
wherever the files live. The lease is renewed by ``hold_claim`` while the block runs, and its
fencing token is checked before each write or delete of a ``FencedStore`` inside the block.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from typing import Protocol

from services.monitoring.ports import ConfigStore
from shared.errors import Contention, ServiceUnavailable
from shared.singleton import Leases, hold_claim
from shared.telemetry import get_logger

__all__ = ["FencedStore", "FileLocks", "LeaseLocks", "ProcessLocks", "check_fences"]

_log = get_logger(__name__)

_MAX_NAME = 300
"""The lease table's name column (``shared.singleton_sql.leases_table``)."""

_fences: ContextVar[tuple[Callable[[], Awaitable[None]], ...]] = ContextVar("file_lease_fences", default=())


class FileLocks(Protocol):
    """Mutual exclusion by name."""

    def hold(self, name: str) -> AbstractAsyncContextManager[None]:
        """Hold lock ``name`` for the ``async with`` block; waits while another holder has it.

        Not re-entrant. Raises ``shared.errors.Contention`` (retryable) when it cannot be taken
        in the adapter's time limit, ``ServiceUnavailable`` when the lock itself is unusable.
        """
        ...


class ProcessLocks:
    """``FileLocks`` among the tasks of this process."""

    def __init__(self) -> None:
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    @contextlib.asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        """See ``FileLocks.hold``."""
        async with self._locks[name]:
            yield


async def check_fences() -> None:
    """Raise ``Contention`` unless this task still holds every ``LeaseLocks`` lease it is inside
    (a store check per lease; nothing to check outside a ``LeaseLocks.hold`` block)."""
    for fence in _fences.get():
        await fence()


class LeaseLocks:
    """``FileLocks`` across replicas: ``inner`` first (this process's tasks, this host's
    processes), then the lease ``file:<name>:<where>`` in ``leases`` as ``owner``.

    A replica that finds the lease held tries again every ``poll_s`` and gives up with
    ``Contention`` (retryable: the command is redelivered) after ``wait_s``; a lease store that
    does not answer raises ``ServiceUnavailable``. While the block runs the lease is renewed
    every third of ``ttl_s``; a write through a ``FencedStore`` in the block first checks the
    fencing token (``Leases.holds``) and raises ``Contention`` when the lease was lost (this
    replica stalled past the TTL and another took over): the stale copy is never written.
    A holder that dies leaves the lease to expire after ``ttl_s``.
    """

    def __init__(
        self,
        inner: FileLocks,
        leases: Leases,
        owner: str,
        where: str,
        *,
        ttl_s: float = 30.0,
        wait_s: float = 60.0,
        poll_s: float = 0.05,
    ) -> None:
        if ttl_s <= 0 or wait_s <= 0 or poll_s <= 0:
            raise ValueError("a file lease needs a positive TTL, wait and poll interval")
        self.inner = inner
        self.leases = leases
        self.owner = owner
        self.where = where
        self.ttl_s = ttl_s
        self.wait_s = wait_s
        self.poll_s = poll_s

    def lease_name(self, name: str) -> str:
        """The lease of lock ``name``: the same on every replica configured with the same files."""
        full = f"file:{name}:{self.where}"
        if len(full) <= _MAX_NAME:
            return full
        return f"file:{name[:100]}:{hashlib.sha256(full.encode()).hexdigest()}"

    @contextlib.asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        """See ``FileLocks.hold``."""
        async with self.inner.hold(name):
            lease = self.lease_name(name)
            token = await self._acquire(lease)
            done = asyncio.Event()
            claim = asyncio.create_task(
                hold_claim(self.leases, lease, self.owner, self.ttl_s, token, done.wait, log=_log),
                name=f"file-lease-{name}",
            )

            async def fence() -> None:
                try:
                    held = not claim.done() and await asyncio.to_thread(self.leases.holds, lease, self.owner, token)
                except ServiceUnavailable:
                    held = False
                if not held:
                    raise Contention("the file lease was lost before the write; retry", lock=name)

            reset = _fences.set((*_fences.get(), fence))
            try:
                yield
            finally:
                _fences.reset(reset)
                done.set()
                with contextlib.suppress(Exception):
                    await claim

    async def _acquire(self, lease: str) -> int:
        deadline = asyncio.get_running_loop().time() + self.wait_s
        while True:
            try:
                token = await asyncio.to_thread(self.leases.acquire, lease, self.owner, self.ttl_s)
            except ServiceUnavailable:
                raise
            except Exception as exc:
                raise ServiceUnavailable("the file lease store failed", lease=lease, error=type(exc).__name__) from exc
            if token is not None:
                return token
            if asyncio.get_running_loop().time() >= deadline:
                raise Contention("another replica holds the file lease", lease=lease)
            await asyncio.sleep(self.poll_s)


class FencedStore:
    """``ConfigStore`` that checks the fencing tokens of the enclosing ``LeaseLocks`` blocks
    (``check_fences``) right before each write and delete; reads and listings pass through."""

    def __init__(self, store: ConfigStore) -> None:
        self.store = store

    async def read(self, name: str) -> bytes | None:
        """See ``ConfigStore.read``."""
        return await self.store.read(name)

    async def write(self, name: str, data: bytes) -> None:
        """See ``ConfigStore.write``; ``Contention`` when a lease of the block was lost."""
        await check_fences()
        await self.store.write(name, data)

    async def delete(self, name: str) -> bool:
        """See ``ConfigStore.delete``; ``Contention`` when a lease of the block was lost."""
        await check_fences()
        return await self.store.delete(name)

    async def names(self, suffix: str = "") -> list[str]:
        """See ``ConfigStore.names``."""
        return await self.store.names(suffix)
