"""Config directories: on this host, or on the PLG host over SFTP.

Both write a temp file beside the target and rename it into place (atomic for readers such as
Prometheus' file_sd watcher), and keep at most ``backups_kept`` previous versions of each file
in a ``.backup`` sub-directory (outside Prometheus' globs).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from pathlib import Path, PurePosixPath

from services.monitoring.adapters.ssh import AsyncsshConnector, AsyncsshHost
from shared.errors import InvalidInput, ServiceUnavailable

__all__ = ["LocalDirStore", "SftpDirStore", "check_file_name"]

_TMP = ".vmscale-tmp"


def check_file_name(name: str) -> str:
    if not name or "/" in name or name.startswith("."):
        raise InvalidInput("a config file name is a plain file name", name=name)
    return name


def _backup_name(name: str) -> str:
    return f"{name}.{time.time_ns()}"


class LocalDirStore:
    """``ConfigStore`` over a local directory."""

    def __init__(self, directory: Path, backups_kept: int = 0) -> None:
        self.directory = directory
        self.backups_kept = backups_kept

    def _read(self, name: str) -> bytes | None:
        try:
            return (self.directory / check_file_name(name)).read_bytes()
        except FileNotFoundError:
            return None

    async def read(self, name: str) -> bytes | None:
        """The file's bytes or ``None``."""
        try:
            return self._read(name)
        except OSError as exc:
            raise ServiceUnavailable("cannot read config file", name=name, error=exc.strerror) from exc

    def _backup(self, name: str) -> None:
        current = self.directory / name
        if self.backups_kept <= 0 or not current.exists():
            return
        backups = self.directory / ".backup"
        backups.mkdir(exist_ok=True)
        (backups / _backup_name(name)).write_bytes(current.read_bytes())
        old = sorted(backups.glob(f"{name}.*"), key=lambda p: int(p.name.rsplit(".", 1)[1]))
        for path in old[: -self.backups_kept]:
            path.unlink(missing_ok=True)

    def _write(self, name: str, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._backup(name)
        tmp = self.directory / f".{name}.{uuid.uuid4().hex}{_TMP}"
        try:
            with tmp.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.directory / name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    async def write(self, name: str, data: bytes) -> None:
        """Temp file + fsync + rename."""
        check_file_name(name)
        try:
            self._write(name, data)
        except OSError as exc:
            raise ServiceUnavailable("cannot write config file", name=name, error=exc.strerror) from exc

    async def delete(self, name: str) -> bool:
        """Remove the file (after a backup)."""
        path = self.directory / check_file_name(name)
        try:
            self._backup(name)
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise ServiceUnavailable("cannot delete config file", name=name, error=exc.strerror) from exc
        return True

    async def names(self, suffix: str = "") -> list[str]:
        """Plain files ending with ``suffix``."""
        if not self.directory.is_dir():
            return []
        return sorted(
            p.name
            for p in self.directory.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.name.endswith(suffix)
        )


class SftpDirStore:
    """``ConfigStore`` over a directory on the PLG host, through one SFTP session.

    No sudo is needed when the SSH user owns the directory (the recommended set-up: vmscale
    owns ``file_sd/``, ``rules/`` and the Alertmanager config file, not the whole server).
    """

    def __init__(
        self, connector: AsyncsshConnector, host: str, directory: str, backups_kept: int = 0, port: int | None = None
    ) -> None:
        self._connector = connector
        self._host = host
        self._port = port
        self.directory = PurePosixPath(directory)
        self.backups_kept = backups_kept
        self._conn: AsyncsshHost | None = None
        self._lock = asyncio.Lock()

    async def _session(self) -> AsyncsshHost:
        async with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = await self._connector.connect(self._host, self._port)
            return self._conn

    async def close(self) -> None:
        """Close the SSH connection."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def read(self, name: str) -> bytes | None:
        """The remote file's bytes or ``None``."""
        host = await self._session()
        return await host.read_file(str(self.directory / check_file_name(name)))

    async def write(self, name: str, data: bytes) -> None:
        """Upload to a temp name in the directory, then ``posix-rename`` over the target."""
        host = await self._session()
        target = str(self.directory / check_file_name(name))
        await host.makedirs(str(self.directory))
        if self.backups_kept > 0:
            current = await host.read_file(target)
            if current is not None:
                backups = self.directory / ".backup"
                await host.makedirs(str(backups))
                await host.write_file(str(backups / _backup_name(name)), current)
                old = sorted(
                    (n for n in await host.listdir(str(backups)) if n.startswith(f"{name}.")),
                    key=lambda n: int(n.rsplit(".", 1)[1]),
                )
                for stale in old[: -self.backups_kept]:
                    await host.remove(str(backups / stale))
        await host.write_file(target, data)

    async def delete(self, name: str) -> bool:
        """Remove the remote file."""
        host = await self._session()
        return await host.remove(str(self.directory / check_file_name(name)))

    async def names(self, suffix: str = "") -> list[str]:
        """Remote file names ending with ``suffix``."""
        host = await self._session()
        return sorted(
            n for n in await host.listdir(str(self.directory)) if not n.startswith(".") and n.endswith(suffix)
        )
