"""OpenTelemetry for the service: set up once per worker process, spans with job dimensions,
W3C trace context carried in queue messages so one job is one trace, and a few metrics.

Where spans go (`configure`, called once when function_app.py is imported):
* `APPLICATIONINSIGHTS_CONNECTION_STRING` set (Azure): azure-monitor-opentelemetry's
  `configure_azure_monitor`, signed in with the app's identity (`AZURE_CLIENT_ID`) since the
  Application Insights resource refuses local auth; the `batch.*` logs go with the spans;
* else the standard `OTEL_TRACES_EXPORTER` and `OTEL_METRICS_EXPORTER` (`console`, `otlp`
  over HTTP/protobuf to `OTEL_EXPORTER_OTLP_ENDPOINT`), with the SDK's own reading of
  `OTEL_RESOURCE_ATTRIBUTES`, the sampler (`OTEL_TRACES_SAMPLER`, `..._ARG`) and
  `OTEL_METRIC_EXPORT_INTERVAL`;
* else nowhere: the API's no-op tracer and meter, so they cost next to nothing.
Sampling is parent-based by default, so a job's trace is kept or dropped whole. The Azure
SDKs' own loggers are set to WARNING (at INFO they log every HTTP request).

Spans: `invoke`, then one per queue step (`plan page`, `score mini-batch` with `download`,
`decode`, `inference`, ... children from the mini-batch's stopwatch, `aggregate`, `notify`,
...), each a child of the span that sent its message. Attributes: `batch.job`,
`batch.endpoint`, `batch.deployment`, and `batch.mini_batch`, `batch.items`,
`batch.items_failed` where they apply. Metrics, by endpoint and deployment (never by job:
that would be a series per job): `batch.items` (counter, `outcome` scored|failed),
`batch.mini_batch.duration` and `batch.queue.age` (seconds a mini-batch message waited),
`batch.job.duration` (created to ended, with the final `status`). docs/operations.md has the
KQL that reads them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from opentelemetry import metrics, propagate, trace

log = logging.getLogger("batch.telemetry")
tracer = trace.get_tracer("batch-endpoints")
meter = metrics.get_meter("batch-endpoints")
ITEMS = meter.create_counter("batch.items", unit="{item}",
                             description="Items scored or failed")
MINI_BATCH_SECONDS = meter.create_histogram("batch.mini_batch.duration", unit="s",
                                            description="One mini-batch, read to committed")
QUEUE_AGE = meter.create_histogram("batch.queue.age", unit="s",
                                   description="How long a mini-batch message waited")
JOB_SECONDS = meter.create_histogram("batch.job.duration", unit="s",
                                     description="A job, created to ended")
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

        try:
            configure_azure_monitor(
                credential=_identity(), logger_name="batch",
                instrumentation_options={n: {"enabled": False}
                                         for n in _NOISY_INSTRUMENTATIONS})
        except Exception:  # telemetry must not keep the app from loading: said loudly
            log.exception("Azure Monitor OpenTelemetry could not be set up; no telemetry")
            return "failed"
        return "azure-monitor"
    traces, metered = _exporters("OTEL_TRACES_EXPORTER"), _exporters("OTEL_METRICS_EXPORTER")
    if not traces and not metered:
        return "none"
    from opentelemetry.sdk.resources import Resource

    resource = Resource.create({  # one instance id per worker process: series stay apart
        "service.name": os.environ.get("OTEL_SERVICE_NAME", "batch-endpoints"),
        "service.instance.id": uuid.uuid4().hex})
    if traces:
        trace.set_tracer_provider(_tracer_provider(resource, traces))
    if metered:
        metrics.set_meter_provider(_meter_provider(resource, metered))
    return ",".join(traces + [f"metrics:{n}" for n in metered])


def _exporters(setting: str) -> list[str]:
    names = [n.strip() for n in os.environ.get(setting, "").split(",")
             if n.strip() and n.strip() != "none"]
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    for name in names:
        if name not in ("console", "otlp") or (name == "otlp" and protocol != "http/protobuf"):
            log.error("%s %r is not supported here: use console, or otlp with "
                      "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", setting, name)
    return [n for n in names if n == "console" or (n == "otlp" and protocol == "http/protobuf")]


def _tracer_provider(resource, names: list[str]):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )

    provider = TracerProvider(resource=resource)
    for name in names:
        if name == "console":  # printed as each span ends: nothing waits in a buffer
            provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(
                formatter=lambda span: span.to_json(indent=None) + "\n")))
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def _meter_provider(resource, names: list[str]):
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import (
        ConsoleMetricExporter,
        PeriodicExportingMetricReader,
    )

    readers = []
    for name in names:
        if name == "console":
            exporter = ConsoleMetricExporter(
                formatter=lambda data: data.to_json(indent=None) + "\n")
        else:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter,
            )

            exporter = OTLPMetricExporter()
        readers.append(PeriodicExportingMetricReader(exporter))  # OTEL_METRIC_EXPORT_INTERVAL
    return MeterProvider(resource=resource, metric_readers=readers)


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


def _dimensions(job: Any) -> dict[str, str]:
    return {"batch.endpoint": job.endpoint_name, "batch.deployment": job.deployment_name}


def mini_batch_scored(job: Any, files: int, scored: int, failed: int, seconds: float,
                      queued: float) -> None:
    """A mini-batch's span attributes (its files, its failed items) and metrics (items: the
    rows a tabular file has, one per file otherwise)."""
    annotate(items=files, items_failed=failed)
    where = _dimensions(job)
    ITEMS.add(scored, {**where, "outcome": "scored"})
    if failed:
        ITEMS.add(failed, {**where, "outcome": "failed"})
    MINI_BATCH_SECONDS.record(seconds, where)
    QUEUE_AGE.record(queued, where)


def job_ended(job: Any, seconds: float) -> None:
    JOB_SECONDS.record(seconds, {**_dimensions(job), "status": str(job.status)})


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

