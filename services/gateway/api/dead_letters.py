"""Dead letters: messages a service's handler gave up on, listed, replayed or discarded.

Read straight from the DLQ stream over the gateway's own NATS connection (``shared.dead_letters``);
no backend service is asked. Payloads and headers are scrubbed of anything named like a secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from services.gateway.auth.model import Principal
from services.gateway.deps import Admin, Operator, State, Viewer, client_address
from services.gateway.events import scrub, scrub_text
from shared.dead_letters import BULK_LIMIT, DeadLetterFilter, DeadLetterRecord
from shared.errors import InvalidInput, NotFound

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


class DeadLetterSelection(BaseModel):
    """Which dead letters a bulk action takes (every criterion given must hold; none given: all),
    and whether only to count them."""

    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(
        default=None, max_length=200, pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$", description="the original subject"
    )
    group: str | None = Field(
        default=None, min_length=1, max_length=128, description="the scaling group named in the payload"
    )
    since: AwareDatetime | None = Field(default=None, description="dead-lettered at or after (with a UTC offset)")
    until: AwareDatetime | None = Field(default=None, description="dead-lettered before (with a UTC offset)")
    reason_contains: str | None = Field(
        default=None, min_length=1, max_length=200, description="a substring of the reason, any case"
    )
    dry_run: bool = Field(default=False, description="only count the letters it would take; change nothing")

    @field_validator("since", "until", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        # a number would pass as seconds since the epoch: the schema says an RFC 3339 string
        if value is not None and not isinstance(value, str | datetime):
            raise ValueError("a time is an RFC 3339 string with a UTC offset")
        return value

    @model_validator(mode="after")
    def _range(self) -> DeadLetterSelection:
        if self.since and self.until and self.until <= self.since:
            raise ValueError("until must be later than since")
        return self

    def criteria(self) -> DeadLetterFilter:
        return DeadLetterFilter(
            subject=self.subject,
            group=self.group,
            since=self.since,
            until=self.until,
            reason_contains=self.reason_contains,
        )

    def described(self) -> dict[str, str]:
        """The criteria given, for the audit log."""
        fields = self.criteria().model_dump(exclude_none=True)
        return {key: value.isoformat() if isinstance(value, datetime) else str(value) for key, value in fields.items()}


class DeadLetterDiscardSelection(DeadLetterSelection):
    reason: str = Field(default="", max_length=500, description="why they are discarded, kept in the audit log")


class DeadLetterBulkOutcome(BaseModel):
    """What a bulk action matched and did."""

    action: str = Field(description="replay or discard")
    dry_run: bool
    matched: int = Field(description="letters meeting the filter (at most `limit`)")
    limit: int = Field(description="the most one request takes; when matched equals it, repeat for the rest")
    done: list[int] = Field(description="sequences replayed or discarded (empty on a dry run)")
    failed: dict[int, str] = Field(description="sequences that could not be acted on, with why")


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


# The bulk routes come before the ``{seq}`` ones: ``/dead-letters/bulk/replay`` would otherwise be
# taken for a sequence named "bulk".
async def _bulk(
    action: str, selection: DeadLetterSelection, request: Request, state: State, me: Principal, reason: str = ""
) -> DeadLetterBulkOutcome:
    """Select by ``selection`` and, unless a dry run, act on each letter, auditing each one and the
    whole. A letter gone meanwhile (replayed or discarded by someone else) is left out of ``done``."""
    letters = await state.dead_letters.select(selection.criteria(), BULK_LIMIT)
    outcome = DeadLetterBulkOutcome(
        action=action, dry_run=selection.dry_run, matched=len(letters), limit=BULK_LIMIT, done=[], failed={}
    )
    if selection.dry_run:
        return outcome
    address = client_address(request)
    detail: dict[str, Any]
    for letter in letters:
        try:
            if action == "replay":
                replayed = await state.dead_letters.replay(letter.sequence)
                detail = {"subject": replayed.subject, "message_id": replayed.message_id}
            else:
                await state.dead_letters.discard(letter.sequence, reason or f"discarded by {me.name}")
                detail = {"subject": letter.subject, "reason": reason or None}
        except NotFound:
            outcome.failed[letter.sequence] = "gone: replayed or discarded meanwhile"
            continue
        except InvalidInput as exc:
            outcome.failed[letter.sequence] = scrub_text(str(exc))
            continue
        await state.audit(me, f"dead_letter.{action}", str(letter.sequence), address, bulk=True, **detail)
        outcome.done.append(letter.sequence)
    await state.audit(
        me,
        f"dead_letters.bulk_{action}",
        "dead-letters",
        address,
        matched=outcome.matched,
        done=len(outcome.done),
        failed=len(outcome.failed),
        **selection.described(),
    )
    return outcome


@router.post(
    "/dead-letters/bulk/replay",
    response_model=DeadLetterBulkOutcome,
    summary="Replay the dead letters a filter selects",
)
async def replay_dead_letters(
    selection: DeadLetterSelection, request: Request, state: State, me: Operator
) -> DeadLetterBulkOutcome:
    """Replay every dead letter meeting the filter (subject, group, time range, reason substring),
    oldest first, at most ``limit`` per request; ``dry_run`` only counts them. Each replay and the
    whole are audited."""
    return await _bulk("replay", selection, request, state, me)


@router.post(
    "/dead-letters/bulk/discard",
    response_model=DeadLetterBulkOutcome,
    summary="Discard the dead letters a filter selects",
)
async def discard_dead_letters(
    selection: DeadLetterDiscardSelection, request: Request, state: State, me: Admin
) -> DeadLetterBulkOutcome:
    """Delete every dead letter meeting the filter without replaying it (admin); ``dry_run`` only
    counts them. Each discard and the whole are audited with the reason."""
    return await _bulk("discard", selection, request, state, me, selection.reason)


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
