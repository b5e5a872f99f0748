"""OpenTelemetry through the real local host: with `OTEL_TRACES_EXPORTER=console` the workers
print every span as it ends (and, with `OTEL_METRICS_EXPORTER=console`, their metrics every
half second); a real job's spans and metrics are parsed from that output. One job is one
trace: the trace context travels in the queue messages from invoke to the last step."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from client import BatchClient
from devhost import azurite as azurite_process
from devhost.testing import HostProcess, make_project, wait_for
from samples import data, models
from shared.storage.clients import Storage
from tests.e2e.conftest import put_deployment, put_endpoint, register

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """A host of its own on an Azurite of its own (so no other host takes its messages),
    its workers printing spans."""
    server = azurite_process.start(in_memory=True)
    project = make_project(tmp_path_factory.mktemp("traced") / "app", ROOT / "function_app.py",
                           server.connection_string, {"BATCH_INBOX_CONTAINER": "inbox"},
                           host_json=ROOT / "host.json")
    env = {"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "batch-e2e",
           "OTEL_METRICS_EXPORTER": "console", "OTEL_METRIC_EXPORT_INTERVAL": "500",
           "DEVHOST_QUEUE_LEASE_SECONDS": "5",
           "AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:00.5"}
    try:
        with HostProcess(project, workers=2, env=env) as host:
            yield host, Storage.from_connection_string(server.connection_string)
    finally:
        server.stop()


def spans(lines: list[str]) -> list[dict]:
    """The spans the console exporter printed (one JSON object per line)."""
    found = []
    for line in list(lines):
        if line.startswith("{") and '"trace_id"' in line:
            try:
                span = json.loads(line)
            except ValueError:
                continue
            if "context" in span and "attributes" in span:  # not a metrics export
                found.append(span)
    return found


def metrics_of(lines: list[str], endpoint: str) -> dict[str, dict]:
    """Per metric, what the workers' latest exports say for `endpoint`, added over the
    worker processes (each exports its own cumulative totals): {name: {attributes: total}}
    with a counter's value or a histogram's count."""
    latest: dict[str, dict] = {}
    for line in list(lines):
        if line.startswith("{") and '"resource_metrics"' in line:
            try:
                for rm in json.loads(line)["resource_metrics"]:
                    latest[rm["resource"]["attributes"]["service.instance.id"]] = rm
            except (ValueError, KeyError):
                continue
    totals: dict[str, dict] = {}
    for rm in latest.values():
        for scope in rm["scope_metrics"]:
            for metric in scope["metrics"]:
                for point in metric["data"]["data_points"]:
                    attributes = point["attributes"]
                    if attributes.get("batch.endpoint") != endpoint:
                        continue
                    key = tuple(sorted((k, v) for k, v in attributes.items()
                                       if k not in ("batch.endpoint", "batch.deployment")))
                    value = point.get("value", point.get("count"))
                    per = totals.setdefault(metric["name"], {})
                    per[key] = per.get(key, 0) + value
    return totals


def test_a_jobs_spans_carry_its_dimensions_and_form_one_trace(traced):
    host, store = traced
    with BatchClient(host.api, host.function_key) as api:
        register(api, "digits-otel", "1", models.digits_classifier())
        endpoint = "otel-" + uuid.uuid4().hex[:6]
        put_endpoint(api, endpoint)
        put_deployment(api, endpoint, "blue", {
            "model": "azureml:digits-otel:1", "scoring": models.DIGITS_SCORING,
            "settings": {"mini_batch_size": 2}, "resources": {"instance_count": 2}})
        folder = uuid.uuid4().hex
        for name, blob, _ in data.digit_pngs(6):
            store.container("workspaceblobstore").upload_blob(f"{folder}/{name}", blob)
        job = api.batch_endpoints.invoke(endpoint, input=f"workspaceblobstore/{folder}")
        assert api.jobs.stream(job.name, timeout=120).status == "Completed"

    def of_job():
        mine = [s for s in spans(host.lines)
                if s["attributes"].get("batch.job") == job.name]
        return mine if {"notify", "aggregate"} <= {s["name"] for s in mine} else None

    steps = wait_for(of_job, 30, message="the job's spans")
    by_name: dict[str, list[dict]] = {}
    for span in steps:
        by_name.setdefault(span["name"], []).append(span)
    (invoke,) = by_name["invoke"]
    scored = by_name["score mini-batch"]
    assert sorted(s["attributes"]["batch.mini_batch"] for s in scored) == [0, 1, 2]
    for span in steps:
        assert span["attributes"]["batch.endpoint"] == endpoint, span["name"]
        assert span["attributes"]["batch.deployment"] == "blue", span["name"]
    assert {s["attributes"]["batch.items"] for s in scored} == {2}
    assert {"plan page", "aggregate", "notify"} <= set(by_name)

    # one trace, linked across every queue hop by the context the messages carried
    trace_id = invoke["context"]["trace_id"]
    every = [s for s in spans(host.lines) if s["context"]["trace_id"] == trace_id]
    ids = {s["context"]["span_id"]: s for s in every}
    assert invoke["parent_id"] is None
    for span in steps:
        assert span["context"]["trace_id"] == trace_id, span["name"]
        if span is not invoke:
            assert span["parent_id"] in ids, f"{span['name']}'s parent is not in the trace"
    assert all(ids[s["parent_id"]]["name"] in ("invoke", "plan page")
               for s in by_name["plan page"])
    # the mini-batch phases are child spans of their mini-batch
    for phase in ("download", "decode", "inference", "write"):
        children = [s for s in every if s["name"] == phase]
        assert len(children) == 3, phase
        assert {ids[c["parent_id"]]["name"] for c in children} == {"score mini-batch"}

    # the metrics, by endpoint and deployment: 6 items scored in 3 mini-batches, one job
    expected = {"batch.items": {(("outcome", "scored"),): 6},
                "batch.mini_batch.duration": {(): 3}, "batch.queue.age": {(): 3},
                "batch.job.duration": {(("status", "Completed"),): 1}}
    wait_for(lambda: metrics_of(host.lines, endpoint) == expected, 30,
             message=f"the metrics {expected}, not {metrics_of(host.lines, endpoint)}")
