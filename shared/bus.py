"""NATS plumbing: topology (prefix + streams), the broker factory, publishing and consuming.

What a consumer does with a handler's outcome (ack, nak with a delay, dead-letter; in-progress
acks for long handlers) is ``shared.consume_policy``; publishes, publish errors and handler
failures are counted (``shared.metrics.BusMetrics``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import nats.errors
import nats.js.errors
from faststream import AckPolicy
from faststream._internal.middlewares import BaseMiddleware
from faststream.nats import ConsumerConfig, JStream, NatsBroker, NatsRouter, PullSub, StreamConfig
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from faststream.security import BaseSecurity
from opentelemetry.trace import TracerProvider
from prometheus_client import CollectorRegistry

from shared import subjects
from shared.consume_policy import DeadLetterMiddleware, DeadLetterPolicy, subject_label
from shared.errors import (
    OperationTimeout,
    ServiceUnavailable,
)
from shared.messages import DeadLetter, Message, Reply
from shared.metrics import BusMetrics
from shared.nats_connection import parse_servers
from shared.streams import reconcile_streams, wanted_stream
from shared.subjects import Kind, Subject

__all__ = [
    "DUPLICATE_WINDOW_S",
    "Bus",
    "DeadLetterPolicy",
    "Topology",
    "build_broker",
    "subject_label",
]

M = TypeVar("M", bound=Message)
R = TypeVar("R", bound=Reply)

DUPLICATE_WINDOW_S = 120.0
"""JetStream's de-duplication window for ``Nats-Msg-Id`` (the server default, made explicit)."""

STREAM_MAX_AGE_S = 7 * 24 * 3600.0
"""How long commands, events and dead letters are kept."""


@dataclass(frozen=True)
class Topology:
    """Wire names under an optional prefix: subjects, streams and durable consumer names."""

    prefix: str = ""

    def subject(self, subject: Subject[Any] | str) -> str:
        """The wire subject for ``subject``."""
        name = subject if isinstance(subject, str) else subject.name
        return f"{self.prefix}.{name}" if self.prefix else name

    def unprefixed(self, wire: str) -> str:
        """Strip the prefix from a wire subject."""
        head = f"{self.prefix}." if self.prefix else ""
        return wire[len(head) :] if head and wire.startswith(head) else wire

    def _stream(self, name: str, patterns: tuple[str, ...]) -> JStream:
        # declare=False: FastStream would otherwise re-declare the stream with only the
        # subscriber's own subject; ``Bus.ensure_streams`` declares the full subject list.
        stream_name = f"{self.prefix}_{name}" if self.prefix else name
        return JStream(
            stream_name,
            subjects=[self.subject(pattern) for pattern in patterns],
            duplicate_window=DUPLICATE_WINDOW_S,
            max_age=STREAM_MAX_AGE_S,
            declare=False,
        )

    @cached_property
    def commands(self) -> JStream:
        """The stream that stores every command."""
        return self._stream("VMSCALE_COMMANDS", subjects.COMMAND_STREAM_SUBJECTS)

    @cached_property
    def events(self) -> JStream:
        """The stream that stores every event."""
        return self._stream("VMSCALE_EVENTS", subjects.EVENT_STREAM_SUBJECTS)

    @cached_property
    def dead_letters(self) -> JStream:
        """The stream that keeps dead letters."""
        return self._stream("VMSCALE_DLQ", subjects.DEAD_LETTER_STREAM_SUBJECTS)

    def stream_for(self, subject: Subject[Any]) -> JStream:
        """The stream a JetStream subject belongs to."""
        if subject.kind is Kind.COMMAND:
            return self.commands
        if subject.kind is Kind.EVENT:
            return self.dead_letters if subject.model is DeadLetter else self.events
        raise ValueError(f"{subject.name} is a {subject.kind} subject, not stored in a stream")

    def durable(self, service: str, subject: Subject[Any]) -> str:
        """The durable consumer name of ``service`` on ``subject``."""
        return f"{service}-{subject.name}".replace(".", "_").replace(">", "all")

    @staticmethod
    def service_of(durable: str) -> str:
        """The service a durable consumer name (``durable``'s output) belongs to; '' when unknown."""
        service, dash, _ = durable.partition("-")
        return service if dash and service in subjects.SERVICES else ""


