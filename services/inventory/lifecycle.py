"""Carrying out VM and template commands: persisted, resumable, idempotent.

A command is first recorded as an ``Operation`` and acknowledged; it then runs in the
background (one at a time per VM name), saving its progress after every vCenter task. A
restarted service resumes unfinished operations from the store. The result -- one event -- is
recorded before it is published, with a message id derived from the operation, so a repeat is
dropped by JetStream's duplicate window and a redelivered command just re-publishes it. When
NATS blinks at that moment the operation stays ``publishing`` and a periodic pass
(``republish_stored``, every ``Timeouts.republish_s``) publishes it then, so the scaler's step
does not wait for its timeout and the work is not redone.

What each kind of operation does is in ``services.inventory.operations`` (``OPERATIONS``, the
one dispatch table); the steps get an explicit ``OperationContext`` and never see this class.
Every pyvmomi call runs in a worker thread.
"""

from __future__ import annotations

import asyncio

from services.inventory.cache import InventoryCache
from services.inventory.claims import Claimant, OperationClaims
from services.inventory.context import OperationContext, Publish, Timeouts
from services.inventory.domain import reason_for
from services.inventory.operations import OPERATIONS
from services.inventory.ports import InventoryReader, Operation, OperationStore, VmProvisioner
from shared import subjects
from shared.errors import PermanentError, RetryableError, VmscaleError
from shared.keyed_tasks import KeyedTasks
from shared.messages import (
    CloneVm,
    Command,
    DeleteTemplate,
    Event,
    MakeTemplate,
    VmOperationFailed,
    deterministic_id,
    utcnow,
)
from shared.telemetry import get_logger

__all__ = ["Lifecycle"]

log = get_logger(__name__)


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
        claims: OperationClaims | None = None,
        owner: str = "",
    ) -> None:
        self.timeouts = timeouts or Timeouts()
        self.claimant = Claimant(claims, owner or f"inventory-{id(self):x}", self.timeouts.claim_ttl_s)
        """Leases shared with the other replicas (``services.inventory.claims``)."""
        self.context = OperationContext(
            reader, provisioner, store, cache, publish, self.timeouts, fence=self.claimant.fence
        )
        """What the operations' steps use (``services.inventory.context``)."""
        self.cache = cache
        """The inventory's picture of vCenter (the operations refresh it as they go)."""
        self._store = store
        self._publish = publish
        self._locks: dict[str, asyncio.Lock] = {}
        self._running: KeyedTasks[str] = KeyedTasks("inventory operation", log)

    @property
    def claims(self) -> OperationClaims | None:
        """The claims shared with other replicas; ``None``: this is the only replica."""
        return self.claimant.claims

    # -- accepting ----------------------------------------------------------------------------

    async def submit(self, kind: str, cmd: Command) -> None:
        """Record ``cmd`` and start it; a repeat re-publishes or resumes, never redoes."""
        key = _key(kind, cmd)
        existing = await self.context.call(self._store.get, key)
        if existing is not None:
            if key in self._running:
                return
            if existing.status == "publishing":
                await self._publish_stored(existing)  # done, only its result is owed
                return
            if existing.finished:
                retry = existing.status == "failed" and existing.retryable
                if not (retry and existing.message_id != str(cmd.message_id)):
                    await self._republish(existing)
                    return
                existing = await self.context.advance(
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
        await self.context.call(self._store.save, op)
        self._spawn(op)

    async def resume(self) -> int:
        """Start every unfinished operation found in the store; how many."""
        unfinished = await self.context.call(self._store.unfinished)
        for op in unfinished:
            if op.status == "publishing":
                continue  # done: the re-publish pass owes only its result
            if op.key not in self._running:
                log.info("resuming operation", key=op.key, step=op.step)
                self._spawn(op)
        return len(unfinished)

    async def drain(self) -> None:
        """Wait until every running operation finished (tests, shutdown)."""
        await self._running.wait_idle()

    async def cancel(self) -> None:
        """Stop running operations (their progress is saved; they resume at next start)."""
        await self._running.close()

    async def resume_orphans(self) -> None:
        """Start the unfinished operations no task here runs: those whose claim another replica
        let expire (it died) are taken over; those still claimed are left alone."""
        for op in await self.context.call(self._store.unfinished):
            if op.status != "publishing":
                self._spawn(op)

    def _spawn(self, op: Operation) -> None:
        self._running.start(op.key, lambda: self.claimant.hold(op.key, lambda token: self._run_claimed(op, token)))

    # -- running ------------------------------------------------------------------------------

    async def _run_claimed(self, op: Operation, token: int) -> None:
        """Run ``op`` as stored now (another replica may have finished it meanwhile)."""
        current = await self.context.call(self._store.get, op.key) or op
        if current.status != "running":
            return  # finished (or only its result owed) while another replica held it
        if token > 1:
            log.info("taking over an operation another replica left", key=op.key, step=current.step)
        await self._run(current)

    async def _run(self, op: Operation) -> None:
        kind = OPERATIONS[op.kind]
        ctx = self.context
        lock = self._locks.setdefault(op.vm_name, asyncio.Lock())
        async with lock:
            cmd = kind.command.model_validate_json(op.command)
            try:
                subject, event = await kind.run(ctx, op, cmd)
                status, retryable = "done", False
            except VmscaleError as exc:
                reason = reason_for(exc)
                log.warning("operation failed", key=op.key, reason=reason.value, error=str(exc))
                current = await self.context.call(self._store.get, op.key) or op
                if isinstance(exc, PermanentError) and kind.clean_up is not None:
                    await kind.clean_up(ctx, current)
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
            current = await self.context.call(self._store.get, op.key) or op
            finished = await ctx.advance(
                current,
                status="publishing",
                result_subject=subject.name,
                result=event.model_dump_json(),
                retryable=retryable,
            )
            try:
                await self._publish(subject, event)
            except RetryableError as exc:
                log.warning("result not published; the re-publish pass owes it", key=op.key, error=str(exc))
                return
            await ctx.advance(finished, status=status)

    async def republish_stored(self) -> int:
        """Publish the results recorded but not yet published (NATS was down at the time) and
        mark their operations finished; how many. Stops at the first publish that fails again,
        raising its ``RetryableError``; idempotent (same message ids)."""
        sent = 0
        for op in await self.context.call(self._store.unfinished):
            if op.status == "publishing" and op.key not in self._running:
                await self._publish_stored(op)
                sent += 1
        return sent

    async def _publish_stored(self, op: Operation) -> None:
        await self._republish(op)
        failed = op.result_subject == subjects.VM_OPERATION_FAILED.name
        await self.context.advance(op, status="failed" if failed else "done")

    async def _republish(self, op: Operation) -> None:
        if op.result_subject and op.result:
            subject = subjects.by_name(op.result_subject)
            event = subject.model.model_validate_json(op.result)
            if isinstance(event, Event):
                await self._publish(subject, event)
