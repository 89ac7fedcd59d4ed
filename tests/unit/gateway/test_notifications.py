"""Notifications from events: which events become which notification, and the notifier's
routing, de-duplication, rate limit and retries, over a channel fake that keeps what it got."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.gateway.notify import (
    ChannelConfig,
    DeliveryOutcome,
    Kind,
    Notification,
    NotificationRules,
    Notifications,
    Notifier,
    RuleSettings,
    Severity,
    SignatureVerifier,
    load_channels,
    sign,
)
from shared import subjects
from shared.errors import ConfigurationError, InvalidInput, PermanentError, RetryableError, ServiceUnavailable
from shared.messages import ActivityKind, ActivityRolledBack, DeadLetter, DecisionRecorded, OrphanVmsDetected
from testkit.clock import FakeClock
from testkit.gateway.notify_memory import (
    MemoryDeliveryLog,
    MemoryPinnedSpells,
    MemorySendLedger,
    memory_notify_stores,
)

T0 = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)


class KeptChannel:
    """A channel that keeps what it was sent and fails as scripted (``failures`` errors first)."""

    def __init__(self, config: ChannelConfig, failures: list[Exception] | None = None) -> None:
        self.config = config
        self.failures = list(failures or [])
        self.got: list[Notification] = []
        self.tries = 0

    async def send(self, notification: Notification, delivery_id: str) -> None:
        self.tries += 1
        if self.failures:
            raise self.failures.pop(0)
        self.got.append(notification)


def config(**overrides: object) -> ChannelConfig:
    values: dict[str, object] = {"name": "ops", "type": "webhook", "url": "http://127.0.0.1:1/hook", "backoff_s": 1}
    values.update(overrides)
    return ChannelConfig.model_validate(values)


def note(key: str = "k1", group: str | None = "web", severity: Severity = Severity.CRITICAL) -> Notification:
    return Notification(
        kind=Kind.ACTIVITY_FAILED, severity=severity, title="t", text="x", dedup_key=key, occurred_at=T0, group=group
    )


def notifier(*channels: KeptChannel, clock: FakeClock | None = None) -> tuple[Notifier, list[float]]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return Notifier(list(channels), clock or FakeClock(T0), MemorySendLedger(), MemoryDeliveryLog(), sleep=sleep), waits


def rules(settings: RuleSettings | None = None) -> NotificationRules:
    return NotificationRules(MemoryPinnedSpells(), settings)


# -- rules -----------------------------------------------------------------------------------------


def rolled_back(reason: str = "rolled_back: monitoring failed: password=hunter2") -> ActivityRolledBack:
    return ActivityRolledBack(
        activity_id="act-1",
        group="web",
        kind=ActivityKind.SCALE_OUT,
        failed_step="register_monitoring",
        reason=reason,
        duration_s=42,
    )


def decision(
    reason: str, *, allowed: bool = False, delta: int = 0, at: datetime = T0, **observed: object
) -> DecisionRecorded:
    return DecisionRecorded(
        group="web",
        allowed=allowed,
        delta=delta,
        reason=reason,
        trigger="evaluation",
        observed=observed,
        occurred_at=at,
    )


CASES = [
    ("rolled back", rolled_back(), Kind.ACTIVITY_FAILED, Severity.WARNING),
    ("failed", rolled_back("failed: compensation failed"), Kind.ACTIVITY_FAILED, Severity.CRITICAL),
    ("pool exhausted", decision("ip_pool_exhausted: no free address"), Kind.IP_POOL_LOW, Severity.CRITICAL),
    ("pool low", decision("allowed: high cpu", allowed=True, delta=1, free_ips=1), Kind.IP_POOL_LOW, Severity.WARNING),
    ("lost VM", decision("allowed: lost: web-3 (powered off)", allowed=True, delta=-1), Kind.VM_LOST, Severity.WARNING),
    ("orphans", OrphanVmsDetected(group="web", vm_names=("web-9",)), Kind.ORPHANS, Severity.WARNING),
    (
        "dead letter",
        DeadLetter(
            subject=subjects.CMD_VM_CLONE.name, consumer="c", reason="r", error_kind="E", deliveries=3, payload="{}"
        ),
        Kind.DEAD_LETTER,
        Severity.WARNING,
    ),
]


@pytest.mark.parametrize(("event", "kind", "severity"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_an_event_that_must_not_wait_becomes_a_notification(
    event: object, kind: Kind, severity: Severity
) -> None:
    found = await rules().of(event)  # type: ignore[arg-type]
    assert found is not None and (found.kind, found.severity) == (kind, severity)


QUIET = [
    ("an allowed scale-out with addresses to spare", decision("allowed: cpu", allowed=True, delta=1, free_ips=50)),
    ("a cooldown", decision("cooldown: wait")),
    ("orphans gone", OrphanVmsDetected(group="web")),
]


@pytest.mark.parametrize("event", [c[1] for c in QUIET], ids=[c[0] for c in QUIET])
async def test_an_event_operators_need_not_hear_about_at_once_is_not_notified(event: object) -> None:
    assert await rules().of(event) is None  # type: ignore[arg-type]


async def test_a_secret_in_a_reason_never_reaches_the_notification() -> None:
    found = await rules().of(rolled_back())
    assert found is not None and "hunter2" not in found.model_dump_json()


async def test_a_group_is_pinned_only_after_it_stayed_at_its_limit_long_enough() -> None:
    judge = rules(RuleSettings(pinned_after_s=600))
    assert await judge.of(decision("at_max: at 4 of 4")) is None
    assert await judge.of(decision("at_max: at 4 of 4", at=T0 + timedelta(minutes=5))) is None
    pinned = await judge.of(decision("at_max: at 4 of 4", at=T0 + timedelta(minutes=11)))
    assert pinned is not None and pinned.kind is Kind.GROUP_PINNED and "maximum" in pinned.title
    # a decision that scaled ends the spell: the clock starts again
    assert await judge.of(decision("allowed: cpu", allowed=True, delta=-1, at=T0 + timedelta(minutes=12))) is None
    assert await judge.of(decision("at_max: at 4 of 4", at=T0 + timedelta(minutes=13))) is None


async def test_replicas_seeing_alternate_decisions_share_one_pinned_spell() -> None:
    spells = MemoryPinnedSpells()  # the one store both replicas use (Redis in the gateway)
    one, two = NotificationRules(spells, RuleSettings(pinned_after_s=600)), NotificationRules(spells)
    assert await one.of(decision("at_max: at 4 of 4")) is None
    assert await two.of(decision("allowed: cpu", allowed=True, delta=-1, at=T0 + timedelta(minutes=1))) is None
    # the spell one saw start ended on two: one's next pinned decision starts a new spell
    assert await one.of(decision("at_max: at 4 of 4", at=T0 + timedelta(minutes=12))) is None
    pinned = await two.of(decision("at_max: at 4 of 4", at=T0 + timedelta(minutes=22)))
    assert pinned is not None and pinned.details["since"] == (T0 + timedelta(minutes=12)).isoformat()


# -- notifier --------------------------------------------------------------------------------------


async def test_routing_follows_the_group_and_the_minimum_severity() -> None:
    web = KeptChannel(config(name="web-team", groups=["web"]))
    pager = KeptChannel(config(name="pager", min_severity="critical"))
    sender, _ = notifier(web, pager)
    await sender.notify(note("a", group="api", severity=Severity.CRITICAL))
    await sender.notify(note("b", group="web", severity=Severity.WARNING))
    assert [n.dedup_key for n in web.got] == ["b"]
    assert [n.dedup_key for n in pager.got] == ["a"]


async def test_the_same_notification_is_sent_once_within_the_window_and_again_after_it() -> None:
    clock = FakeClock(T0)
    channel = KeptChannel(config(dedup_window_s=600))
    sender, _ = notifier(channel, clock=clock)
    first = await sender.notify(note("same"))
    second = await sender.notify(note("same"))
    clock.advance(601)
    third = await sender.notify(note("same"))
    assert [d[0].outcome for d in (first, second, third)] == [
        DeliveryOutcome.SENT,
        DeliveryOutcome.DEDUPLICATED,
        DeliveryOutcome.SENT,
    ]
    assert len(channel.got) == 2


async def test_a_flood_of_100_failures_yields_the_rate_limited_count_not_100_messages() -> None:
    channel = KeptChannel(config(rate_per_min=10))
    sender, _ = notifier(channel)
    for index in range(100):
        await sender.notify(note(f"failure-{index}"))
    outcomes = [d.outcome for d in sender.deliveries.recent(limit=1000)]
    assert len(channel.got) == 10
    assert outcomes.count(DeliveryOutcome.SENT) == 10 and outcomes.count(DeliveryOutcome.RATE_LIMITED) == 90


async def test_a_retryable_failure_is_retried_with_doubling_back_off_until_it_passes() -> None:
    errors: list[Exception] = [ServiceUnavailable("answered 500") for _ in range(3)]
    channel = KeptChannel(config(attempts=4, backoff_s=0.5), errors)
    sender, waits = notifier(channel)
    (delivery,) = await sender.notify(note())
    assert delivery.outcome is DeliveryOutcome.SENT and delivery.attempts == 4
    assert waits == [0.5, 1.0, 2.0]


async def test_a_permanent_refusal_is_not_retried_and_the_record_says_why() -> None:
    channel = KeptChannel(config(attempts=4), [InvalidInput("127.0.0.1 refused the notification (400)")])
    sender, waits = notifier(channel)
    (delivery,) = await sender.notify(note())
    assert (delivery.outcome, delivery.attempts, waits) == (DeliveryOutcome.FAILED, 1, [])
    assert "400" in delivery.reason


async def test_retries_running_out_are_recorded_as_failed() -> None:
    channel = KeptChannel(config(attempts=2), [ServiceUnavailable("answered 503") for _ in range(5)])
    sender, _ = notifier(channel)
    (delivery,) = await sender.notify(note())
    assert (delivery.outcome, delivery.attempts, delivery.reason) == (DeliveryOutcome.FAILED, 2, "answered 503")
    assert isinstance(ServiceUnavailable("x"), RetryableError) and isinstance(InvalidInput("x"), PermanentError)


# -- signatures and configuration ----------------------------------------------------------------


def signed(key: str, body: bytes, stamp: int, delivery: str = "d1") -> dict[str, str]:
    return {
        "X-Vmscale-Timestamp": str(stamp),
        "X-Vmscale-Signature": sign(key, stamp, body),
        "X-Vmscale-Delivery": delivery,
    }


def test_a_receiver_accepts_a_fresh_signature_and_refuses_an_altered_stale_or_replayed_one() -> None:
    verifier = SignatureVerifier("k3y", window_s=300)
    body = b'{"kind":"test"}'
    now = 1_765_080_000
    headers = signed("k3y", body, now)
    assert verifier.verify(headers, body, now=now + 1) is None
    assert verifier.verify(headers, body, now=now + 2) == "replayed"
    assert verifier.verify(signed("k3y", body, now, "d2"), body + b" ", now=now) == "bad signature"
    assert verifier.verify(signed("k3y", body, now - 600, "d3"), body, now=now) == "outside the replay window"
    assert verifier.verify(signed("other", body, now, "d4"), body, now=now) == "bad signature"


def test_a_bad_channel_list_is_refused_with_a_clear_reason(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not JSON"):
        load_channels("{")
    with pytest.raises(ConfigurationError, match="#0: type"):
        load_channels('[{"name": "x", "type": "pager"}]')
    with pytest.raises(ConfigurationError, match="unique"):
        load_channels('[{"name": "x", "type": "webhook"}, {"name": "x", "type": "webhook"}]')
    with pytest.raises(ConfigurationError, match="needs url_file"):
        load_channels('[{"name": "x", "type": "slack", "url": "http://127.0.0.1/hook"}]')
    with pytest.raises(ConfigurationError, match="needs smtp_host"):
        load_channels('[{"name": "x", "type": "email", "smtp_host": "127.0.0.1"}]')
    (channel,) = load_channels(f'[{{"name": "s", "type": "slack", "url_file": "{tmp_path / "none"}"}}]')
    with pytest.raises(ConfigurationError, match="cannot read"):
        channel.read_url()


class DownLedger:
    """A ``SendLedger`` whose store does not answer."""

    async def claim(self, *_: object) -> DeliveryOutcome | None:
        raise ServiceUnavailable("redis unavailable")


class DownLog(MemoryDeliveryLog):
    """A ``DeliveryLog`` whose database does not answer."""

    def append(self, delivery: object) -> None:
        raise ServiceUnavailable("database unavailable")


async def test_without_the_shared_state_a_notification_is_still_sent_and_its_record_may_be_lost() -> None:
    channel = KeptChannel(config())
    sender = Notifier([channel], FakeClock(T0), DownLedger(), DownLog(), sleep=lambda _: asyncio.sleep(0))
    (delivery,) = await sender.notify(note("k"))
    assert delivery.outcome is DeliveryOutcome.SENT and len(channel.got) == 1  # told twice beats never told


async def test_old_delivery_records_are_purged_after_the_retention() -> None:
    clock = FakeClock(T0)
    notes = Notifications([config(attempts=1)], clock, retention_s=3600, purge_interval_s=3600)
    stores = memory_notify_stores()
    notes.start(stores)
    try:
        await notes.notifier.notify(note("old"))
        clock.advance(3601)
        await notes.notifier.notify(note("new"))
        assert await notes.purge() == 1
    finally:
        await notes.close()
    assert [d.dedup_key for d in stores.deliveries.recent()] == ["new"]
