"""Recording a decision: the ``DecisionRecord`` row and its ``decision.recorded`` event, in the
caller's transaction.

A background evaluation (the loop, target tracking, convergence) records a block only when it
differs from the rule's last one or ``timers.QUIET_S`` has passed (``timers.repeats_quietly``),
so a group that sits at max under load does not fill the log with the same line every interval.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.scaler.domain.decide import Allow, Block
from services.scaler.domain.model import QuietMark
from services.scaler.domain.timers import repeats_quietly
from services.scaler.ports import DecisionRecord, UnitOfWork
from shared import subjects
from shared.messages import DecisionRecorded

__all__ = ["record_decision"]


def _quietly_repeated(uow: UnitOfWork, group: str, block: Block, reason: str, now: datetime) -> bool:
    """True when the block repeats the rule's last one; otherwise mark it as the last one."""
    record = uow.groups.get(group)
    if record is None:
        return False
    if repeats_quietly(record.state.quiet_blocks.get(block.rule), reason, now):
        return True
    marks = {**record.state.quiet_blocks, block.rule: QuietMark(reason=reason, at=now)}
    uow.groups.save(record.model_copy(update={"state": record.state.model_copy(update={"quiet_blocks": marks})}))
    return False


def record_decision(
    uow: UnitOfWork,
    group: str,
    decision: Allow | Block,
    *,
    trigger: str,
    now: datetime,
    observed: dict[str, Any],
    quiet: bool = False,
    activity_id: str | None = None,
    decision_id: str | None = None,
) -> DecisionRecord | None:
    """Store ``decision`` with what it saw and publish it (through the outbox); None when a
    ``quiet`` block repeats the rule's last one."""
    reason = "allowed" if isinstance(decision, Allow) else str(decision.reason)
    message = decision.reason if isinstance(decision, Allow) else decision.message
    if quiet and isinstance(decision, Block) and _quietly_repeated(uow, group, decision, reason, now):
        return None
    stored = DecisionRecord(
        id=decision_id or str(uuid.uuid4()),
        group=group,
        at=now,
        allowed=isinstance(decision, Allow),
        delta=decision.delta if isinstance(decision, Allow) else 0,
        reason=reason,
        message=message,
        trigger=trigger,
        rule=decision.rule,
        observed=observed,
        activity_id=activity_id,
    )
    uow.decisions.add(stored)
    uow.outbox.add(
        subjects.DECISION_RECORDED,
        DecisionRecorded(
            message_id=uuid.UUID(stored.id),
            correlation_id=activity_id,
            group=group,
            allowed=stored.allowed,
            delta=stored.delta,
            reason=f"{reason}: {message}",
            trigger=trigger,
            observed=observed,
            activity_id=activity_id,
        ),
    )
    return stored
