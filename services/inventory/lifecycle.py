"""Carrying out VM and template commands: persisted, resumable, idempotent.

A command is first recorded as an ``Operation`` and acknowledged; it then runs in the
background (one at a time per VM name), saving its progress after every vCenter task. A
restarted service resumes unfinished operations from the store. The result -- one event -- is
recorded before it is published, with a message id derived from the operation, so a repeat is
dropped by JetStream's duplicate window and a redelivered command just re-publishes it.

Every pyvmomi call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from services.inventory.cache import InventoryCache
from services.inventory.domain import reason_for
from services.inventory.ports import InventoryReader, Operation, OperationStore, VmProvisioner
from shared import subjects
from shared.errors import PermanentError, VmscaleError
from shared.messages import (
    CloneVm,
    Command,
    DeleteTemplate,
    DestroyVm,
    Event,
    MakeTemplate,
    PowerOffVm,
    PowerOnVm,
    VmOperationFailed,
    VmProgress,
    deterministic_id,
    utcnow,
)
from shared.subjects import Subject
from shared.telemetry import get_logger

__all__ = ["COMMANDS", "Lifecycle", "Publish", "Timeouts"]

log = get_logger(__name__)

Publish = Callable[[Subject[Any], Event], Awaitable[None]]
"""Publishes an event on a subject (the bus, or a list in unit tests)."""

COMMANDS: dict[str, type[Command]] = {
    "clone": CloneVm,
    "power_on": PowerOnVm,
    "power_off": PowerOffVm,
    "destroy": DestroyVm,
    "template_create": MakeTemplate,
    "template_delete": DeleteTemplate,
}


@dataclass(frozen=True)
class Timeouts:
    """How long vCenter tasks and guest IPs may take, and how often to look."""

    task_s: float = 300.0
    ip_s: float = 120.0
    poll_s: float = 0.5


def _key(kind: str, cmd: Command) -> str:
    if isinstance(cmd, CloneVm):
        return f"clone:{cmd.activity_id}:{cmd.vm_name}"
    if isinstance(cmd, MakeTemplate):
        return f"template_create:{cmd.template_name}:{cmd.source_vm}"
    return f"{kind}:{cmd.message_id}"


def _name(cmd: Command) -> str:
    if isinstance(cmd, MakeTemplate | DeleteTemplate):
        return cmd.template_name
    return str(getattr(cmd, "vm_name", ""))


class Lifecycle:
    """Accepts commands, runs them in the background, publishes one result event each."""

    def __init__(
        self,
        reader: InventoryReader,
        provisioner: VmProvisioner,
        store: OperationStore,
        cache: InventoryCache,
        publish: Publish,
        timeouts: Timeouts | None = None,
    ) -> None:
        from services.inventory.operations import Operations

        self.reader = reader
        self.provisioner = provisioner
        self.store = store
        self.cache = cache
        self._publish = publish
        self.timeouts = timeouts or Timeouts()
        self._ops = Operations(self)
        self._locks: dict[str, asyncio.Lock] = {}
        self._running: dict[str, asyncio.Task[None]] = {}

    # -- persistence helpers (used by services.inventory.operations) ---------------------------

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking port call in a worker thread."""
        return await asyncio.to_thread(fn, *args)

    async def advance(self, op: Operation, step: str | None = None, **changes: Any) -> Operation:
        """Save progress of ``op`` (a new step, a task id, a moref)."""
        update: dict[str, Any] = {"updated_at": utcnow(), **changes}
        if step is not None:
            update["step"] = step
        updated = op.model_copy(update=update)
        await self.call(self.store.save, updated)
        return updated

    async def progress(self, event: VmProgress) -> None:
        """Publish how far an operation has got; best effort: a progress bar may miss a beat,
        the operation never fails for it."""
        try:
            await self._publish(subjects.VM_PROGRESS, event)
        except VmscaleError as exc:
            log.info("progress not published", vm_name=event.vm_name, step=event.step, error=type(exc).__name__)

    async def wait_task(self, task_id: str, on_progress: Callable[[int], VmProgress]) -> str | None:
        """Wait for a vCenter task in a worker thread, publishing its progress as it moves."""
        loop = asyncio.get_running_loop()
        sent: list[concurrent.futures.Future[None]] = []

        def report(percent: int) -> None:  # in the worker thread
            sent.append(asyncio.run_coroutine_threadsafe(self.progress(on_progress(percent)), loop))

        try:
            moref: str | None = await self.call(self.provisioner.wait_task, task_id, self.timeouts.task_s, report)
            return moref
        finally:
            for future in sent:  # in order, before the step that follows is announced
                await asyncio.wrap_future(future)

    # -- accepting ----------------------------------------------------------------------------

    async def submit(self, kind: str, cmd: Command) -> None:
        """Record ``cmd`` and start it; a repeat re-publishes or resumes, never redoes."""
        key = _key(kind, cmd)
        existing = await self.call(self.store.get, key)
        if existing is not None:
            if key in self._running:
                return
            if existing.finished:
                retry = existing.status == "failed" and existing.retryable
                if not (retry and existing.message_id != str(cmd.message_id)):
                    await self._republish(existing)
                    return
                existing = await self.advance(
                    existing, status="running", message_id=str(cmd.message_id), command=cmd.model_dump_json()
                )
            self._spawn(existing)
            return
        now = utcnow()
        op = Operation(
            key=key,
            kind=kind,
            vm_name=_name(cmd),
            activity_id=getattr(cmd, "activity_id", None),
            command=cmd.model_dump_json(),
            message_id=str(cmd.message_id),
            created_at=now,
            updated_at=now,
        )
        await self.call(self.store.save, op)
        self._spawn(op)

    async def resume(self) -> int:
        """Start every unfinished operation found in the store; how many."""
        unfinished = await self.call(self.store.unfinished)
        for op in unfinished:
            if op.key not in self._running:
                log.info("resuming operation", key=op.key, step=op.step)
                self._spawn(op)
        return len(unfinished)

    async def drain(self) -> None:
        """Wait until every running operation finished (tests, shutdown)."""
        while self._running:
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)

    async def cancel(self) -> None:
        """Stop running operations (their progress is saved; they resume at next start)."""
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*list(self._running.values()), return_exceptions=True)

    def _spawn(self, op: Operation) -> None:
        task = asyncio.create_task(self._run(op), name=f"inventory-op-{op.key}")
        self._running[op.key] = task
        task.add_done_callback(lambda _: self._running.pop(op.key, None))

    # -- running ------------------------------------------------------------------------------

    async def _run(self, op: Operation) -> None:
        lock = self._locks.setdefault(op.vm_name, asyncio.Lock())
        async with lock:
            cmd = COMMANDS[op.kind].model_validate_json(op.command)
            try:
                subject, event = await self._ops.run(op, cmd)
                status, retryable = "done", False
            except VmscaleError as exc:
                reason = reason_for(exc)
                log.warning("operation failed", key=op.key, reason=reason.value, error=str(exc))
                current = await self.call(self.store.get, op.key) or op
                if isinstance(exc, PermanentError):
                    await self._ops.clean_up(current, cmd)
                subject = subjects.VM_OPERATION_FAILED
                event = VmOperationFailed(
                    activity_id=op.activity_id,
                    vm_name=op.vm_name,
                    operation=op.kind,
                    reason=reason.value,
                    error_kind=type(exc).__name__,
                    retryable=exc.retryable,
                    detail=exc.message,
                )
                status, retryable = "failed", exc.retryable
            event = event.model_copy(
                update={
                    "message_id": deterministic_id(op.key, op.message_id, "result"),
                    "correlation_id": cmd.correlation_id or op.activity_id,
                    "causation_id": str(cmd.message_id),
                }
            )
            current = await self.call(self.store.get, op.key) or op
            finished = await self.advance(
                current,
                status="publishing",
                result_subject=subject.name,
                result=event.model_dump_json(),
                retryable=retryable,
            )
            await self._publish(subject, event)
            await self.advance(finished, status=status)

    async def _republish(self, op: Operation) -> None:
        if op.result_subject and op.result:
            subject = subjects.by_name(op.result_subject)
            event = subject.model.model_validate_json(op.result)
            if isinstance(event, Event):
                await self._publish(subject, event)
