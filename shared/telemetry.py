"""OpenTelemetry for the service: set up once per worker process, spans with job dimensions,
and W3C trace context carried in queue messages so one job is one trace.

Where spans go (`configure`, called once when function_app.py is imported):
* `APPLICATIONINSIGHTS_CONNECTION_STRING` set (Azure): azure-monitor-opentelemetry's
  `configure_azure_monitor`, signed in with the app's identity (`AZURE_CLIENT_ID`) since the
  Application Insights resource refuses local auth; the `batch.*` logs go with the spans;
* else the standard `OTEL_TRACES_EXPORTER` (`console`, `otlp` over HTTP/protobuf to
  `OTEL_EXPORTER_OTLP_ENDPOINT`), with the SDK's own reading of `OTEL_SERVICE_NAME`,
  `OTEL_RESOURCE_ATTRIBUTES` and the sampler (`OTEL_TRACES_SAMPLER`, `..._ARG`);
* else nowhere: the API's no-op tracer, so spans cost next to nothing.
Sampling is parent-based by default, so a job's trace is kept or dropped whole. The Azure
SDKs' own loggers are set to WARNING (at INFO they log every HTTP request).

Spans: `invoke`, then one per queue step (`plan page`, `score mini-batch` with `download`,
`decode`, `inference`, ... children from the mini-batch's stopwatch, `aggregate`, `notify`,
...), each a child of the span that sent its message. Attributes: `batch.job`,
`batch.endpoint`, `batch.deployment`, and `batch.mini_batch`, `batch.items`,
`batch.items_failed` where they apply. docs/operations.md has the KQL that reads them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from opentelemetry import propagate, trace

log = logging.getLogger("batch.telemetry")
tracer = trace.get_tracer("batch-endpoints")
CARRIER_KEYS = ("traceparent", "tracestate")  # W3C trace context, as message envelope keys
QUIET_LOGGERS = ("azure", "azure.core.pipeline.policies.http_logging_policy",
                 "azure.monitor.opentelemetry.exporter", "urllib3")
# The distro's HTTP-library instrumentations would add a span per storage request; the Azure
# SDK's own spans (azure_sdk) and the mini-batch phases say more for less.
_NOISY_INSTRUMENTATIONS = ("requests", "urllib", "urllib3", "httpx")
_EPOCH_OFFSET = time.time() - time.perf_counter()


@functools.cache
def configure() -> str:
    """Set up tracing for this process from the environment; returns where spans go."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    if os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING"):
        from azure.monitor.opentelemetry import configure_azure_monitor

        configure_azure_monitor(
            credential=_identity(), logger_name="batch",
            instrumentation_options={n: {"enabled": False} for n in _NOISY_INSTRUMENTATIONS})
        return "azure-monitor"
    names = [n.strip() for n in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",")
             if n.strip() and n.strip() != "none"]
    if not names:
        return "none"
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )

    provider = TracerProvider(resource=Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME", "batch-endpoints")}))
    for name in names:
        if name == "console":  # printed as each span ends: nothing waits in a buffer
            provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(
                formatter=lambda span: span.to_json(indent=None) + "\n")))
        elif name == "otlp" and os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL",
                                               "http/protobuf") == "http/protobuf":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        else:
            log.error("OTEL_TRACES_EXPORTER %r is not supported here: use console, or otlp "
                      "with OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", name)
    trace.set_tracer_provider(provider)
    return ",".join(names)


def _identity():
    from azure.identity import ManagedIdentityCredential

    client_id = os.environ.get("AZURE_CLIENT_ID")
    return ManagedIdentityCredential(client_id=client_id) if client_id else None


def carrier() -> dict[str, str]:
    """The current trace context as message envelope keys (empty outside a sampled span)."""
    out: dict[str, str] = {}
    propagate.inject(out)
    return {k: v for k, v in out.items() if k in CARRIER_KEYS}


def annotate(job: Any = None, **extra: Any) -> None:
    """Put a job's dimensions (and `batch.<key>` extras) on the current span."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    if job is not None:
        span.set_attributes({"batch.job": job.name, "batch.endpoint": job.endpoint_name,
                             "batch.deployment": job.deployment_name})
    span.set_attributes({f"batch.{k}": v for k, v in extra.items() if v is not None})


@contextlib.contextmanager
def step_span(name: str, body: bytes | str, message: Any) -> Iterator[None]:
    """The span of one queue step, a child of the span that sent `body` (its trace context
    travels in the message); the host's own invocation span, if any, becomes a link."""
    try:
        data = json.loads(body)
    except ValueError:
        data = {}
    parent = propagate.extract({k: data[k] for k in CARRIER_KEYS
                                if isinstance(data, dict) and isinstance(data.get(k), str)})
    current = trace.get_current_span().get_span_context()
    links = [trace.Link(current)] if current.is_valid else []
    attributes = {"batch.job": getattr(message, "job", None),
                  "batch.mini_batch": getattr(message, "index", None)}
    with tracer.start_as_current_span(
            name, context=parent, kind=trace.SpanKind.CONSUMER, links=links,
            attributes={k: v for k, v in attributes.items() if v is not None}):
        yield


def traced(name: str, job_of: Callable[[Any], Any] | None = None) -> Callable:
    """Decorate a function to run in a span `name`; `job_of(result)` names the job record
    whose dimensions the span gets."""
    def wrap(function: Callable) -> Callable:
        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with tracer.start_as_current_span(name):
                result = function(*args, **kwargs)
                if job_of is not None:
                    annotate(job_of(result))
                return result
        return run
    return wrap


def phases(phase: str, spent: float, parts: dict[str, float] | None, began: float,
           ended: float) -> None:
    """Child spans of the current span for one stopwatch lap (perf_counter times): its
    `parts` one after the other from `began`, then `phase` for the rest up to `ended`."""
    parent = trace.get_current_span()
    if not parent.is_recording():
        return
    at = began
    for name, seconds in [*(parts or {}).items(), (phase, spent)]:
        if seconds <= 0:
            continue
        start = at if name != phase else max(at, ended - seconds)
        span = tracer.start_span(name, start_time=_ns(start))
        span.end(end_time=_ns(start + seconds))
        at = start + seconds


def _ns(perf: float) -> int:
    return int((perf + _EPOCH_OFFSET) * 1e9)

