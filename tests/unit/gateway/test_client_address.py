"""The caller's address: the peer, unless the peer is a configured trusted proxy."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from starlette.requests import Request

from services.gateway.deps import client_address


def request(peer: str, forwarded: str | None, trusted: tuple[str, ...]) -> Request:
    settings = SimpleNamespace(trusted_proxies=trusted)
    app = SimpleNamespace(state=SimpleNamespace(gateway=SimpleNamespace(settings=settings)))
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return Request({"type": "http", "client": (peer, 5555), "headers": headers, "app": app})


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("127.0.0.9", "127.0.0.66", (), "127.0.0.9"),
        ("127.0.0.9", "127.0.0.66", ("127.0.0.2",), "127.0.0.9"),
        ("127.0.0.2", "127.0.0.66", ("127.0.0.2",), "127.0.0.66"),
        ("127.0.0.2", "127.0.0.66, 127.0.0.3", ("127.0.0.2", "127.0.0.3"), "127.0.0.66"),
        ("127.0.0.2", "127.0.0.1, 127.0.0.66, 127.0.0.3", ("127.0.0.0/30", "127.0.0.3"), "127.0.0.66"),
        ("127.0.0.2", "not-an-ip, 127.0.0.3", ("127.0.0.2", "127.0.0.3"), "127.0.0.3"),
        ("127.0.0.2", None, ("127.0.0.2",), "127.0.0.2"),
    ],
    ids=[
        "no-proxy-configured-header-ignored",
        "peer-not-a-proxy-header-ignored",
        "trusted-proxy-header-believed",
        "chain-of-trusted-proxies",
        "a-spoofed-left-hop-is-not-believed",
        "malformed-hop-stops-the-walk",
        "trusted-proxy-without-header",
    ],
)
def test_forwarded_addresses_are_believed_only_from_configured_proxies(
    peer: str, forwarded: str | None, trusted: tuple[str, ...], expected: str
) -> None:
    assert client_address(request(peer, forwarded, trusted)) == expected
