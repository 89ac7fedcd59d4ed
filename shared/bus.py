"""NATS plumbing: topology (prefix + streams), the broker factory, publishing and consuming.

Delivery policy, chosen explicitly because FastStream's default (``REJECT_ON_ERROR``) would
``term()`` a message whose handler raised, losing it:

* handler returns                 → ``ack``
* ``RetryableError`` / unknown     → ``nak(delay)`` while deliveries < ``max_deliver``,
                                     then dead-lettered
* ``PermanentError`` / bad payload → dead-lettered at once

Dead-lettering publishes a ``DeadLetter`` (original subject, consumer, reason, payload) on
``dlq.<subject>`` in the ``DLQ`` stream, counts it in ``vmscale_dead_letters_total{subject}``
and then terminates the original, so nothing is lost. ``shared.dead_letters`` reads them back.
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
from faststream.exceptions import NackMessage, RejectMessage
from faststream.message import StreamMessage
from faststream.nats import ConsumerConfig, JStream, NatsBroker, NatsRouter, PullSub, StreamConfig
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from opentelemetry.trace import TracerProvider
from prometheus_client import CollectorRegistry, Counter
from pydantic import ValidationError

from shared import subjects
from shared.errors import (
    OperationTimeout,
    PermanentError,
    ServiceUnavailable,
)
from shared.messages import DeadLetter, Message, Reply
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

_CONTRACT_NAMES = frozenset(subject.name for subject in subjects.ALL)


def subject_label(name: str) -> str:
    """A subject as a metric label: a subject of the contract, or ``other`` (bounded cardinality,
    whatever a wildcard consumer or a stray publisher brings)."""
    return name if name in _CONTRACT_NAMES else "other"


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


@dataclass(frozen=True)
class DeadLetterPolicy:
    """How many deliveries a message gets and how long a nak waits."""

    max_deliver: int = 5
    retry_delay_s: float = 2.0
    ack_wait_s: float = 30.0


def _delivery_count(msg: StreamMessage[Any]) -> int:
    metadata = getattr(msg.raw_message, "metadata", None)
    sequence = getattr(metadata, "num_delivered", None)
    return int(sequence) if sequence else 1


class _DeadLetterMiddleware(BaseMiddleware):
    """Turns handler outcomes into ack / nak(delay) / dead-letter, per the module docstring."""

    def __init__(self, msg: Any, /, *, context: Any, bus: Bus, policy: DeadLetterPolicy) -> None:
        super().__init__(msg, context=context)
        self._bus = bus
        self._policy = policy

    async def consume_scope(
        self, call_next: Callable[[StreamMessage[Any]], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        raw = msg.raw_message
        if not str(getattr(raw, "reply", "") or "").startswith("$JS.ACK."):
            return await call_next(msg)  # core NATS: no stream, nothing to redeliver
        try:
            return await call_next(msg)
        except (NackMessage, RejectMessage):
            raise
        except (PermanentError, ValidationError) as exc:
            await self._dead_letter(msg, exc)
            raise RejectMessage() from exc
        except Exception as exc:
            deliveries = _delivery_count(msg)
            if deliveries >= self._policy.max_deliver:
                await self._dead_letter(msg, exc)
                raise RejectMessage() from exc
            delay = self._policy.retry_delay_s * deliveries
            raise NackMessage(delay=delay) from exc

    async def _dead_letter(self, msg: StreamMessage[Any], exc: BaseException) -> None:
        raw = msg.raw_message
        wire = str(getattr(raw, "subject", ""))
        metadata = getattr(raw, "metadata", None)
        consumer = str(getattr(metadata, "consumer", "") or "")
        original = self._bus.topology.unprefixed(wire)
        headers = {k: v for k, v in (msg.headers or {}).items() if isinstance(v, str)}
        body = msg.body.decode("utf-8", errors="replace") if isinstance(msg.body, bytes) else ""
        letter = DeadLetter(
            subject=original,
            consumer=consumer,
            reason=_reason(exc),
            error_kind=type(exc).__name__,
            deliveries=_delivery_count(msg),
            headers=headers,
            payload=body,
        )
        await self._bus.publish(subjects.dead_letter(original), letter)
        self._bus.dead_lettered.labels(subject_label(original)).inc()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        problems = [f"{'.'.join(str(p) for p in err['loc']) or '<body>'}: {err['msg']}" for err in exc.errors()]
        return "invalid message: " + "; ".join(problems)
    return str(exc) or type(exc).__name__


class Bus:
    """Typed publish / request / subscribe over one broker and one topology.

    ``registry`` receives the bus's own metric (a private one when none is given, never the
    global ``REGISTRY``): ``vmscale_dead_letters_total{subject}``, the messages this process
    dead-lettered by original subject (``subject_label``).
    """

    def __init__(
        self,
        broker: NatsBroker,
        topology: Topology,
        policy: DeadLetterPolicy | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.broker = broker
        self.topology = topology
        self.policy = policy or DeadLetterPolicy()
        self.dead_lettered = Counter(
            "vmscale_dead_letters",
            "Messages this process dead-lettered, by original subject",
            ["subject"],
            registry=registry if registry is not None else CollectorRegistry(),
        )

    def middleware(self) -> Callable[..., BaseMiddleware]:
        """The dead-letter middleware factory bound to this bus (added by ``build_broker``)."""

        def factory(msg: Any, /, *, context: Any) -> BaseMiddleware:
            return _DeadLetterMiddleware(msg, context=context, bus=self, policy=self.policy)

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

    async def ensure_streams(self) -> None:
        """Create or update the three streams (idempotent)."""
        js = self.broker.config.connection_state.stream
        for stream in (self.topology.commands, self.topology.events, self.topology.dead_letters):
            config = StreamConfig(
                name=stream.name,
                subjects=list(stream.subjects),
                duplicate_window=DUPLICATE_WINDOW_S,
                max_age=STREAM_MAX_AGE_S,
            )
            try:
                await js.add_stream(config=config)
            except nats.js.errors.BadRequestError:
                await js.update_stream(config=config)

    async def publish(self, subject: Subject[M], message: M) -> None:
        """Publish ``message`` on ``subject``; JetStream subjects wait for the stream's ack.

        Sets ``Nats-Msg-Id`` to the message id so a re-publish inside the duplicate window is
        stored once. Raises ``ServiceUnavailable`` / ``OperationTimeout`` when NATS is down.
        """
        if not isinstance(message, subject.model):
            raise TypeError(f"{subject.name} carries {subject.model.__name__}")
        headers = {"Nats-Msg-Id": str(message.message_id)}
        wire = self.topology.subject(subject)
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
            raise OperationTimeout("NATS publish timed out", subject=subject.name) from exc
        except (nats.errors.Error, ConnectionError, AssertionError) as exc:
            raise ServiceUnavailable("NATS is unavailable", subject=subject.name) from exc

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
        decorator: Callable[[Callable[..., Awaitable[Any]]], Any] = router.subscriber(
            self.topology.subject(subject),
            stream=self.topology.stream_for(subject),
            durable=self.topology.durable(service, subject),
            pull_sub=PullSub(batch_size=16, timeout=1.0),
            config=ConsumerConfig(
                max_deliver=self.policy.max_deliver + 1,
                ack_wait=self.policy.ack_wait_s,
            ),
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


def _bus_logger() -> logging.Logger:
    # Our own logger, so FastStream's lines go through the process's JSON handler; its INFO
    # chatter (a line per consumer task callback) is below what operators need.
    logger = logging.getLogger("vmscale.bus")
    logger.setLevel(logging.WARNING)
    return logger


def build_broker(
    nats_url: str,
    *,
    client_name: str,
    topology: Topology,
    policy: DeadLetterPolicy | None = None,
    tracer_provider: TracerProvider | None = None,
    registry: CollectorRegistry | None = None,
) -> Bus:
    """Build an unconnected broker wired with tracing and the dead-letter policy.

    Nothing connects here; the FastStream app (or the test) starts the broker. The bus's metrics
    go to ``registry`` (the service's, so its ``/metrics`` serves them).
    """
    broker = NatsBroker(
        nats_url,
        name=client_name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=2,
        logger=_bus_logger(),
        log_level=logging.DEBUG,  # per-message access lines; errors are still logged as errors
    )
    bus = Bus(broker, topology, policy, registry)
    broker.add_middleware(bus.middleware())
    broker.add_middleware(NatsTelemetryMiddleware(tracer_provider=tracer_provider))
    return bus
