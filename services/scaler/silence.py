"""The scale-in silence at min (docs/original-system.md §7.4): silenced while the group sits at
(or below) min, lifted above it — derived from the instance count, persisted with the group and
commanded through the outbox, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from services.scaler.domain.decide import scale_in_silence_wanted
from services.scaler.ports import GroupRecord, UnitOfWork
from shared import subjects
from shared.messages import SetScaleInSilence

__all__ = ["sync_silence"]


def sync_silence(uow: UnitOfWork, record: GroupRecord, now: datetime) -> GroupRecord:
    """Silence the scale-in alert at min, lift it above: derived from the count, persisted."""
    size = sum(1 for i in uow.instances.all(record.spec.name) if i.counts)
    wanted = scale_in_silence_wanted(record.spec, size)
    if wanted == record.state.scale_in_silenced:
        return record
    reason = f"{size} VMs at min_size {record.spec.min_size}" if wanted else f"{size} VMs above min"
    uow.outbox.add(
        subjects.CMD_MONITORING_SILENCE,
        SetScaleInSilence(
            group=record.spec.name, active=wanted, reason=reason, correlation_id=f"group:{record.spec.name}"
        ),
    )
    state = record.state.model_copy(
        update={"scale_in_silenced": wanted, "scale_in_silence_at": now if wanted else None}
    )
    updated = record.model_copy(update={"state": state, "updated_at": now})
    uow.groups.save(updated)
    return updated
