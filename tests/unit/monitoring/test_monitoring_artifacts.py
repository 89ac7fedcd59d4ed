"""Artifacts: upstream archive layouts unpacked safely, downloads streamed, bounded and verified
(httpx.MockTransport), cached by checksum and re-verified."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import httpx
import pytest

from services.monitoring.adapters.download import HttpDownloader, safe_url
from services.monitoring.artifacts import Artifacts, ArtifactSource, unpack
from shared.errors import ConfigurationError, InvalidInput, ServiceUnavailable

BINARY = b"\x7fELF" + bytes(range(256)) * 64


def tarball(members: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            archive.addfile(info, io.BytesIO(data))
        if symlink:
            link = tarfile.TarInfo(symlink)
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
            archive.addfile(link)
    return out.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


UPSTREAM = tarball(
    {
        "node_exporter-1.8.2.linux-amd64/LICENSE": b"Apache",
        "node_exporter-1.8.2.linux-amd64/node_exporter": BINARY,
    }
)


@pytest.mark.parametrize(
    ("data", "members"),
    [
        (UPSTREAM, ("node_exporter",)),
        (zipped({"promtail-linux-amd64": BINARY}), ("promtail-linux-amd64", "promtail")),
        (BINARY, ("node_exporter",)),
        (BINARY, ()),
    ],
    ids=["upstream-tarball", "promtail-zip", "bare-binary", "jar-as-is"],
)
def test_the_binary_is_taken_from_the_upstream_layout(data: bytes, members: tuple[str, ...]) -> None:
    assert unpack(data, members, max_bytes=1 << 20) == BINARY


@pytest.mark.parametrize(
    "data",
    [
        tarball({"node_exporter-1.8.2.linux-amd64/README": b"no binary"}),
        tarball({"../../node_exporter": BINARY}),
        tarball({"a/b/c/node_exporter": BINARY}),
        tarball({}, symlink="node_exporter-1.8.2.linux-amd64/node_exporter"),
        zipped({"elsewhere/deeper/node_exporter": BINARY}),
    ],
    ids=["missing", "traversal", "too-deep", "symlink", "zip-too-deep"],
)
def test_an_archive_without_a_plain_binary_of_that_name_is_refused(data: bytes) -> None:
    with pytest.raises(InvalidInput):
        unpack(data, ("node_exporter",), max_bytes=1 << 20)


def test_an_oversized_unpacked_binary_is_refused() -> None:
    with pytest.raises(InvalidInput):
        unpack(UPSTREAM, ("node_exporter",), max_bytes=1000)


def serving(body: bytes, counter: list[int] | None = None, **headers: str) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if counter is not None:
            counter.append(1)
        if request.url.path == "/moved":
            return httpx.Response(302, headers={"Location": "ftp://127.0.0.1/node_exporter.tar.gz"})
        if request.url.path == "/missing":
            return httpx.Response(404)
        if request.url.path == "/broken":
            return httpx.Response(503)
        return httpx.Response(200, content=body, headers=headers)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


URL = "http://127.0.0.1:8000/node_exporter-1.8.2.linux-amd64.tar.gz"
SHA = hashlib.sha256(UPSTREAM).hexdigest()


async def test_a_download_is_returned_only_with_the_configured_checksum() -> None:
    async with serving(UPSTREAM) as client:
        downloader = HttpDownloader(client, max_bytes=1 << 20)
        assert await downloader.download(URL, SHA) == UPSTREAM
        with pytest.raises(ConfigurationError) as caught:
            await downloader.download(URL, "0" * 64)
        with pytest.raises(ConfigurationError):
            await downloader.download(URL, "")
    assert caught.value.details["actual"] == SHA


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("file:///usr/bin/prometheus-node-exporter", InvalidInput),
        ("ftp://127.0.0.1/node_exporter.tar.gz", InvalidInput),
        ("http:///no-host", InvalidInput),
        ("http://127.0.0.1:8000/moved", InvalidInput),
        ("http://127.0.0.1:8000/missing", ConfigurationError),
        ("http://127.0.0.1:8000/broken", ServiceUnavailable),
    ],
    ids=["file", "ftp", "no-host", "redirect-to-ftp", "404", "503"],
)
async def test_only_http_urls_that_answer_are_used(url: str, error: type[Exception]) -> None:
    async with serving(UPSTREAM) as client:
        with pytest.raises(error):
            await HttpDownloader(client, max_bytes=1 << 20).download(url, SHA)


async def test_a_body_over_the_limit_is_refused_declared_or_not() -> None:
    async with serving(UPSTREAM) as client:
        with pytest.raises(InvalidInput):
            await HttpDownloader(client, max_bytes=100).download(URL, SHA)


def test_a_logged_url_loses_credentials_and_query() -> None:
    assert (
        safe_url("https://user:pw@127.0.0.1:8443/a.tar.gz?X-Amz-Signature=abc#f") == "https://127.0.0.1:8443/a.tar.gz"
    )


async def test_downloads_are_cached_by_checksum_and_a_damaged_cache_is_fetched_again(tmp_path: Path) -> None:
    calls: list[int] = []
    source = ArtifactSource("node_exporter", url=URL, sha256=SHA, members=("node_exporter",))
    async with serving(UPSTREAM, calls) as client:
        artifacts = Artifacts(
            {"node_exporter": source}, HttpDownloader(client, max_bytes=1 << 20), tmp_path, max_bytes=1 << 20
        )
        first = await artifacts.get("node_exporter")
        second = await artifacts.get("node_exporter")
        (tmp_path / SHA).write_bytes(b"damaged")
        third = await artifacts.get("node_exporter")
    assert first.data == second.data == third.data == BINARY
    assert first.sha256 == hashlib.sha256(BINARY).hexdigest() and len(calls) == 2


async def test_a_path_artifact_is_verified_and_nothing_configured_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.tar.gz").write_bytes(UPSTREAM)
    sources = {
        "good": ArtifactSource("good", path=tmp_path / "a.tar.gz", sha256=SHA, members=("node_exporter",)),
        "bad": ArtifactSource("bad", path=tmp_path / "a.tar.gz", sha256="1" * 64, members=("node_exporter",)),
        "missing": ArtifactSource("missing", path=tmp_path / "nope"),
    }
    async with serving(b"") as client:
        artifacts = Artifacts(sources, HttpDownloader(client, max_bytes=1), tmp_path / "c", max_bytes=1 << 20)
        assert (await artifacts.get("good")).data == BINARY
        for tool in ("bad", "missing", "unconfigured"):
            with pytest.raises(ConfigurationError):
                await artifacts.get(tool)
