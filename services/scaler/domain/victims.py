"""Pure victim selection for scale-in: one function, the only source of truth (lesson 10)."""

from __future__ import annotations

from collections.abc import Iterable

from services.scaler.domain.model import Instance, VictimOrder

__all__ = ["pick_victims"]


def pick_victims(
    instances: Iterable[Instance], count: int, order: VictimOrder = VictimOrder.NEWEST
) -> tuple[Instance, ...]:
    """Up to ``count`` instances to remove, in removal order.

    Only autoscaled, unprotected instances in service are candidates; base and protected ones
    are never chosen (lesson 30). ``newest`` (default) and ``oldest`` order by creation time,
    ``least_busy`` by the last known load (unknown load last), newest first among equals.
    """
    if count <= 0:
        return ()
    candidates = [i for i in instances if i.removable]
    newest_first = sorted(candidates, key=lambda i: (i.created_at, i.vm_name), reverse=True)
    if order is VictimOrder.OLDEST:
        ranked = list(reversed(newest_first))
    elif order is VictimOrder.LEAST_BUSY:
        ranked = sorted(newest_first, key=lambda i: (i.load is None, i.load if i.load is not None else 0.0))
    else:
        ranked = newest_first
    return tuple(ranked[:count])
