"""Routes notifications to channels: per-channel routing, de-duplication, a rate limit, retries
with exponential back-off, and a record of every delivery.

Per channel, in order:

1. routing — the channel's groups, minimum severity and kinds (``ChannelConfig.wants``);
2. de-duplication — a ``dedup_key`` sent within ``dedup_window_s`` is recorded ``deduplicated``;
3. rate limit — beyond ``rate_per_min`` sends in the last minute it is recorded ``rate_limited``
   (a flood of 100 failures yields ``rate_per_min`` messages and the rest counted, not 100);
4. delivery — up to ``attempts`` tries, waiting ``backoff_s``, doubling, while the error is
   retryable; recorded ``sent`` or ``failed`` with why.

Steps 2 and 3 are one claim on the ``SendLedger`` (Redis in the gateway), so they hold across
replicas and restarts; when the ledger cannot be reached the notification is sent anyway (told
twice is better than never told). Every delivery is appended to the ``DeliveryLog`` (the
gateway's database; a record that cannot be written is logged, the delivery stands) for
``GET /api/v1/notifications/deliveries`` and counted in
``vmscale_notifications_total{channel,outcome}``; the log line of each carries no URL and no
secret.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

from prometheus_client import CollectorRegistry, Counter

from services.gateway.notify.channels import Channel, new_delivery_id
from services.gateway.notify.model import Delivery, DeliveryOutcome, Notification
from services.gateway.notify.ports import DeliveryLog, SendLedger
from shared.clock import Clock
from shared.errors import PermanentError, RetryableError, VmscaleError
from shared.telemetry import get_logger

__all__ = ["Notifier"]

log = get_logger(__name__)


class Notifier:
    """Sends each notification to every channel that wants it (module docstring)."""

    def __init__(
        self,
        channels: Sequence[Channel],
        clock: Clock,
        ledger: SendLedger,
        deliveries: DeliveryLog,
        *,
        registry: CollectorRegistry | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.channels = list(channels)
        self._clock = clock
        self._sleep = sleep
        self._ledger = ledger
        self.deliveries = deliveries
        self._tasks: set[asyncio.Task[list[Delivery]]] = set()
        self._counter = Counter(
            "vmscale_notifications",
            "Notifications by channel and outcome (sent, failed, deduplicated, rate_limited)",
            ["channel", "outcome"],
            registry=registry if registry is not None else CollectorRegistry(),
        )

    def submit(self, notification: Notification) -> None:
        """Deliver in the background (the event handler does not wait for receivers)."""
        task = asyncio.create_task(self.notify(notification))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait until every submitted notification has been delivered or given up."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Cancel deliveries still running (at shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def notify(self, notification: Notification) -> list[Delivery]:
        """Route, de-duplicate, rate-limit and deliver to every channel at once; the records."""
        wanted = [c for c in self.channels if c.config.wants(notification)]
        return list(await asyncio.gather(*(self._one(c, notification) for c in wanted)))

    async def test(self, notification: Notification, channel: str | None = None) -> list[Delivery]:
        """Send ``notification`` (a test) now to ``channel`` (or all), past de-duplication and
        the rate limit, with retries: what the UI's test button does."""
        chosen = [c for c in self.channels if channel is None or c.config.name == channel]
        return list(await asyncio.gather(*(self._deliver(c, notification) for c in chosen)))

    async def _one(self, channel: Channel, notification: Notification) -> Delivery:
        config = channel.config
        try:
            refused = await self._ledger.claim(
                config.name, notification.dedup_key, self._clock.now(), config.dedup_window_s, config.rate_per_min
            )
        except VmscaleError as exc:
            log.warning("notification state unavailable; sending anyway", channel=config.name, why=str(exc))
            refused = None
        if refused is DeliveryOutcome.DEDUPLICATED:
            return await self._record(channel, notification, refused, 0, "sent before within the window")
        if refused is DeliveryOutcome.RATE_LIMITED:
            return await self._record(channel, notification, refused, 0, f"over {config.rate_per_min} per minute")
        return await self._deliver(channel, notification)

    async def _deliver(self, channel: Channel, notification: Notification) -> Delivery:
        config = channel.config
        delivery_id = new_delivery_id()
        reason = ""
        for attempt in range(1, config.attempts + 1):
            try:
                await channel.send(notification, delivery_id)
            except RetryableError as exc:
                reason = str(exc)
                if attempt < config.attempts:
                    await self._sleep(config.backoff_s * 2 ** (attempt - 1))
                continue
            except PermanentError as exc:
                return await self._record(channel, notification, DeliveryOutcome.FAILED, attempt, str(exc))
            except VmscaleError as exc:  # neither kind: treat as final
                return await self._record(channel, notification, DeliveryOutcome.FAILED, attempt, str(exc))
            return await self._record(channel, notification, DeliveryOutcome.SENT, attempt, "")
        return await self._record(channel, notification, DeliveryOutcome.FAILED, config.attempts, reason)

    async def _record(
        self, channel: Channel, notification: Notification, outcome: DeliveryOutcome, attempts: int, reason: str
    ) -> Delivery:
        delivery = Delivery(
            channel=channel.config.name,
            kind=notification.kind,
            severity=notification.severity.label,
            group=notification.group,
            title=notification.title,
            dedup_key=notification.dedup_key,
            outcome=outcome,
            attempts=attempts,
            reason=reason,
            at=self._clock.now(),
        )
        try:
            await asyncio.to_thread(self.deliveries.append, delivery)
        except VmscaleError as exc:
            log.warning("notification delivery not recorded", channel=channel.config.name, why=str(exc))
        self._counter.labels(channel.config.name, outcome.value).inc()
        if outcome is DeliveryOutcome.FAILED:
            log.warning("notification not delivered", channel=channel.config.name, kind=notification.kind, why=reason)
        return delivery
