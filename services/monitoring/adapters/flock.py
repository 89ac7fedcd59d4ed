"""``FileLocks`` across processes: ``flock`` on a lock file per name in a shared directory.

Within the process an ``asyncio.Lock`` per name queues the tasks first, so one thread at most
waits on the file lock per name. The file lock is tried without blocking and retried every
``poll_s`` (a cancelled task never leaves a thread blocked on it) until ``timeout_s``. The
kernel drops the lock when its holder dies, SIGKILL included: no stale lock outlives a crash.
``flock`` is reliable on local filesystems and Docker volumes, not on NFS.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

from shared.errors import Contention, ServiceUnavailable

__all__ = ["LOCKS_DIR", "FlockLocks"]

LOCKS_DIR = ".locks"
"""The lock files' sub-directory of a config directory (a dot name: outside Prometheus' globs and
``LocalDirStore.names``)."""

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class FlockLocks:
    """``services.monitoring.locks.FileLocks`` over ``directory/<name>.lock`` files."""

    def __init__(self, directory: Path, *, timeout_s: float = 60.0, poll_s: float = 0.02) -> None:
        self.directory = directory
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self._local: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def _path(self, name: str) -> Path:
        return self.directory / f"{_SAFE.sub('_', name)}.lock"

    def _open(self, name: str) -> int:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            return os.open(self._path(name), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ServiceUnavailable("cannot open the lock file", lock=name, error=exc.strerror) from exc

    @contextlib.asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        """See ``FileLocks.hold``."""
        async with self._local[name]:
            fd = self._open(name)
            try:
                await self._acquire(fd, name)
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    async def _acquire(self, fd: int, name: str) -> None:
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if asyncio.get_running_loop().time() >= deadline:
                    raise Contention("another process holds the file lock", lock=name) from None
                await asyncio.sleep(self.poll_s)
            except OSError as exc:
                raise ServiceUnavailable("cannot take the file lock", lock=name, error=exc.strerror) from exc
