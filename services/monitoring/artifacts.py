"""Where agent binaries come from: a local artifact path or a configured URL, verified first.

An artifact is what the vendor publishes: the upstream tarball
(``node_exporter-<ver>.linux-amd64.tar.gz`` holding ``node_exporter-<ver>.linux-amd64/node_exporter``),
Promtail's zip (``promtail-linux-amd64``), the JMX exporter's jar, or a bare binary. Its
SHA-256 — the one the vendor publishes for that file — is checked before anything is unpacked,
and the binary is taken from the archive only when it is a regular file of the expected name,
with its unpacked size bounded too. Downloads happen here, on vmscale's side, never on the
VM: the verified binary is then copied over SFTP (and its checksum checked again there).
Downloaded archives are cached under ``state_dir/artifacts`` by checksum, re-verified on use.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import tarfile
import zipfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO

from services.monitoring.agents import Artifact
from services.monitoring.ports import Downloader
from shared.errors import ConfigurationError, InvalidInput

__all__ = ["ArtifactSource", "Artifacts", "unpack"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ArtifactSource:
    """How to obtain one tool's binary."""

    tool: str
    path: Path | None = None
    url: str = ""
    sha256: str = ""
    members: tuple[str, ...] = ()
    """File names the binary may have inside an archive; empty = the artifact is the file itself."""


def _read_bounded(handle: IO[bytes], limit: int, name: str) -> bytes:
    out = bytearray()
    while chunk := handle.read(_CHUNK):
        out.extend(chunk)
        if len(out) > limit:
            raise InvalidInput("unpacked agent binary larger than allowed", member=name, limit=limit)
    return bytes(out)


def _wanted(name: str, members: tuple[str, ...]) -> bool:
    path = PurePosixPath(name)
    return path.name in members and len(path.parts) <= 2 and ".." not in path.parts and not path.is_absolute()


def unpack(data: bytes, members: tuple[str, ...], *, max_bytes: int) -> bytes:
    """The binary inside ``data``: a tar(.gz) or zip member named one of ``members`` (at most
    one directory deep, regular files only), or ``data`` itself when it is no archive or no
    ``members`` are given. Raises ``InvalidInput`` when an archive lacks the member."""
    if not members:
        return data
    buffer = io.BytesIO(data)
    if data[:2] == b"\x1f\x8b" or tarfile.is_tarfile(buffer):
        buffer.seek(0)
        try:
            with tarfile.open(fileobj=buffer, mode="r:*") as archive:
                for info in archive:
                    if info.isreg() and _wanted(info.name, members):
                        handle = archive.extractfile(info)
                        if handle is not None:
                            return _read_bounded(handle, max_bytes, info.name)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise InvalidInput("agent artifact is a damaged tar archive") from exc
        raise InvalidInput("agent artifact has no such binary", expected=list(members))
    if zipfile.is_zipfile(buffer):
        try:
            with zipfile.ZipFile(buffer) as archive:
                for zinfo in archive.infolist():
                    if not zinfo.is_dir() and _wanted(zinfo.filename, members):
                        with archive.open(zinfo) as handle:
                            return _read_bounded(handle, max_bytes, zinfo.filename)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InvalidInput("agent artifact is a damaged zip archive") from exc
        raise InvalidInput("agent artifact has no such binary", expected=list(members))
    return data


class Artifacts:
    """Resolves each tool's ``ArtifactSource`` into a verified ``Artifact``."""

    def __init__(
        self, sources: dict[str, ArtifactSource], downloader: Downloader, cache_dir: Path, *, max_bytes: int
    ) -> None:
        self._sources = sources
        self._downloader = downloader
        self._cache_dir = cache_dir
        self._max_bytes = max_bytes

    def _cached(self, sha256: str) -> bytes | None:
        path = self._cache_dir / sha256
        if not path.is_file():
            return None
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() == sha256:
            return data
        path.unlink(missing_ok=True)  # damaged cache entry: fetch again
        return None

    def _store(self, sha256: str, data: bytes) -> None:
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._cache_dir / f".{sha256}.tmp"
        tmp.write_bytes(data)
        tmp.replace(self._cache_dir / sha256)

    async def get(self, tool: str) -> Artifact:
        """The verified binary of ``tool``.

        Raises ``ConfigurationError`` when nothing is configured, a checksum does not match or
        a download has no checksum configured; ``InvalidInput`` for a bad URL, an oversized
        artifact or an archive without the binary; ``ServiceUnavailable`` / ``OperationTimeout``
        when the artifact host cannot be reached. Nothing is returned unverified.
        """
        source = self._sources.get(tool)
        if source is None or (source.path is None and not source.url):
            raise ConfigurationError("no artifact path or URL configured for this tool", tool=tool)
        expected = source.sha256.lower()
        if source.path is not None:
            try:
                raw = await asyncio.to_thread(Path(source.path).read_bytes)
            except OSError as exc:
                raise ConfigurationError("cannot read the agent artifact", tool=tool, path=str(source.path)) from exc
            Artifact(raw, expected).verified()
        else:
            cached = await asyncio.to_thread(self._cached, expected) if len(expected) == 64 else None
            raw = cached if cached is not None else await self._downloader.download(source.url, expected)
            if cached is None:
                await asyncio.to_thread(self._store, expected, raw)
        binary = await asyncio.to_thread(partial(unpack, raw, source.members, max_bytes=self._max_bytes))
        return Artifact(binary, hashlib.sha256(binary).hexdigest())
