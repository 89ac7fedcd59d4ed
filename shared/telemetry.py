"""Tracing and structured logging.

* Traces: one ``TracerProvider`` per process; FastStream's ``NatsTelemetryMiddleware`` carries the
  W3C ``traceparent`` in NATS headers, so one trace spans gateway → scaler → inventory, monitoring
  and the load balancer. A message published later, outside the span that produced it (the
  scaler's outbox), carries the context saved with it (``current_trace_context`` when stored,
  ``restored_trace_context`` when published). Spans go nowhere (``none``, the default: not even
  recorded), to stderr (``console``) or to an OTLP/HTTP collector (``otlp``, batched).
* Logs: JSON lines (structlog) with ``trace_id``/``span_id`` of the current span and, when bound
  with ``bind_context``, ``activity_id`` and ``group``. Secrets never reach a log: settings are
  logged through ``ServiceSettings.public_dict`` and ``SecretStr`` prints as stars.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote

import structlog
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

__all__ = [
    "DEFAULT_OTLP_TRACES_ENDPOINT",
    "bind_context",
    "build_tracer_provider",
    "configure_logging",
    "current_trace_context",
    "get_logger",
    "parse_otlp_headers",
    "restored_trace_context",
]

DEFAULT_OTLP_TRACES_ENDPOINT = "http://localhost:4318/v1/traces"
"""Where an OTLP/HTTP exporter sends spans when no endpoint is set (the OpenTelemetry default)."""


def build_tracer_provider(
    service: str,
    exporter: str | SpanExporter = "none",
    *,
    endpoint: str = "",
    headers: Mapping[str, str] | None = None,
) -> TracerProvider:
    """A tracer provider for ``service``; ``exporter`` is ``none``, ``console``, ``otlp`` or an
    exporter (tests).

    With no exporter nothing would read a recorded span, so none is recorded: spans still carry
    trace and span ids (into the logs, and on to the next service in NATS headers), but a
    recorded span with its attributes cost about a tenth of the webhook's CPU per request. A
    trace that arrives sampled from a service that exports is still recorded (parent-based).

    ``otlp`` sends protobuf over HTTP to ``endpoint`` (the full traces URL; empty: the
    OpenTelemetry default, ``DEFAULT_OTLP_TRACES_ENDPOINT``) with ``headers`` (credentials:
    never logged), in batches from a background thread, so a request never waits for the
    collector; ``TracerProvider.shutdown`` sends what is left. ``console`` and an exporter
    given as an object export each span as it ends.
    """
    resource = Resource.create({"service.name": f"vmscale-{service}"})
    if isinstance(exporter, str) and exporter == "none":
        return TracerProvider(resource=resource, sampler=ParentBased(root=ALWAYS_OFF))
    provider = TracerProvider(resource=resource)
    if isinstance(exporter, SpanExporter):
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif exporter == "otlp":
        # imported here: a process that does not export never loads the protobuf machinery
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        otlp = OTLPSpanExporter(endpoint=endpoint or DEFAULT_OTLP_TRACES_ENDPOINT, headers=dict(headers or {}))
        provider.add_span_processor(BatchSpanProcessor(otlp))
    elif exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    else:
        raise ValueError(f"unknown trace exporter {exporter!r} (none, console or otlp)")
    return provider


def parse_otlp_headers(text: str) -> dict[str, str]:
    """``key=value,key2=value2`` (values URL-encoded, as ``OTEL_EXPORTER_OTLP_HEADERS``) as a dict.

    Raises ``ValueError`` naming the position of a malformed pair, never its text (a header is
    usually a credential).
    """
    out: dict[str, str] = {}
    for index, pair in enumerate(part for part in text.split(",") if part.strip()):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"header {index + 1} is not key=value")
        out[unquote(key.strip()).lower()] = unquote(value.strip())
    return out


def current_trace_context() -> str:
    """The current span's W3C trace context (``traceparent``, ``tracestate``) as a JSON object,
    for a message published later, outside this span; ``""`` when there is no valid span."""
    if not trace.get_current_span().get_span_context().is_valid:
        return ""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return json.dumps(carrier, separators=(",", ":"), sort_keys=True) if carrier else ""


@contextmanager
def restored_trace_context(saved: str) -> Iterator[None]:
    """Make the trace context ``current_trace_context`` returned current for the block, so what
    is published there continues that trace; an empty or unreadable ``saved`` changes nothing."""
    try:
        carrier = json.loads(saved) if saved else None
    except ValueError:
        carrier = None
    if not isinstance(carrier, dict):
        yield
        return
    token = otel_context.attach(propagate.extract({str(k): str(v) for k, v in carrier.items()}))
    try:
        yield
    finally:
        otel_context.detach(token)


def _add_trace_ids(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    """Route stdlib and structlog logging to stderr as JSON lines (or console text)."""
    json_lines = fmt == "json"
    renderer: Any = structlog.processors.JSONRenderer() if json_lines else structlog.dev.ConsoleRenderer()
    # JSON lines carry a failure's traceback as text under "exception" (the console renderer
    # prints it by itself); without this a library's exc_info would be an unreadable repr
    tracebacks: list[Any] = [structlog.processors.format_exc_info] if json_lines else []
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
    ]
    structlog.configure(
        processors=[*shared_processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *tracebacks,
                renderer,
            ],
            foreign_pre_chain=[*shared_processors, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Per-channel chatter of libraries, below what an operator reads at INFO.
    for noisy in ("asyncssh", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    structlog.contextvars.bind_contextvars(service=service)


def bind_context(**values: str | None) -> None:
    """Bind ``activity_id``, ``group`` and the like to every log line of the current task."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in values.items() if v is not None})


def get_logger(name: str) -> Any:
    """A structlog logger."""
    return structlog.get_logger(name)
