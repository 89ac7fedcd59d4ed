"""Dead letters: messages a service's handler gave up on, listed, replayed or discarded.

Read straight from the DLQ stream over the gateway's own NATS connection (``shared.dead_letters``);
no backend service is asked. Payloads and headers are scrubbed of anything named like a secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from services.gateway.deps import Admin, Operator, State, Viewer, client_address
from services.gateway.events import scrub, scrub_text
from shared.dead_letters import DeadLetterRecord

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["dead-letters"])

# A JetStream stream sequence: an unsigned 64-bit integer, and never 0.
Sequence = Annotated[int, Path(ge=1, le=2**63 - 1, description="the letter's sequence in the DLQ stream")]
SubjectName = Annotated[
    str | None,
    Query(max_length=200, pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$", description="an original subject, e.g. cmd.vm.clone"),
]


class DeadLetterPublic(BaseModel):
    """One dead letter: what failed, where, why, and the original message."""

    seq: int = Field(description="its sequence in the DLQ stream")
    subject: str = Field(description="the subject the original was published on")
    service: str = Field(description="the service whose handler gave up ('' when unknown)")
    consumer: str
    reason: str
    error_kind: str
    deliveries: int
    dead_lettered_at: datetime
    message_id: str | None = Field(description="the original's Nats-Msg-Id")
    headers: dict[str, str]
    payload: Any = Field(description="the original payload: JSON, or its text when it is not JSON")


class DeadLetterList(BaseModel):
    """A page of dead letters, newest first."""

    letters: list[DeadLetterPublic]
    total: int = Field(description="dead letters stored that match the filter")
    next_before: int | None = Field(description="pass as `before` for the older ones; null when none are left")


class DeadLetterOutcome(BaseModel):
    """What was done with one dead letter."""

    ok: bool = True
    seq: int
    subject: str
    action: str = Field(description="replayed or discarded")
    message_id: str | None = Field(default=None, description="a replay's new Nats-Msg-Id")


def _public(record: DeadLetterRecord) -> DeadLetterPublic:
    headers = scrub(record.headers)
    payload = scrub(record.payload) if record.payload_is_json else scrub_text(str(record.payload))
    return DeadLetterPublic(
        seq=record.sequence,
        subject=record.subject,
        service=record.service,
        consumer=record.consumer,
        reason=scrub_text(record.reason),
        error_kind=record.error_kind,
        deliveries=record.deliveries,
        dead_lettered_at=record.dead_lettered_at,
        message_id=record.message_id,
        headers={key: str(value) for key, value in headers.items()},
        payload=payload,
    )


@router.get("/dead-letters", response_model=DeadLetterList, summary="Dead letters, newest first")
async def list_dead_letters(
    state: State,
    _: Viewer,
    subject: SubjectName = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="only letters older than this seq")] = None,
) -> DeadLetterList:
    """Messages a handler failed permanently or after its last delivery, with the reason, filtered by
    original subject. Page on with ``before=next_before``."""
    page = await state.dead_letters.page(subject=subject, limit=limit, before=before)
    return DeadLetterList(
        letters=[_public(record) for record in page.letters], total=page.total, next_before=page.next_before
    )


@router.get("/dead-letters/{seq}", response_model=DeadLetterPublic, summary="One dead letter")
async def get_dead_letter(seq: Sequence, state: State, _: Viewer) -> DeadLetterPublic:
    """One dead letter with its original headers and payload."""
    return _public(await state.dead_letters.get(seq))


@router.post("/dead-letters/{seq}/replay", response_model=DeadLetterOutcome, summary="Replay a dead letter")
async def replay_dead_letter(seq: Sequence, request: Request, state: State, me: Operator) -> DeadLetterOutcome:
    """Publish the original message again on its subject (a new message id, so the stream does not
    drop it as a duplicate) and remove the letter; its handler receives it as if it were new."""
    replayed = await state.dead_letters.replay(seq)
    detail = {"subject": replayed.subject, "message_id": replayed.message_id}
    await state.audit(me, "dead_letter.replay", str(seq), client_address(request), **detail)
    return DeadLetterOutcome(seq=seq, subject=replayed.subject, action="replayed", message_id=replayed.message_id)


@router.delete("/dead-letters/{seq}", response_model=DeadLetterOutcome, summary="Discard a dead letter")
async def discard_dead_letter(
    seq: Sequence,
    request: Request,
    state: State,
    me: Admin,
    reason: Annotated[str, Query(max_length=500, description="why it is discarded, kept in the audit log")] = "",
) -> DeadLetterOutcome:
    """Delete the letter without replaying it; the audit log keeps who, when and why."""
    record = await state.dead_letters.discard(seq, reason or f"discarded by {me.name}")
    await state.audit(
        me, "dead_letter.discard", str(seq), client_address(request), subject=record.subject, reason=reason or None
    )
    return DeadLetterOutcome(seq=seq, subject=record.subject, action="discarded")
