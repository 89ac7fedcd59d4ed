"""Tracing and structured logging.

* Traces: one ``TracerProvider`` per process; FastStream's ``NatsTelemetryMiddleware`` carries the
  W3C ``traceparent`` in NATS headers, so a trace spans gateway → scaler → inventory.
* Logs: JSON lines (structlog) with ``trace_id``/``span_id`` of the current span and, when bound
  with ``bind_context``, ``activity_id`` and ``group``. Secrets never reach a log: settings are
  logged through ``ServiceSettings.public_dict`` and ``SecretStr`` prints as stars.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

__all__ = ["bind_context", "build_tracer_provider", "configure_logging", "get_logger"]


def build_tracer_provider(service: str, exporter: str | SpanExporter = "none") -> TracerProvider:
    """A tracer provider for ``service``; ``exporter`` is ``none``, ``console`` or an exporter.

    With no exporter nothing would read a recorded span, so none is recorded: spans still carry
    trace and span ids (into the logs, and on to the next service in NATS headers), but a
    recorded span with its attributes cost about a tenth of the webhook's CPU per request. A
    trace that arrives sampled from a service that exports is still recorded (parent-based).
    """
    resource = Resource.create({"service.name": f"vmscale-{service}"})
    if isinstance(exporter, str) and exporter == "none":
        return TracerProvider(resource=resource, sampler=ParentBased(root=ALWAYS_OFF))
    provider = TracerProvider(resource=resource)
    if isinstance(exporter, SpanExporter):
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    return provider


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
