"""A group's health for the UI's banners: failing decisions, dead letters naming it, a size outside
its limits with what vmscale does about it, and its suspendable processes (``group_health``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.gateway.api.params import GroupName
from services.gateway.deps import State, Viewer
from services.gateway.group_health import SCALING_PROCESSES, GroupHealth, assess
from shared.errors import VmscaleError
from shared.messages import utcnow

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["groups"])

LETTERS_SCANNED = 200
"""The newest dead letters looked at for ones naming the group (a bounded read of the stream)."""


@router.get("/scaling-processes", response_model=list[str], summary="Processes a group can suspend")
async def scaling_processes(_: Viewer) -> list[str]:
    """The scaler's suspendable processes, the only values ``suspend`` and ``resume`` accept."""
    return list(SCALING_PROCESSES)


@router.get("/groups/{name}/health", response_model=GroupHealth, summary="What is wrong with a group, and why")
async def group_health(name: GroupName, state: State, _: Viewer) -> GroupHealth:
    """Problems (failing decisions, dead letters naming the group, a failed activity, back-off,
    alert provisioning, VMs missing from the pool, a size outside min..max with what vmscale is
    doing about it), the processes and which are suspended, and the last decision carried out."""
    reply = await state.scaler.group(name)
    decisions = await state.scaler.decisions(group=name, limit=50)
    assert reply.group is not None  # the scaler answers NotFound rather than an empty group
    letters = await _letters_naming(state, name)
    return assess(reply.group, decisions.decisions, reply.activities, reply.drift, letters, utcnow())


async def _letters_naming(state: Any, group: str) -> list[dict[str, Any]] | None:
    """Dead letters among the newest whose message names ``group``; None when NATS does not answer."""
    try:
        page = await state.dead_letters.page(limit=LETTERS_SCANNED)
    except VmscaleError:
        return None
    return [
        {"subject": letter.subject, "reason": letter.reason, "at": letter.dead_lettered_at}
        for letter in page.letters
        if isinstance(letter.payload, dict) and _names(letter.payload, group)
    ]


def _names(payload: dict[str, Any], group: str) -> bool:
    """The message is about ``group``: its ``group`` field, or an alert's ``labels.group``."""
    labels = payload.get("labels")
    return payload.get("group") == group or (isinstance(labels, dict) and labels.get("group") == group)
