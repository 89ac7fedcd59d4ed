"""The gateway's notifications: the rules, the channels and the notifier, built at start from
settings (the channels' secret files are read then) over the shared stores, fed by the event
handlers; the record of deliveries is purged of what is older than the retention."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from prometheus_client import CollectorRegistry

from services.gateway.notify.channels import build_channel
from services.gateway.notify.model import ChannelConfig, Delivery, Kind, Notification, Severity
from services.gateway.notify.notifier import Notifier
from services.gateway.notify.ports import DeliveryLog, PinnedSpells, SendLedger
from services.gateway.notify.rules import NotificationRules, RuleSettings
from shared.clock import Clock
from shared.errors import VmscaleError
from shared.loops import every
from shared.messages import Message
from shared.telemetry import get_logger

__all__ = ["Notifications", "NotifyStores"]

log = get_logger(__name__)


@dataclass(frozen=True)
class NotifyStores:
    """Where the notifications keep their state: shared by every replica of the gateway."""

    ledger: SendLedger
    spells: PinnedSpells
    deliveries: DeliveryLog


class Notifications:
    """Events in, notifications out (``rules`` → ``notifier``)."""

    def __init__(
        self,
        configs: list[ChannelConfig],
        clock: Clock,
        rules: RuleSettings | None = None,
        registry: CollectorRegistry | None = None,
        *,
        retention_s: float = 30 * 86400.0,
        purge_interval_s: float = 3600.0,
    ) -> None:
        self.configs = configs
        self._rule_settings = rules
        self._rules: NotificationRules | None = None
        self._clock = clock
        self._registry = registry
        self._retention_s = retention_s
        self._purge_interval_s = purge_interval_s
        self._client: httpx.AsyncClient | None = None
        self._notifier: Notifier | None = None
        self._purge: asyncio.Task[None] | None = None

    def start(self, stores: NotifyStores) -> None:
        """Read the channels' secret files, open the HTTP client and start purging old delivery
        records (``ConfigurationError`` when a secret file cannot be read). In a running loop."""
        self._client = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        channels = [build_channel(config, self._client) for config in self.configs]
        self._rules = NotificationRules(stores.spells, self._rule_settings)
        self._notifier = Notifier(channels, self._clock, stores.ledger, stores.deliveries, registry=self._registry)
        purge = every(self._purge_interval_s, self.purge, name="notification delivery purge", log=log)
        self._purge = asyncio.create_task(purge, name="gateway-notification-purge")
        log.info("notification channels ready", channels=[c.name for c in self.configs])

    async def purge(self) -> int:
        """Delete the delivery records older than the retention; how many went."""
        before = self._clock.now() - timedelta(seconds=self._retention_s)
        purged = await asyncio.to_thread(self.notifier.deliveries.purge, before)
        if purged:
            log.info("old notification deliveries purged", count=purged)
        return purged

    async def close(self) -> None:
        """Stop the purge and the deliveries, close the client."""
        if self._purge is not None:
            self._purge.cancel()
            await asyncio.gather(self._purge, return_exceptions=True)
            self._purge = None
        if self._notifier is not None:
            await self._notifier.close()
        if self._client is not None:
            await self._client.aclose()

    @property
    def notifier(self) -> Notifier:
        """The notifier (after ``start``)."""
        if self._notifier is None:
            raise RuntimeError("notifications have not started")
        return self._notifier

    @property
    def rules(self) -> NotificationRules:
        """The rules (after ``start``)."""
        if self._rules is None:
            raise RuntimeError("notifications have not started")
        return self._rules

    async def on_event(self, message: Message) -> Notification | None:
        """Submit the notification ``message`` calls for (delivered in the background). When
        the shared state cannot be read the event is logged and dropped (it is not redelivered)."""
        try:
            notification = await self.rules.of(message)
        except VmscaleError as exc:
            log.warning("event not judged for notifications", event=type(message).__name__, why=str(exc))
            return None
        if notification is not None and self._notifier is not None:
            self._notifier.submit(notification)
        return notification

    async def test(self, actor: str, channel: str | None = None) -> list[Delivery]:
        """Send a test notification now (the UI's test button)."""
        notification = Notification(
            kind=Kind.TEST,
            severity=Severity.INFO,
            title="vmscale test notification",
            text=f"Sent by {actor} to check this channel.",
            dedup_key=f"test:{self._clock.now().isoformat()}",
            occurred_at=self._clock.now(),
        )
        return await self.notifier.test(notification, channel)

    def public_channels(self) -> list[dict[str, object]]:
        """Each channel as operators may see it: name, type, host and routing, never a secret."""
        out: list[dict[str, object]] = []
        for config in self.configs:
            host = urlsplit(config.url).hostname if config.url else None
            if config.type == "email":
                host = config.smtp_host
            out.append(
                {
                    "name": config.name,
                    "type": config.type,
                    "host": host if config.type != "slack" else None,
                    "signed": config.secret_file is not None,
                    "groups": list(config.groups),
                    "min_severity": config.min_severity.label,
                    "kinds": [k.value for k in config.kinds],
                    "rate_per_min": config.rate_per_min,
                }
            )
        return out
