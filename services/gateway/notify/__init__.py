"""Notifications straight from the events: rules (which events), channels (where), the notifier
(routing, de-duplication, rate limit, retries, delivery records)."""

from services.gateway.notify.channels import SignatureVerifier, SlackChannel, WebhookChannel, build_channel, sign
from services.gateway.notify.model import (
    ChannelConfig,
    Delivery,
    DeliveryOutcome,
    Kind,
    Notification,
    Severity,
    load_channels,
)
from services.gateway.notify.notifier import Notifier
from services.gateway.notify.ports import DeliveryLog, PinnedSpells, SendLedger
from services.gateway.notify.rules import NotificationRules, RuleSettings
from services.gateway.notify.service import Notifications, NotifyStores

__all__ = [
    "ChannelConfig",
    "Delivery",
    "DeliveryLog",
    "DeliveryOutcome",
    "Kind",
    "Notification",
    "NotificationRules",
    "Notifications",
    "Notifier",
    "NotifyStores",
    "PinnedSpells",
    "RuleSettings",
    "SendLedger",
    "Severity",
    "SignatureVerifier",
    "SlackChannel",
    "WebhookChannel",
    "build_channel",
    "load_channels",
    "sign",
]