class Bus:
    """Typed publish / request / subscribe over one broker and one topology.

    ``registry`` receives the bus's own metrics (a private one when none is given, never the
    global ``REGISTRY``): ``shared.metrics.BusMetrics`` — published messages, publish errors,
    handler failures and ``vmscale_dead_letters_total{subject}``, the messages this process
    dead-lettered, each by subject (``subject_label``).
    """

    def __init__(
        self,
        broker: NatsBroker,
        topology: Topology,
        policy: DeadLetterPolicy | None = None,
        registry: CollectorRegistry | None = None,
        replicas: int = 1,
    ) -> None:
        self.broker = broker
        self.topology = topology
        self.replicas = replicas
        """Replicas of the streams and of the durable consumers this bus creates."""
        self._durables: set[str] = set()
        self.policy = policy or DeadLetterPolicy()
        self.metrics = BusMetrics(registry if registry is not None else CollectorRegistry())
        self._observers: list[Callable[[Subject[Any], Message], None]] = []

    def middleware(self) -> Callable[..., BaseMiddleware]:
        """The dead-letter middleware factory bound to this bus (added by ``build_broker``)."""

        def factory(msg: Any, /, *, context: Any) -> BaseMiddleware:
            return DeadLetterMiddleware(msg, context=context, bus=self, policy=self.policy)

        return factory

    def is_connected(self) -> bool:
        """True while the NATS connection is up."""
        state = self.broker.config.connection_state
        try:
            return bool(state.connection.is_connected)
        except Exception:
            return False

    async def connect(self) -> None:
        """Connect the broker and declare the streams; call before ``broker.start()``."""
        await self.broker.connect()
        await self.ensure_streams()

    def wanted_streams(self) -> list[StreamConfig]:
        """The three streams as vmscale wants them, with this bus's replica count."""
        return [
            wanted_stream(
                stream.name,
                stream.subjects,
                replicas=self.replicas,
                duplicate_window_s=DUPLICATE_WINDOW_S,
                max_age_s=STREAM_MAX_AGE_S,
            )
            for stream in (self.topology.commands, self.topology.events, self.topology.dead_letters)
        ]

    async def ensure_streams(self) -> list[str]:
        """Create or update the three streams and their consumers' replicas (idempotent).

        Returns the settings NATS could not change in place (also logged as warnings); raises
        ``ConfigurationError`` when the server refuses a stream (more replicas than nodes).
        """
        js = self.broker.config.connection_state.stream
        return await reconcile_streams(js, self.wanted_streams(), consumers=frozenset(self._durables))

    async def publish(self, subject: Subject[M], message: M) -> None:
        """Publish ``message`` on ``subject``; JetStream subjects wait for the stream's ack.

        Sets ``Nats-Msg-Id`` to the message id so a re-publish inside the duplicate window is
        stored once. Raises ``ServiceUnavailable`` / ``OperationTimeout`` when NATS is down.
        """
        if not isinstance(message, subject.model):
            raise TypeError(f"{subject.name} carries {subject.model.__name__}")
        headers = {"Nats-Msg-Id": str(message.message_id)}
        wire = self.topology.subject(subject)
        label = "dlq" if subject.model is DeadLetter else subject_label(subject.name)
        try:
            if subject.kind in (Kind.COMMAND, Kind.EVENT):
                await self.broker.publish(
                    message,
                    wire,
                    headers=headers,
                    stream=self.topology.stream_for(subject).name,
                    correlation_id=message.correlation_id,
                    timeout=5.0,
                )
            else:
                await self.broker.publish(message, wire, headers=headers)
        except (TimeoutError, nats.errors.TimeoutError) as exc:
            self.metrics.publish_errors.labels(label, "timeout").inc()
            raise OperationTimeout("NATS publish timed out", subject=subject.name) from exc
        except (nats.errors.Error, ConnectionError, AssertionError) as exc:
            self.metrics.publish_errors.labels(label, "unavailable").inc()
            raise ServiceUnavailable("NATS is unavailable", subject=subject.name) from exc
        self.metrics.published.labels(label).inc()
        for observe in self._observers:
            observe(subject, message)

    def observe(self, observer: Callable[[Subject[Any], Message], None]) -> None:
        """Call ``observer(subject, message)`` after each successful publish (metrics taken from
        the events a service emits). It runs inline on the publishing task: it must be quick and
        must not raise."""
        self._observers.append(observer)

    async def request(self, subject: Subject[Any], query: Message, timeout: float = 5.0) -> Any:
        """Send a query and return the validated reply model.

        Raises ``OperationTimeout`` when nobody answers in time, ``ServiceUnavailable`` when NATS
        is down. A reply carrying ``error`` is returned as is; the caller decides.
        """
        if subject.kind is not Kind.QUERY or subject.reply is None:
            raise TypeError(f"{subject.name} is not a query subject")
        try:
            response = await self.broker.request(query, self.topology.subject(subject), timeout=timeout)
        except (TimeoutError, nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
            raise OperationTimeout("no reply", subject=subject.name) from exc
        except (nats.errors.Error, ConnectionError, AssertionError) as exc:
            raise ServiceUnavailable("NATS is unavailable", subject=subject.name) from exc
        body = response.body
        return subject.reply.model_validate(json.loads(body) if body else {})

    def consumer(
        self, router: NatsRouter, subject: Subject[Any], service: str, **options: Any
    ) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
        """Decorator: a durable, explicit-ack JetStream consumer of ``service`` on ``subject``."""
        self._durables.add(self.topology.durable(service, subject))
        decorator: Callable[[Callable[..., Awaitable[Any]]], Any] = router.subscriber(
            self.topology.subject(subject),
            stream=self.topology.stream_for(subject),
            durable=self.topology.durable(service, subject),
            pull_sub=PullSub(batch_size=16, timeout=1.0),
            # max_deliver is the middleware's (see the module docstring): a server-side cap
            # would drop a message whose dead letter could not be stored.
            config=ConsumerConfig(max_deliver=-1, ack_wait=self.policy.ack_wait_s, num_replicas=self.replicas),
            ack_policy=AckPolicy.ACK,
            **options,
        )
        return decorator

    def responder(
        self, router: NatsRouter, subject: Subject[Any], service: str
    ) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
        """Decorator: a core request/reply handler, load-balanced over ``service``'s replicas."""
        if subject.kind is not Kind.QUERY:
            raise ValueError(f"{subject.name} is not a query subject")
        return router.subscriber(self.topology.subject(subject), queue=service)

    def listener(self, router: NatsRouter, subject: Subject[Any]) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
        """Decorator: a core subscriber on a signal (nothing stored, every replica hears it)."""
        return router.subscriber(self.topology.subject(subject))


class _PullTimeouts(logging.Filter):
    """FastStream logs a pull consumer's fetch that timed out (NATS busy, starting, or electing a
    stream leader) as an error with a traceback, then fetches again: a warning without the
    traceback, so an operator's error lines stay the ones that need someone."""

    def filter(self, record: logging.LogRecord) -> bool:
        failure = record.exc_info[1] if record.exc_info else None
        if record.levelno >= logging.ERROR and isinstance(failure, TimeoutError) and "retrying" in record.getMessage():
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args, record.exc_info, record.exc_text = (
                "a JetStream pull timed out (NATS busy or electing a leader); fetching again",
                None,
                None,
                None,
            )
        return True


def _bus_logger() -> logging.Logger:
    # Our own logger, so FastStream's lines go through the process's JSON handler; its INFO
    # chatter (a line per consumer task callback) is below what operators need.
    logger = logging.getLogger("vmscale.bus")
    logger.setLevel(logging.WARNING)
    if not any(isinstance(f, _PullTimeouts) for f in logger.filters):
        logger.addFilter(_PullTimeouts())
    return logger


def build_broker(
    nats_url: str,
    *,
    client_name: str,
    topology: Topology,
    policy: DeadLetterPolicy | None = None,
    tracer_provider: TracerProvider | None = None,
    registry: CollectorRegistry | None = None,
    replicas: int = 1,
    security: BaseSecurity | None = None,
) -> Bus:
    """Build an unconnected broker wired with tracing and the dead-letter policy.

    ``nats_url`` is one URL or a comma list of a cluster's nodes: the client connects to one and
    reconnects to another, without limit, when it goes away. ``replicas`` is the streams' and
    consumers' replica count; ``security`` the credentials and TLS
    (``shared.nats_connection.NatsConnection.security``). Nothing connects here; the FastStream
    app (or the test) starts the broker. The bus's metrics go to ``registry`` (the service's, so
    its ``/metrics`` serves them).
    """
    broker = NatsBroker(
        parse_servers(nats_url),
        security=security,
        name=client_name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=2,
        logger=_bus_logger(),
        log_level=logging.DEBUG,  # per-message access lines; errors are still logged as errors
    )
    bus = Bus(broker, topology, policy, registry, replicas)
    broker.add_middleware(bus.middleware())
    broker.add_middleware(NatsTelemetryMiddleware(tracer_provider=tracer_provider))
    return bus
