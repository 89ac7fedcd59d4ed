"""What an operation's steps may use: ``OperationContext``, built once by ``Lifecycle``.

The steps (``services.inventory.operations``) get this explicit, frozen context instead of the
object that runs them: the ports, the cache, the timeouts, and the four things every step does
-- run a blocking port call in a worker thread, save progress (fenced by the operation's claim),
announce progress, wait for a vCenter task. Nothing here knows how operations are accepted,
claimed, resumed or how their results are published.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from services.inventory.cache import InventoryCache
from services.inventory.ports import InventoryReader, Operation, OperationStore, VmProvisioner
from shared import subjects
from shared.errors import VmscaleError
from shared.messages import Event, VmProgress, utcnow
from shared.subjects import Subject
from shared.telemetry import get_logger

__all__ = ["Fence", "OperationContext", "Publish", "Timeouts"]

log = get_logger(__name__)

Publish = Callable[[Subject[Any], Event], Awaitable[None]]
"""Publishes an event on a subject (the bus, or a list in unit tests)."""

Fence = Callable[[str], Awaitable[None]]
"""Checks, before a save, that this replica still holds the operation with this key; raises
``ClaimLost`` when another replica has taken it over (``services.inventory.claims``)."""


async def _unfenced(_key: str) -> None:
    """One replica: nobody else can hold an operation."""


@dataclass(frozen=True)
class Timeouts:
    """How long vCenter tasks and guest IPs may take, and how often to look."""

    task_s: float = 300.0
    ip_s: float = 120.0
    poll_s: float = 0.5
    republish_s: float = 5.0
    claim_ttl_s: float = 30.0
    """How long a replica's claim on an operation lasts unrenewed (renewed every third of it)."""


@dataclass(frozen=True)
class OperationContext:
    """The ports and helpers an operation's steps use (see the module docstring)."""

    reader: InventoryReader
    provisioner: VmProvisioner
    store: OperationStore
    cache: InventoryCache
    publish: Publish
    timeouts: Timeouts
    fence: Fence = _unfenced

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking port call in a worker thread."""
        return await asyncio.to_thread(fn, *args)

    async def advance(self, op: Operation, step: str | None = None, **changes: Any) -> Operation:
        """Save progress of ``op`` (a new step, a task id, a moref, a status); the saved copy.

        Fenced: the save happens only while this replica still holds the operation's claim;
        otherwise ``ClaimLost`` stops the operation here (another replica continues it).
        """
        await self.fence(op.key)
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
            await self.publish(subjects.VM_PROGRESS, event)
        except VmscaleError as exc:
            log.info("progress not published", vm_name=event.vm_name, step=event.step, error=type(exc).__name__)

    async def wait_task(self, task_id: str, on_progress: Callable[[int], VmProgress]) -> str | None:
        """Wait for a vCenter task in a worker thread, publishing its progress as it moves; the
        moref it produced (a clone's VM), if any."""
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
