"""Turn an Alertmanager notification into ``alert.fired`` / ``alert.resolved`` events.

Each alert is an episode ``(fingerprint, startsAt, status)``. The first request to claim an
episode in Redis (``SET NX``, one round trip for the whole notification) publishes it, with a
message id derived from the episode, so even two gateways racing on the same notification store
it once in JetStream. When a publish fails, its claims are released and the request answers 503:
Alertmanager re-sends that notification and the retry publishes what was not stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from services.gateway.webhook.model import AlertmanagerAlert, AlertmanagerPayload
from shared import subjects
from shared.bus import Bus
from shared.errors import ServiceUnavailable, VmscaleError
from shared.messages import AlertFired, AlertResolved, ScaleDirection, deterministic_id
from shared.telemetry import get_logger

__all__ = ["EpisodeStore", "IngestResult", "WebhookIngest", "direction_of", "episode_key"]

log = get_logger(__name__)

_OUT = re.compile(r"(^|_)HighResourceUsage$")
_IN = re.compile(r"(^|_)LowResourceUsage$")


class EpisodeStore(Protocol):
    """The ledger's two calls (``adapters.redis_store.EpisodeLedger`` implements them)."""

    async def claim(self, episodes: list[str]) -> list[bool]:
        """Claim each episode; True when it was new. ``ServiceUnavailable`` when unknown."""
        ...

    async def release(self, episodes: list[str]) -> None:
        """Undo claims (their publish failed); ``ServiceUnavailable`` on failure."""
        ...


@dataclass(frozen=True)
class IngestResult:
    """What happened to one notification."""

    group: str
    published: int
    duplicates: int
    truncated: int


def direction_of(alertname: str) -> ScaleDirection | None:
    """OUT for ``<group>_HighResourceUsage``, IN for ``<group>_LowResourceUsage``, else None.

    None is published too: the scaler rejects unknown alerts with a recorded decision.
    """
    if _OUT.search(alertname):
        return ScaleDirection.OUT
    if _IN.search(alertname):
        return ScaleDirection.IN
    return None


def episode_key(group: str, alert: AlertmanagerAlert) -> str:
    """The natural key of one alert episode."""
    return f"{group}|{alert.fingerprint}|{alert.startsAt.isoformat()}|{alert.status}"


def _event(group: str, receiver: str, alert: AlertmanagerAlert) -> AlertFired | AlertResolved:
    alertname = alert.labels.get("alertname", "")
    common = {
        "message_id": deterministic_id("alert", episode_key(group, alert)),
        "group": group,
        "alertname": alertname or "<none>",
        "direction": direction_of(alertname),
        "fingerprint": alert.fingerprint,
        "starts_at": alert.startsAt,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "receiver": receiver,
    }
    if alert.status == "resolved":
        return AlertResolved(**common, ends_at=alert.ended_at or alert.startsAt)
    return AlertFired(**common)


class WebhookIngest:
    """De-duplicates episodes and publishes the new ones."""

    def __init__(self, bus: Bus, ledger: EpisodeStore) -> None:
        self._bus = bus
        self._ledger = ledger

    async def ingest(self, group: str, payload: AlertmanagerPayload) -> IngestResult:
        """Publish the new episodes of ``payload``; raises ``ServiceUnavailable`` when NATS is down."""
        keys = [episode_key(group, alert) for alert in payload.alerts]
        unique = dict(zip(keys, payload.alerts, strict=True))
        try:
            claimed = await self._ledger.claim(list(unique))
            ledger_ok = True
        except ServiceUnavailable:
            # Without Redis every episode is published; its deterministic id still lets
            # JetStream drop repeats inside the duplicate window, and the scaler is idempotent.
            log.warning("episode ledger unavailable; publishing without it", group=group)
            claimed, ledger_ok = [True] * len(unique), False
        fresh = [(key, alert) for (key, alert), new in zip(unique.items(), claimed, strict=True) if new]
        receiver = payload.receiver_name
        try:
            for _, alert in fresh:
                event = _event(group, receiver, alert)
                if isinstance(event, AlertResolved):
                    await self._bus.publish(subjects.ALERT_RESOLVED, event)
                else:
                    await self._bus.publish(subjects.ALERT_FIRED, event)
        except VmscaleError:
            if ledger_ok:
                try:
                    await self._ledger.release([key for key, _ in fresh])
                except ServiceUnavailable:
                    log.warning("episode claims not released; they expire", group=group)
            raise
        if payload.truncatedAlerts:
            log.warning("alertmanager truncated the notification", group=group, truncated=payload.truncatedAlerts)
        return IngestResult(group, len(fresh), len(payload.alerts) - len(fresh), payload.truncatedAlerts)
