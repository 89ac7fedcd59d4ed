"""The timers a group keeps, as values: past target-tracking recommendations (stabilization),
a failure back-off, and the mark of a quiet block (``domain.timers`` computes with them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import model_validator

from services.scaler.domain.values import Frozen
from shared.vocabulary import ScaleDirection, UtcDatetime

__all__ = ["FailureBackoff", "QuietMark", "Recommendation"]


class Recommendation(Frozen):
    """A past target-tracking recommendation, kept for the stabilization windows."""

    at: UtcDatetime
    desired: int


class FailureBackoff(Frozen):
    """A pause in one direction after an activity failed (shorter than a cooldown)."""

    direction: ScaleDirection
    until: UtcDatetime
    activity_id: str
    reason: str = ""


class QuietMark(Frozen):
    """The last block a background evaluation recorded for one rule: its reason, and when.

    Kept in the group's state. Rows written before this value existed hold the string
    ``"<reason>@<iso time>"``; that form is still read."""

    reason: str
    at: UtcDatetime

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        if isinstance(data, str):
            reason, _, at = data.partition("@")
            return {"reason": reason, "at": datetime.fromisoformat(at)}
        return data
