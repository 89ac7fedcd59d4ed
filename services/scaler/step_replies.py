"""Which running step a reply event answers, and how (``match_reply``), from the rows of
``steps.STEPS`` (their ``replies``, ``operation`` and ``gone_is_done``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.scaler.domain.saga import Activity, Phase, Step, StepRun, Track
from services.scaler.steps import STEPS
from shared.messages import Message, VmIpAssigned, VmPoweredOn

__all__ = ["Outcome", "match_reply"]


@dataclass(frozen=True)
class Outcome:
    """What an event says about one running step."""

    vm_name: str
    step: Step
    phase: Phase
    ok: bool
    error: str = ""
    retryable: bool = False


_SUCCESS: dict[type[Any], tuple[Step, ...]] = {}
_FAILED_OPERATIONS: dict[str, tuple[Step, ...]] = {}
for _spec in STEPS.values():
    for _reply in _spec.replies:
        _SUCCESS[_reply.model] = (*_SUCCESS.get(_reply.model, ()), _spec.step)
    if _spec.operation:
        _FAILED_OPERATIONS[_spec.operation] = (*_FAILED_OPERATIONS.get(_spec.operation, ()), _spec.step)
_FAILURE_TYPES = tuple({spec.failed.model for spec in STEPS.values() if spec.failed is not None})


def _candidates(event: Message) -> tuple[tuple[Step, ...], bool]:
    if isinstance(event, _FAILURE_TYPES):
        operation = str(getattr(event, "operation", "")).removeprefix("pool_")
        return _FAILED_OPERATIONS.get(operation, ()), False
    return _SUCCESS.get(type(event), ()), True


def match_reply(activity: Activity, event: Message) -> Outcome | None:
    """The running step ``event`` answers, and how; None when it answers none (late, foreign).

    The causation id (the command's message id) decides first; otherwise the event's type (or a
    failure's ``operation``) and VM name pick the step.
    """
    steps, ok = _candidates(event)
    failure = not ok
    vm_name = getattr(event, "vm_name", None) or getattr(event, "name", None)
    chosen: tuple[Track, StepRun] | None = None
    running = list(activity.steps_running())
    for track, run in running:
        if event.causation_id and run.command_id == event.causation_id and (failure or run.step in steps):
            chosen = (track, run)
            break
    if chosen is None:
        for track, run in running:
            if run.step not in steps or (vm_name is not None and track.vm_name != vm_name):
                continue
            if isinstance(event, VmPoweredOn) and run.phase is Phase.FORWARD:
                continue  # a forward power-on waits for the reserved IP (VmIpAssigned)
            chosen = (track, run)
            break
    if chosen is None:
        return None
    track, run = chosen
    if isinstance(event, VmPoweredOn) and run.phase is Phase.FORWARD:
        return None
    if isinstance(event, VmIpAssigned) and track.address and event.ip != track.address:
        return Outcome(track.vm_name, run.step, run.phase, False, f"guest IP {event.ip} is not {track.address}")
    if ok:
        return Outcome(track.vm_name, run.step, run.phase, True)
    if STEPS[run.step].gone_is_done and getattr(event, "error_kind", "") == "NotFound":
        # powering off a VM that vCenter no longer has: it is as off as it gets (deleted
        # behind our back, or a lab restarted); a scale-in goes on to destroy (absent: done),
        # a rollback likewise instead of retrying a power-off that cannot succeed
        return Outcome(track.vm_name, run.step, run.phase, True)
    code, detail = str(getattr(event, "reason", "") or "failed"), getattr(event, "detail", None)
    # The reason code (``insufficient_resources``) first, then the vendor's words: an operator
    # can grep for the first and read the second.
    reason = f"{code}: {detail}" if detail and detail != code else code
    return Outcome(track.vm_name, run.step, run.phase, False, reason, bool(getattr(event, "retryable", False)))
