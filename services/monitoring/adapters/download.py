"""Downloads agent artifacts over HTTP(S) with httpx: streamed, size-bounded, checksum verified.

The body is hashed while it streams in and refused as soon as it grows past the limit; the
bytes are handed back only when their SHA-256 equals the configured one, so nothing that was
not verified can reach a VM. Redirects are followed (release hosts redirect to their object
stores) but every hop must stay on ``http`` or ``https``. The URL is never logged with its
query string (signed URLs carry credentials there).
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import httpx

from shared.errors import ConfigurationError, InvalidInput, OperationTimeout, ServiceUnavailable

__all__ = ["HttpDownloader", "check_download_url", "safe_url"]

_SCHEMES = ("http", "https")


def safe_url(url: str) -> str:
    """``url`` without user info, query or fragment (fit for logs and error details)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_download_url(url: str) -> str:
    """Return ``url`` when it is an absolute ``http(s)`` URL with a host; else ``InvalidInput``."""
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES or not parts.hostname:
        raise InvalidInput("artifact URLs must be http:// or https:// with a host", url=safe_url(url))
    return url


class HttpDownloader:
    """``Downloader`` over an injected ``httpx.AsyncClient``."""

    def __init__(self, client: httpx.AsyncClient, *, max_bytes: int, timeout_s: float = 300.0) -> None:
        self._client = client
        self._max_bytes = max_bytes
        self._timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0))

    async def download(self, url: str, sha256: str) -> bytes:
        """The body of ``url`` once its SHA-256 equals ``sha256``; see ``Downloader.download``."""
        check_download_url(url)
        if len(sha256) != 64:
            raise ConfigurationError("a downloaded artifact needs its sha256 configured", url=safe_url(url))
        digest = hashlib.sha256()
        body = bytearray()
        try:
            async with self._client.stream("GET", url, follow_redirects=True, timeout=self._timeout) as response:
                for hop in [*response.history, response]:
                    if hop.url.scheme not in _SCHEMES:
                        raise InvalidInput("artifact redirect left http(s)", url=safe_url(str(hop.url)))
                status = response.status_code
                if 400 <= status < 500:  # the URL is wrong: retrying will not help
                    raise ConfigurationError("artifact URL refused", url=safe_url(url), status=status)
                if status != 200:
                    raise ServiceUnavailable("artifact download failed", url=safe_url(url), status=status)
                declared = int(response.headers.get("Content-Length") or 0)
                if declared > self._max_bytes:
                    raise InvalidInput("artifact larger than allowed", url=safe_url(url), limit=self._max_bytes)
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > self._max_bytes:
                        raise InvalidInput("artifact larger than allowed", url=safe_url(url), limit=self._max_bytes)
                    digest.update(chunk)
        except httpx.TimeoutException as exc:
            raise OperationTimeout("artifact download timed out", url=safe_url(url)) from exc
        except httpx.UnsupportedProtocol as exc:
            raise InvalidInput("artifact redirect left http(s)", url=safe_url(url)) from exc
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"artifact host unreachable: {type(exc).__name__}", url=safe_url(url)) from exc
        actual = digest.hexdigest()
        if actual != sha256.lower():
            raise ConfigurationError(
                "downloaded artifact checksum mismatch", url=safe_url(url), expected=sha256.lower(), actual=actual
            )
        return bytes(body)
