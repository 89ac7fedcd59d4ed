"""A loopback OTLP/HTTP trace receiver for tests: what a user's collector would get.

It accepts ``POST /v1/traces`` (``application/x-protobuf``, plain or gzip), decodes each
``ExportTraceServiceRequest`` with the classes ``opentelemetry-proto`` ships and keeps every span
as a ``ReceivedSpan``. A thread-per-request stdlib server in a background thread, so a
synchronous end-to-end test and an asyncio test can both use it while the exporting processes
(or the test's own event loop) run. Binds 127.0.0.1 on a free port.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

__all__ = ["OtlpReceiver", "ReceivedSpan", "otlp_receiver"]

TRACES_PATH = "/v1/traces"


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the receiver decoded it (ids in lowercase hex, as W3C ``traceparent``)."""

    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, Any]


def _value(any_value: Any) -> Any:
    which = any_value.WhichOneof("value")
    return getattr(any_value, which) if which else None


def decode(body: bytes) -> list[ReceivedSpan]:
    """The spans of one ``ExportTraceServiceRequest`` (raises ``google.protobuf`` errors on junk)."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        service = str(resource.get("service.name", ""))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        service=service,
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        kind=int(span.kind),
                        attributes={a.key: _value(a.value) for a in span.attributes},
                    )
                )
    return spans


class OtlpReceiver:
    """Collects the spans posted to ``endpoint``; ``requests`` counts the export calls and
    ``headers`` keeps the headers of the last one (to check an exporter's credentials)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[ReceivedSpan] = []
        self.requests = 0
        self.rejected = 0
        self.headers: dict[str, str] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-receiver", daemon=True)

    @property
    def endpoint(self) -> str:
        """The full traces URL (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{TRACES_PATH}"

    @property
    def base_url(self) -> str:
        """The collector's base URL (``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
        return self.endpoint.removesuffix(TRACES_PATH)

    def start(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def spans(self) -> list[ReceivedSpan]:
        """Every span received so far, in arrival order."""
        with self._lock:
            return list(self._spans)

    def services_by_trace(self) -> dict[str, set[str]]:
        """trace id → the ``service.name`` of every span received in that trace."""
        out: dict[str, set[str]] = {}
        for span in self.spans():
            out.setdefault(span.trace_id, set()).add(span.service)
        return out

    def wait_for(self, found: Callable[[list[ReceivedSpan]], Any], timeout: float = 10.0) -> Any:
        """Poll until ``found(spans)`` is truthy; its value. Raises ``TimeoutError`` with what
        arrived (services per trace) when it never is."""
        deadline = time.monotonic() + timeout
        while True:
            value = found(self.spans())
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"spans received, by trace: {self.services_by_trace()}")
            time.sleep(0.1)

    def _received(self, spans: list[ReceivedSpan], headers: dict[str, str]) -> None:
        with self._lock:
            self._spans.extend(spans)
            self.requests += 1
            self.headers = headers

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: a test's output is its own

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if self.path != TRACES_PATH or "protobuf" not in (self.headers.get("Content-Type") or ""):
                    with receiver._lock:
                        receiver.rejected += 1
                    self._answer(404 if self.path != TRACES_PATH else 415, b"traces as protobuf only", "text/plain")
                    return
                try:
                    if encoding == "gzip":
                        body = gzip.decompress(body)
                    elif encoding == "deflate":
                        body = zlib.decompress(body)
                    spans = decode(body)
                except Exception:
                    with receiver._lock:
                        receiver.rejected += 1
                    self._answer(400, b"not an ExportTraceServiceRequest", "text/plain")
                    return
                receiver._received(spans, {k.lower(): v for k, v in self.headers.items()})
                self._answer(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")

        return Handler


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """A started receiver, stopped after the block."""
    receiver = OtlpReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()
