"""Spans leave a service as OTLP/HTTP protobuf: a loopback receiver decodes what a collector gets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.trace import SpanKind

from services.scaler.settings import ScalerSettings
from shared.runtime import ServiceRuntime
from shared.telemetry import build_tracer_provider
from testkit.otlp_receiver import OtlpReceiver, otlp_receiver


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as started:
        yield started


def test_the_otlp_exporter_sends_each_span_with_its_service_name_and_headers(receiver: OtlpReceiver) -> None:
    provider = build_tracer_provider(
        "inventory", "otlp", endpoint=receiver.endpoint, headers={"authorization": "Bearer t-123"}
    )
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("clone", kind=SpanKind.CONSUMER) as parent:
        with tracer.start_as_current_span("vcenter task"):
            pass
    provider.shutdown()  # the batch goes out now

    spans = receiver.wait_for(lambda spans: spans if len(spans) == 2 else None)
    assert {s.service for s in spans} == {"vmscale-inventory"}
    by_name = {s.name: s for s in spans}
    trace_id = format(parent.get_span_context().trace_id, "032x")
    assert {s.trace_id for s in spans} == {trace_id}
    assert by_name["vcenter task"].parent_span_id == by_name["clone"].span_id
    assert by_name["clone"].kind == SpanKind.CONSUMER.value + 1  # OTLP numbers kinds from 1 (internal)
    assert receiver.headers["authorization"] == "Bearer t-123"
    assert receiver.headers["content-type"] == "application/x-protobuf"


async def test_a_services_settings_send_its_spans_to_the_collector_and_stop_flushes_them(
    receiver: OtlpReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the names an operator sets: the base URL gets /v1/traces; the headers come from a file
    headers = tmp_path / "otlp-headers"
    headers.write_text("x-tenant=vmscale,authorization=Basic%20dXNlcjpwdw==\n")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base_url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS_FILE", str(headers))
    settings = ScalerSettings(state_dir=tmp_path)
    assert settings.public_dict()["otel_exporter_otlp_headers"] == "**********"
    assert "dXNlcjpwdw" not in repr(settings)
    runtime = ServiceRuntime("scaler", settings)

    with runtime.tracer_provider.get_tracer("t").start_as_current_span("decision"):
        pass
    assert receiver.spans() == [], "batched: nothing is sent per span"
    await runtime.stop()  # never started: stop only flushes what is batched

    (span,) = receiver.wait_for(lambda spans: spans)
    assert (span.service, span.name) == ("vmscale-scaler", "decision")
    assert receiver.headers["x-tenant"] == "vmscale"
    assert receiver.headers["authorization"] == "Basic dXNlcjpwdw=="


def test_malformed_headers_fail_the_start_without_repeating_them(tmp_path: Path) -> None:
    settings = ScalerSettings(
        state_dir=tmp_path, otel_traces_exporter="otlp", otel_exporter_otlp_headers="Bearer s3cr3t-token"
    )
    with pytest.raises(ValueError, match="OTEL_EXPORTER_OTLP_HEADERS: header 1 is not key=value") as failed:
        ServiceRuntime("scaler", settings)
    assert "s3cr3t" not in str(failed.value)


def test_the_receiver_refuses_what_is_not_an_otlp_trace_export(receiver: OtlpReceiver) -> None:
    protobuf = {"Content-Type": "application/x-protobuf"}
    assert httpx.post(receiver.endpoint, content=b"\xff\xff", headers=protobuf).status_code == 400
    assert httpx.post(receiver.endpoint, json={"resourceSpans": []}).status_code == 415
    assert receiver.spans() == [] and receiver.rejected == 2
