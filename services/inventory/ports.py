"""The inventory's ports: reading vCenter, acting on it, and remembering operations.

Readers and actors are split (callers type against the narrowest one). Every method blocks:
the service calls them from worker threads (``asyncio.to_thread``), never on the event loop.
Errors are ``shared.errors`` classes carrying a ``reason`` detail (``FailureReason``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from services.inventory.domain import ChangeBatch, ClonePlan, GuestIdentity, Snapshot
from shared.messages import VmInfo

__all__ = ["InventoryReader", "Operation", "OperationStore", "SessionLost", "TemplateMeta", "VmProvisioner"]


class SessionLost(Exception):
    """vCenter dropped the session and a new one was opened; the call did not run.

    Raised by ``VmProvisioner.start_clone`` (which is never re-sent blindly) and used inside
    readers to rebuild per-session objects.
    """


class InventoryReader(Protocol):
    """What vCenter holds, in bulk and as a change feed."""

    def snapshot(self) -> Snapshot:
        """Every VM (``vCLS-*`` excluded) and every other object, read now.

        Blocks for one bulk read, which also (re)starts the change feed at this picture: the
        next ``changes`` carries only what changed since. Raises ``ServiceUnavailable``,
        ``OperationTimeout``, ``Unauthorized``.
        """
        ...

    def changes(self, max_wait_s: int) -> ChangeBatch:
        """Block up to ``max_wait_s`` for the next changes.

        After ``snapshot`` the feed continues from it. Without one, and after the session was
        replaced, the batch is ``full``: everything, to replace what the caller knows. An empty
        batch means nothing changed.
        Raises like ``snapshot``.
        """
        ...

    def read_vm(self, moref: str) -> VmInfo | None:
        """One VM read now; ``None`` when it does not exist. Idempotent."""
        ...

    def find_vms(self, name: str) -> list[VmInfo]:
        """Every VM with exactly this name, read now, with our tag (group, activity) if set."""
        ...

    def about(self) -> str:
        """vCenter's product name and version."""
        ...

    def ping(self) -> None:
        """One round trip to vCenter (logging in if needed). Raises like ``snapshot``."""
        ...


class VmProvisioner(Protocol):
    """Changing VMs in vCenter, one task at a time."""

    def start_clone(self, plan: ClonePlan) -> str:
        """Start cloning ``plan.source`` (powered off, tagged); return the task id at once.

        NOT idempotent and never retried inside: after ``SessionLost`` or a connection error the
        caller must look the name up before trying again. Raises ``NotFound``, ``QuotaExceeded``,
        ``Conflict`` (duplicate name), ``Unauthorized``, ``ServiceUnavailable``.
        """
        ...

    def wait_task(self, task_id: str, timeout_s: float, on_progress: Callable[[int], None] | None = None) -> str | None:
        """Block until the task ends; the moref it produced (a clone's VM), if any.

        ``on_progress`` is called (in the waiting thread) with vCenter's percent for the task
        each time it changes. Idempotent (safe to call again after a restart). Raises the task's
        error translated, ``NotFound`` for an unknown task, ``OperationTimeout`` after ``timeout_s``.
        """
        ...

    def customize(self, vm: str, identity: GuestIdentity, timeout_s: float) -> None:
        """Apply the Linux customization to a powered-off VM (effective at next power-on).

        Blocks until done. Idempotent. Raises ``Conflict`` (powered on, pending), ``NotFound``,
        ``PermanentError`` with reason ``customization_failed``.
        """
        ...

    def power(self, vm: str, on: bool, timeout_s: float) -> None:
        """Power on or off (hard). Already in that state is success. Blocks until done."""
        ...

    def destroy(self, vm: str, timeout_s: float) -> None:
        """Power off if needed, then delete the VM and its disks. Gone already is success."""
        ...

    def set_annotation(self, vm: str, text: str, timeout_s: float) -> None:
        """Replace the VM's annotation (notes). Blocks until done. Idempotent."""
        ...

    def set_network(self, vm: str, network: str, timeout_s: float) -> None:
        """Connect the VM's first NIC to ``network`` (a network moref). Blocks until done.

        Idempotent: a NIC already on that network is left alone. Raises ``NotFound`` (VM or
        network), ``PermanentError`` (the VM has no NIC), ``Conflict``, ``ServiceUnavailable``.
        """
        ...


class Operation(BaseModel):
    """One command being carried out, persisted step by step.

    ``step`` is the progress and only moves forward (``accepted`` → ``clone_started`` →
    ``cloned`` → ``customized`` → ``powered_on``); ``task_id`` is recorded before waiting on a
    task, so a restarted service resumes instead of redoing it. ``status`` is ``running``, then
    ``done`` or ``failed`` once the result event (``result``) is published.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    kind: str
    vm_name: str
    activity_id: str | None = None
    command: str
    step: str = "accepted"
    status: str = "running"
    message_id: str | None = None
    retryable: bool = False
    task_id: str | None = None
    vm_moref: str | None = None
    result_subject: str | None = None
    result: str | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def finished(self) -> bool:
        """True once a result event is recorded."""
        return self.status in ("done", "failed")


class TemplateMeta(BaseModel):
    """What vmscale remembers about a template it created (vCenter keeps no description)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    moref: str | None = None
    description: str = ""
    source_vm: str | None = None
    created_at: datetime


class OperationStore(Protocol):
    """Operations and template metadata, durable across restarts."""

    def get(self, key: str) -> Operation | None:
        """The operation with ``key``, if any."""
        ...

    def save(self, operation: Operation) -> None:
        """Insert or replace ``operation`` (by key). Durable when it returns."""
        ...

    def unfinished(self) -> list[Operation]:
        """Operations whose ``status`` is not ``done``/``failed``, oldest first (resumed at start)."""
        ...

    def put_template(self, meta: TemplateMeta) -> None:
        """Insert or replace a template's metadata (by name)."""
        ...

    def templates(self) -> dict[str, TemplateMeta]:
        """Every template's metadata by name."""
        ...

    def delete_template(self, name: str) -> None:
        """Forget a template's metadata; unknown names are fine."""
        ...
