"""Where notifications go: a generic JSON webhook signed with HMAC-SHA256 and a Slack-compatible
incoming webhook, each over an injected ``httpx.AsyncClient``; and e-mail (``notify.email``).

The generic webhook signs ``<timestamp>.<body>`` with the channel's key and sends::

    X-Vmscale-Timestamp: 1765080000
    X-Vmscale-Delivery:  <a fresh id per attempt-series; receivers may remember it>
    X-Vmscale-Signature: sha256=<hex HMAC-SHA256(key, b"1765080000." + body)>

``SignatureVerifier`` is the receiver's side: a signature over an altered body, a timestamp
outside the replay window, or a delivery id seen before is refused.

Errors (``send``): 5xx, 429, timeouts and refused connections are ``RetryableError``; any other
4xx a ``PermanentError``. No message carries the URL (a Slack URL is a secret) or the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections import OrderedDict
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from services.gateway.notify.email import EmailChannel
from services.gateway.notify.model import ChannelConfig, Notification
from shared.errors import InvalidInput, OperationTimeout, ServiceUnavailable, Unauthorized

__all__ = ["Channel", "SignatureVerifier", "SlackChannel", "WebhookChannel", "build_channel", "sign"]

SIGNATURE_HEADER = "X-Vmscale-Signature"
TIMESTAMP_HEADER = "X-Vmscale-Timestamp"
DELIVERY_HEADER = "X-Vmscale-Delivery"


class Channel(Protocol):
    """One destination of notifications."""

    config: ChannelConfig

    async def send(self, notification: Notification, delivery_id: str) -> None:
        """Deliver once (no retries here; the notifier retries). Blocks until the receiver
        answered. Raises ``RetryableError`` for what may pass (5xx, 429, timeouts, refused
        connections) and ``PermanentError`` for what will not (other 4xx)."""
        ...


def sign(key: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(key, ``<timestamp>.`` + body)."""
    digest = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


async def _post(
    client: httpx.AsyncClient, config: ChannelConfig, url: str, body: bytes, headers: dict[str, str]
) -> None:
    host = urlsplit(url).hostname or "?"
    try:
        response = await client.post(url, content=body, headers=headers, timeout=config.timeout_s)
    except httpx.TimeoutException as exc:
        raise OperationTimeout(f"{host} did not answer within {config.timeout_s:g} s", channel=config.name) from exc
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(f"{host} unreachable: {type(exc).__name__}", channel=config.name) from exc
    status = response.status_code
    if status >= 500 or status == 429:
        raise ServiceUnavailable(f"{host} answered {status}", channel=config.name)
    if status in (401, 403):
        raise Unauthorized(f"{host} refused the credentials ({status})", channel=config.name)
    if status >= 400:
        raise InvalidInput(f"{host} refused the notification ({status})", channel=config.name)


class WebhookChannel:
    """The generic JSON webhook, signed when the channel has a key."""

    def __init__(self, config: ChannelConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self._client = client
        self._url = config.read_url()
        self._key = config.read_secret()

    async def send(self, notification: Notification, delivery_id: str) -> None:
        """POST the notification's JSON; see ``Channel.send``."""
        body = json.dumps(notification.payload(), sort_keys=True).encode()
        now = int(time.time())
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(now), DELIVERY_HEADER: delivery_id}
        if self._key:
            headers[SIGNATURE_HEADER] = sign(self._key, now, body)
        await _post(self._client, self.config, self._url, body, headers)


class SlackChannel:
    """A Slack-compatible incoming webhook (``{"text": …}``); its URL is the secret."""

    _ICONS = {"critical": ":rotating_light:", "warning": ":warning:", "info": ":information_source:"}

    def __init__(self, config: ChannelConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self._client = client
        self._url = config.read_url()

    async def send(self, notification: Notification, delivery_id: str) -> None:
        """POST ``{"text": …}``; see ``Channel.send``."""
        icon = self._ICONS.get(notification.severity.label, "")
        text = f"{icon} *{notification.title}*\n{notification.text}".strip()
        body = json.dumps({"text": text}).encode()
        await _post(self._client, self.config, self._url, body, {"Content-Type": "application/json"})


def build_channel(config: ChannelConfig, client: httpx.AsyncClient) -> Channel:
    """The channel of ``config``'s type (reads its secret files now)."""
    if config.type == "slack":
        return SlackChannel(config, client)
    if config.type == "email":
        return EmailChannel(config)
    return WebhookChannel(config, client)


class SignatureVerifier:
    """The receiving side of the generic webhook: checks signature, freshness and replays."""

    def __init__(self, key: str, window_s: float = 300.0, remember: int = 10_000) -> None:
        self._key = key
        self._window_s = window_s
        self._remember = remember
        self._seen: OrderedDict[str, float] = OrderedDict()

    def verify(self, headers: dict[str, str], body: bytes, now: float | None = None) -> str | None:
        """None when the request is authentic, fresh and new; else why it is refused."""
        now = time.time() if now is None else now
        lowered = {k.lower(): v for k, v in headers.items()}
        stamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
        given = lowered.get(SIGNATURE_HEADER.lower(), "")
        delivery = lowered.get(DELIVERY_HEADER.lower(), "")
        if not stamp.isdigit() or not given or not delivery:
            return "missing signature headers"
        if not hmac.compare_digest(sign(self._key, int(stamp), body), given):
            return "bad signature"
        if abs(now - int(stamp)) > self._window_s:
            return "outside the replay window"
        key = f"{delivery}:{given}"
        if key in self._seen:
            return "replayed"
        self._seen[key] = now
        while len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        return None


def new_delivery_id() -> str:
    """A fresh delivery id."""
    return uuid.uuid4().hex
