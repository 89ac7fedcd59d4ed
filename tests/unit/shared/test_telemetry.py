"""With no exporter spans are not recorded, yet every log line still gets its trace and span ids."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.telemetry import build_tracer_provider, configure_logging

pytestmark = pytest.mark.unit


def test_without_an_exporter_a_span_is_not_recorded_but_has_valid_ids() -> None:
    tracer = build_tracer_provider("gateway").get_tracer("t")
    with tracer.start_as_current_span("request") as span:
        assert not span.is_recording()
        context = trace.get_current_span().get_span_context()
        assert context.is_valid and context.trace_id and context.span_id
        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier)
        assert format(context.trace_id, "032x") in carrier["traceparent"], "the id still travels on"


def test_a_sampled_trace_from_an_exporting_service_is_recorded_here_too() -> None:
    exporter = InMemorySpanExporter()
    upstream = build_tracer_provider("gateway", exporter).get_tracer("t")
    downstream = build_tracer_provider("scaler").get_tracer("t")
    with upstream.start_as_current_span("request"):
        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier)
    parent = TraceContextTextMapPropagator().extract(carrier)
    with downstream.start_as_current_span("handle", context=parent) as span:
        assert span.is_recording()
    assert [s.name for s in exporter.get_finished_spans()] == ["request"]


def test_with_an_exporter_every_span_is_recorded() -> None:
    exporter = InMemorySpanExporter()
    with build_tracer_provider("gateway", exporter).get_tracer("t").start_as_current_span("request") as span:
        assert span.is_recording()
    assert len(exporter.get_finished_spans()) == 1


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Put the root logger's handlers and level back after a test configured it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.usefixtures("root_logging")
def test_a_json_log_line_carries_a_librarys_traceback_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("scaler", "INFO", "json")
    try:
        raise TimeoutError("fetch took too long")
    except TimeoutError as exc:
        logging.getLogger("vmscale.library").error("Task-30 raised an exception, retrying...", exc_info=exc)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "Task-30 raised an exception, retrying..." and line["level"] == "error"
    assert "Traceback (most recent call last)" in line["exception"]
    assert "TimeoutError: fetch took too long" in line["exception"]
    assert "exc_info" not in line
