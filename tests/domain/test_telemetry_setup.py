"""shared/telemetry.configure, each case in a fresh process (a tracer provider is set once per
process): the standard OTEL_* variables choose exporters and sampling, an exporter this build
cannot serve is refused with an error naming the choices, the Azure SDKs' loggers go quiet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import logging
from shared import telemetry
print("where=" + telemetry.configure())
with telemetry.tracer.start_as_current_span("probe"):
    telemetry.annotate(items=3)
print("azure=" + logging.getLevelName(logging.getLogger("azure").level))
"""


def run(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("OTEL_") and k != "APPLICATIONINSIGHTS_CONNECTION_STRING"}
    return subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env={**clean, "PYTHONPATH": str(ROOT), **env},
                          check=True)


def printed_spans(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_console_exporter_prints_each_span_with_its_attributes():
    out = run(OTEL_TRACES_EXPORTER="console").stdout
    (span,) = printed_spans(out)
    assert span["name"] == "probe" and span["attributes"] == {"batch.items": 3}
    assert "where=console" in out and "azure=WARNING" in out


def test_no_exporter_means_no_spans_and_the_sdk_loggers_still_quiet():
    out = run().stdout
    assert printed_spans(out) == [] and "where=none" in out and "azure=WARNING" in out


def test_the_standard_sampler_variable_is_honoured():
    out = run(OTEL_TRACES_EXPORTER="console", OTEL_TRACES_SAMPLER="always_off").stdout
    assert printed_spans(out) == []


def test_an_exporter_it_cannot_serve_is_refused_by_name():
    done = run(OTEL_TRACES_EXPORTER="console,zipkin")
    assert "OTEL_TRACES_EXPORTER 'zipkin' is not supported here" in done.stderr
    assert [s["name"] for s in printed_spans(done.stdout)] == ["probe"]  # console still works
    grpc = run(OTEL_TRACES_EXPORTER="otlp", OTEL_EXPORTER_OTLP_PROTOCOL="grpc")
    assert "use console, or otlp with OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf" in grpc.stderr


def test_otlp_sends_the_spans_to_the_collector_the_variables_name():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    received: list[tuple[str, str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((self.path, self.headers["content-type"], body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:  # the batch processor sends what it holds when the process exits
        run(OTEL_TRACES_EXPORTER="otlp",
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
    (path, content_type, body), = received
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    export = ExportTraceServiceRequest.FromString(body)
    (span,) = export.resource_spans[0].scope_spans[0].spans
    assert span.name == "probe"
    assert {a.key: a.value.int_value for a in span.attributes} == {"batch.items": 3}
