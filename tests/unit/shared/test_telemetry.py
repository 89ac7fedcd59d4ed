"""With no exporter spans are not recorded, yet every log line still gets its trace and span ids."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import ValidationError

from shared.settings import ServiceSettings
from shared.telemetry import (
    build_tracer_provider,
    configure_logging,
    current_trace_context,
    parse_otlp_headers,
    restored_trace_context,
)


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


def test_a_saved_trace_context_is_current_again_where_it_is_restored() -> None:
    tracer = build_tracer_provider("scaler").get_tracer("t")
    assert current_trace_context() == "", "no span: nothing to save"
    with tracer.start_as_current_span("reply") as span:
        saved = current_trace_context()
    assert not trace.get_current_span().get_span_context().is_valid
    with restored_trace_context(saved):
        restored = trace.get_current_span().get_span_context()
        with tracer.start_as_current_span("publish") as child:
            assert child.get_span_context().trace_id == span.get_span_context().trace_id
    assert (restored.trace_id, restored.span_id) == (span.get_span_context().trace_id, span.get_span_context().span_id)
    assert not trace.get_current_span().get_span_context().is_valid, "detached after the block"
    for unreadable in ("", "not json", "[1]"):
        with restored_trace_context(unreadable):
            assert not trace.get_current_span().get_span_context().is_valid


def test_otlp_headers_are_read_as_the_opentelemetry_variable_writes_them() -> None:
    assert parse_otlp_headers("") == {}
    assert parse_otlp_headers("Authorization=Bearer%20abc, x-tenant = a=b ,") == {
        "authorization": "Bearer abc",
        "x-tenant": "a=b",
    }
    with pytest.raises(ValueError, match="header 2 is not key=value") as failed:
        parse_otlp_headers("a=1,tokenwithoutkey")
    assert "tokenwithoutkey" not in str(failed.value)


def test_the_traces_endpoint_follows_the_opentelemetry_rules() -> None:
    assert ServiceSettings().otlp_traces_endpoint() == "http://localhost:4318/v1/traces"
    base = ServiceSettings(otel_exporter_otlp_endpoint="http://collector:4318/")
    assert base.otlp_traces_endpoint() == "http://collector:4318/v1/traces"
    full = ServiceSettings(
        otel_exporter_otlp_endpoint="http://collector:4318", otel_exporter_otlp_traces_endpoint="https://c/traces"
    )
    assert full.otlp_traces_endpoint() == "https://c/traces"
    with pytest.raises(ValidationError):
        ServiceSettings(otel_exporter_otlp_endpoint="collector:4318")
    with pytest.raises(ValueError, match="unknown trace exporter"):
        build_tracer_provider("scaler", "zipkin")


def test_otlp_batches_while_console_and_a_given_exporter_send_each_span() -> None:
    def processors(provider: TracerProvider) -> list[str]:
        return [type(p).__name__ for p in provider._active_span_processor._span_processors]

    assert processors(build_tracer_provider("scaler", "otlp", endpoint="http://127.0.0.1:9/v1/traces")) == [
        "BatchSpanProcessor"
    ]
    assert processors(build_tracer_provider("scaler", "console")) == ["SimpleSpanProcessor"]
    assert processors(build_tracer_provider("scaler", InMemorySpanExporter())) == ["SimpleSpanProcessor"]
    assert processors(build_tracer_provider("scaler")) == []
