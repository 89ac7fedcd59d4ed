"""What every back-end stand-in shares: scripted failures, the command dispatch, the bus wiring.

A stand-in plays one service (inventory, monitoring, the load balancer) with one state: the
commands the scaler sends change it (``handle``, pure; ``add_commands`` serves it on the bus)
and the queries the gateway and the scaler send read it (``add_queries``). Its replies are the
real reply models of ``shared/subjects.py``; ``tests/unit/testkit`` checks its subjects against
the real service's routers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from faststream.nats import NatsRouter

from shared import subjects
from shared.bus import Bus
from shared.messages import HealthQuery, HealthReply, Message
from shared.subjects import Subject

__all__ = ["Reply", "Script", "StandIn", "failure_kind"]

Reply = tuple[Subject[Any], Message]
"""An event a stand-in publishes, with its subject."""


@dataclass
class Script:
    """Make ``operation`` fail (or, with ``silent``, not answer) ``times`` times."""

    operation: str
    times: int = 1
    retryable: bool = False
    silent: bool = False
    vm_name: str | None = None
    reason: str = "scripted failure"


def failure_kind(script: Script) -> str:
    """The ``error_kind`` a scripted failure reports, as the real services name them."""
    return "ServiceUnavailable" if script.retryable else "PermanentError"


@dataclass
class StandIn:
    """One back-end service in memory: its commands (``operations``) and its queries.

    ``scripts`` and ``handled`` may be shared between stand-ins (``FakeWorld`` does), so one
    list scripts and records the whole world.
    """

    service: ClassVar[str]
    operations: ClassVar[dict[str, str]]
    """Command subject name → operation name (the ``_<operation>`` method applies it)."""

    scripts: list[Script] = field(default_factory=list)
    handled: list[tuple[str, Message]] = field(default_factory=list)

    # -- commands -------------------------------------------------------------------------------

    def fail(self, operation: str, **options: Any) -> None:
        """Script failures of ``operation`` (see ``Script``)."""
        self.scripts.append(Script(operation=operation, **options))

    def _scripted(self, operation: str, vm_name: str | None) -> Script | None:
        for script in self.scripts:
            if script.operation == operation and script.times > 0 and script.vm_name in (None, vm_name):
                script.times -= 1
                return script
        return None

    def handle(self, subject: Subject[Any], message: Message) -> list[Reply]:
        """Apply a command and return the events the real service would publish."""
        operation = self.operations.get(subject.name)
        if operation is None:
            return []
        self.handled.append((operation, message))
        vm_name = getattr(message, "vm_name", None) or getattr(message, "name", None)
        script = self._scripted(operation, vm_name)
        if script is not None and script.silent:
            return []
        if script is not None:
            return [self._failure(operation, message, script)]
        replies: list[Reply] = getattr(self, f"_{operation}")(message)
        return [(s, m.with_envelope(message)) for s, m in replies]

    def _failure(self, operation: str, message: Any, script: Script) -> Reply:
        raise NotImplementedError

    def add_commands(
        self,
        router: NatsRouter,
        bus: Bus,
        on_command: Callable[[str], Awaitable[None]] | None = None,
        consumer: str = "fakeworld",
    ) -> None:
        """Consume this service's commands on ``bus`` (durables named for ``consumer``) and
        publish the events ``handle`` returns."""
        for name in self.operations:
            subject = subjects.by_name(name)

            def make(subject: Subject[Any]) -> Callable[..., Awaitable[None]]:
                async def serve(message: Any) -> None:
                    if on_command is not None:
                        await on_command(subject.name)
                    for reply_subject, event in self.handle(subject, message):
                        await bus.publish(reply_subject, event)

                serve.__annotations__ = {"message": subject.model, "return": None}
                return serve

            bus.consumer(router, subject, consumer)(make(subject))

    # -- queries --------------------------------------------------------------------------------

    def add_queries(self, router: NatsRouter, bus: Bus) -> None:
        """Answer this service's queries (and its health query) on ``bus``."""
        raise NotImplementedError

    def health(self) -> HealthReply:
        """What the service answers about itself and the external systems it drives."""
        external = self.external_checks()
        return HealthReply(
            service=self.service,
            healthy=True,
            checks={"nats": "ok", "database": "ok", **external},
            latency_ms={name: 1.0 + index for index, name in enumerate(external)},
            external=sorted(external),
        )

    def external_checks(self) -> dict[str, str]:
        """Each external system the service drives → "ok" or why not."""
        return {}

    def _add_health(self, router: NatsRouter, bus: Bus) -> None:
        @bus.responder(router, subjects.health_query(self.service), self.service)
        async def health(query: HealthQuery) -> HealthReply:
            return self.health()
