"""The contract of the notifications' stores (``services.gateway.notify.ports``).

Subclass ``NotifyStoresContract`` and provide a fixture ``notify_stores`` returning a
``NotifyStores`` over empty state. It runs against the in-memory fakes (unit tier) and Redis and
PostgreSQL (integration tier).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from services.gateway.notify import Delivery, DeliveryOutcome, Kind, NotifyStores

__all__ = ["NotifyStoresContract"]

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def delivery(channel: str = "ops", outcome: DeliveryOutcome = DeliveryOutcome.SENT, at: datetime = NOW) -> Delivery:
    return Delivery(
        channel=channel,
        kind=Kind.ACTIVITY_FAILED,
        severity="critical",
        group="web",
        title="scale-out of group web failed",
        dedup_key="activity:a1",
        outcome=outcome,
        attempts=2,
        reason="127.0.0.1 answered 500" if outcome is DeliveryOutcome.FAILED else "",
        at=at,
    )


class NotifyStoresContract:
    """Behaviour every implementation of the three stores shares."""

    async def test_a_key_is_sent_once_within_its_window_per_channel_and_again_after_it(
        self, notify_stores: NotifyStores
    ) -> None:
        ledger = notify_stores.ledger
        assert await ledger.claim("ops", "k", NOW, 600, 20) is None
        assert await ledger.claim("ops", "k", NOW + timedelta(seconds=599), 600, 20) is DeliveryOutcome.DEDUPLICATED
        assert await ledger.claim("chat", "k", NOW, 600, 20) is None
        assert await ledger.claim("ops", "k", NOW + timedelta(seconds=600), 600, 20) is None
        assert await ledger.claim("ops", "other", NOW, 600, 20) is None

    async def test_the_rate_limit_counts_the_last_minute_and_a_refused_key_may_go_later(
        self, notify_stores: NotifyStores
    ) -> None:
        ledger = notify_stores.ledger
        for index in range(3):
            assert await ledger.claim("ops", f"k{index}", NOW, 600, 3) is None
        assert await ledger.claim("ops", "late", NOW + timedelta(seconds=59), 600, 3) is DeliveryOutcome.RATE_LIMITED
        assert await ledger.claim("chat", "late", NOW, 600, 3) is None  # per channel
        assert await ledger.claim("ops", "late", NOW + timedelta(seconds=60), 600, 3) is None
        assert await ledger.claim("ops", "k0", NOW + timedelta(seconds=61), 600, 3) is DeliveryOutcome.DEDUPLICATED

    async def test_of_concurrent_claims_of_one_key_exactly_one_wins(self, notify_stores: NotifyStores) -> None:
        claims = await asyncio.gather(*(notify_stores.ledger.claim("ops", "same", NOW, 600, 100) for _ in range(20)))
        assert claims.count(None) == 1
        assert claims.count(DeliveryOutcome.DEDUPLICATED) == 19

    async def test_a_spell_starts_at_its_earliest_decision_and_ends_with_another_decision(
        self, notify_stores: NotifyStores
    ) -> None:
        spells = notify_stores.spells
        assert await spells.since("web", "at_max", NOW) == NOW
        assert await spells.since("web", "at_max", NOW + timedelta(minutes=5)) == NOW
        assert await spells.since("web", "at_max", NOW - timedelta(minutes=1)) == NOW - timedelta(minutes=1)
        assert await spells.since("web", "at_min", NOW + timedelta(minutes=7)) == NOW + timedelta(minutes=7)
        assert await spells.since("db", "at_max", NOW + timedelta(minutes=8)) == NOW + timedelta(minutes=8)
        await spells.end("web")
        later = NOW + timedelta(minutes=9)
        assert await spells.since("web", "at_max", later) == later
        assert await spells.since("db", "at_max", later) == NOW + timedelta(minutes=8)

    def test_deliveries_are_read_newest_first_filtered_and_limited(self, notify_stores: NotifyStores) -> None:
        log = notify_stores.deliveries
        log.append(delivery("ops", DeliveryOutcome.SENT, NOW))
        log.append(delivery("ops", DeliveryOutcome.FAILED, NOW + timedelta(seconds=1)))
        log.append(delivery("chat", DeliveryOutcome.RATE_LIMITED, NOW + timedelta(seconds=2)))
        found = log.recent()
        assert [(d.channel, d.outcome) for d in found] == [
            ("chat", DeliveryOutcome.RATE_LIMITED),
            ("ops", DeliveryOutcome.FAILED),
            ("ops", DeliveryOutcome.SENT),
        ]
        assert found[1] == delivery("ops", DeliveryOutcome.FAILED, NOW + timedelta(seconds=1))
        assert [d.outcome for d in log.recent(channel="ops")] == [DeliveryOutcome.FAILED, DeliveryOutcome.SENT]
        assert [d.channel for d in log.recent(outcome=DeliveryOutcome.SENT)] == ["ops"]
        assert len(log.recent(limit=2)) == 2
        assert log.recent(channel="nope") == []

    def test_purge_deletes_only_what_is_older(self, notify_stores: NotifyStores) -> None:
        log = notify_stores.deliveries
        log.append(delivery(at=NOW - timedelta(days=31)))
        log.append(delivery(at=NOW - timedelta(days=29)))
        assert log.purge(NOW - timedelta(days=30)) == 1
        assert [d.at for d in log.recent()] == [NOW - timedelta(days=29)]
        assert log.purge(NOW - timedelta(days=30)) == 0
