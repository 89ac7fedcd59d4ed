"""The Jenkins simulator's state: users, jobs, the queue and builds, on an injectable clock.

Timing follows Jenkins: a queued item waits ``queue_delay_s`` before it gets an executable
(build number); the build runs ``build_s`` and ends with the job's scripted ``result``. A queued
request with the same parameters as one still waiting is folded into it; items that left the
queue are forgotten after ``forget_after_s`` (Jenkins: 5 minutes).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Build", "JenkinsState", "Job", "QueueItem", "User"]

RESULTS = frozenset({"SUCCESS", "UNSTABLE", "FAILURE", "ABORTED", "NOT_BUILT"})


@dataclass
class User:
    """A Jenkins user with a password and API tokens."""

    name: str
    password: str
    tokens: frozenset[str] = frozenset()


@dataclass
class Job:
    """A job and its scripted behaviour."""

    name: str
    result: str = "SUCCESS"
    queue_delay_s: float = 0.2
    build_s: float = 0.3
    cancel: bool = False
    next_number: int = 1


@dataclass
class QueueItem:
    """A queued request; ``number`` is set once it left the queue."""

    id: int
    job: str
    parameters: dict[str, str]
    queued_at: float
    number: int | None = None
    left_at: float | None = None
    cancelled: bool = False


@dataclass
class Build:
    """A build of a job."""

    job: str
    number: int
    parameters: dict[str, str]
    started_at: float
    duration_s: float
    result: str


@dataclass
class JenkinsState:
    """Everything the simulator knows; thread-safe."""

    users: dict[str, User] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    queue: dict[int, QueueItem] = field(default_factory=dict)
    builds: dict[tuple[str, int], Build] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)
    forget_after_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next_item: int = 1

    # -- auth -----------------------------------------------------------------------------------

    def check(self, user: str, secret: str) -> str | None:
        """``"token"`` or ``"password"`` when the credentials are right, else None."""
        found = self.users.get(user)
        if found is None:
            return None
        if any(secrets.compare_digest(secret, t) for t in found.tokens):
            return "token"
        if secrets.compare_digest(secret, found.password):
            return "password"
        return None

    def new_session(self) -> tuple[str, str]:
        """A session id and the crumb bound to it."""
        session, crumb = secrets.token_hex(16), secrets.token_hex(16)
        with self._lock:
            self.sessions[session] = crumb
        return session, crumb

    # -- queue and builds -----------------------------------------------------------------------

    def enqueue(self, job: str, parameters: dict[str, str]) -> QueueItem:
        """Queue a build, folding it into an identical waiting request."""
        with self._lock:
            self._advance()
            for item in self.queue.values():
                if item.job == job and item.number is None and not item.cancelled and item.parameters == parameters:
                    return item
            item = QueueItem(id=self._next_item, job=job, parameters=dict(parameters), queued_at=self.clock())
            self._next_item += 1
            self.queue[item.id] = item
            return item

    def item(self, item_id: int) -> QueueItem | None:
        """A queue item, or None when unknown or forgotten."""
        with self._lock:
            self._advance()
            return self.queue.get(item_id)

    def build(self, job: str, number: int) -> Build | None:
        """A build, or None."""
        with self._lock:
            self._advance()
            return self.builds.get((job, number))

    def _advance(self) -> None:
        now = self.clock()
        for item_id, item in list(self.queue.items()):
            job = self.jobs[item.job]
            if item.number is None and not item.cancelled and now - item.queued_at >= job.queue_delay_s:
                if job.cancel:
                    item.cancelled = True
                else:
                    item.number = job.next_number
                    job.next_number += 1
                    self.builds[(job.name, item.number)] = Build(
                        job=job.name,
                        number=item.number,
                        parameters=item.parameters,
                        started_at=now,
                        duration_s=job.build_s,
                        result=job.result,
                    )
                item.left_at = now
            if item.left_at is not None and now - item.left_at >= self.forget_after_s:
                del self.queue[item_id]
