"""``DeliveryLog`` over ``gateway_notification_deliveries``: the record of every notification
delivery, one table for every gateway replica. Errors leave as ``shared.errors`` (see
``sql_auth``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select

from services.gateway.adapters import tables as t
from services.gateway.adapters.sql_auth import _Sql
from services.gateway.notify.model import Delivery, DeliveryOutcome, Kind

__all__ = ["SqlDeliveryLog"]

_T = t.notification_deliveries


def _delivery(row: Any) -> Delivery:
    at: datetime = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
    return Delivery(
        channel=row.channel,
        kind=Kind(row.kind),
        severity=row.severity,
        group=row.group_name,
        title=row.title,
        dedup_key=row.dedup_key,
        outcome=DeliveryOutcome(row.outcome),
        attempts=row.attempts,
        reason=row.reason,
        at=at,
    )


class SqlDeliveryLog(_Sql):
    """``DeliveryLog`` (``services.gateway.notify.ports``) in the gateway's database."""

    def append(self, delivery: Delivery) -> None:
        """Store one delivery (texts cut to the column sizes)."""
        with self._tx() as db:
            db.execute(
                insert(_T).values(
                    at=delivery.at,
                    channel=delivery.channel[:64],
                    kind=delivery.kind.value,
                    severity=delivery.severity[:16],
                    group_name=delivery.group[:128] if delivery.group is not None else None,
                    title=delivery.title[:500],
                    dedup_key=delivery.dedup_key[:255],
                    outcome=delivery.outcome.value,
                    attempts=delivery.attempts,
                    reason=delivery.reason[:1000],
                )
            )

    def recent(
        self, limit: int = 100, channel: str | None = None, outcome: DeliveryOutcome | None = None
    ) -> list[Delivery]:
        """Newest first."""
        query = select(_T).order_by(_T.c.at.desc(), _T.c.id.desc()).limit(limit)
        if channel is not None:
            query = query.where(_T.c.channel == channel)
        if outcome is not None:
            query = query.where(_T.c.outcome == outcome.value)
        with self._tx() as db:
            return [_delivery(row) for row in db.execute(query)]

    def purge(self, before: datetime) -> int:
        """Delete what was recorded before ``before``."""
        with self._tx() as db:
            return int(db.execute(delete(_T).where(_T.c.at < before)).rowcount or 0)
