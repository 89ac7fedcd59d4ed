"""What a decision comes to: ``Allow(delta, reason)`` or ``Block(reason)``, and ``Intent``, what a
policy wants before the limits, back-off and cooldown are checked (``domain.decide``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from services.scaler.domain.model import Frozen, Process
from shared.vocabulary import ScaleDirection

__all__ = ["Allow", "Block", "BlockReason", "Decision", "Intent"]


class BlockReason(StrEnum):
    """Why a decision did not scale."""

    COOLDOWN = "cooldown"
    AT_MAX = "at_max"
    AT_MIN = "at_min"
    IP_POOL_EXHAUSTED = "ip_pool_exhausted"
    SUSPENDED = "suspended"
    IN_PROGRESS = "in_progress"
    UNKNOWN_ALERT = "unknown_alert"
    STALE_ALERT = "stale_alert"
    METRICS_UNAVAILABLE = "metrics_unavailable"
    DISABLED = "disabled"
    NO_CHANGE = "no_change"
    NO_VICTIMS = "no_victims"
    FAILURE_BACKOFF = "failure_backoff"


class Allow(Frozen):
    """Scale by ``delta`` (positive: out, negative: in)."""

    kind: Literal["allow"] = "allow"
    delta: int
    reason: str
    rule: str

    @property
    def direction(self) -> ScaleDirection:
        """Which way the group moves."""
        return ScaleDirection.OUT if self.delta > 0 else ScaleDirection.IN

    @property
    def allowed(self) -> bool:
        """Always true."""
        return True


class Block(Frozen):
    """Do not scale, and say why."""

    kind: Literal["block"] = "block"
    reason: BlockReason
    message: str
    rule: str
    direction: ScaleDirection | None = None
    retry_after_s: float | None = None

    @property
    def allowed(self) -> bool:
        """Always false."""
        return False


Decision = Annotated[Allow | Block, Field(discriminator="kind")]
"""The outcome of ``decide``."""


class Intent(Frozen):
    """What a policy wants: a direction and a count, why, and which timers it honours."""

    direction: ScaleDirection
    count: int
    why: str
    process: Process | None
    honor_cooldown: bool = True
    honor_backoff: bool = True
