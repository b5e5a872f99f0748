"""Blob drops, Event Grid BlobCreated and job events out, through the plain functions the
triggers call (real Azurite, real ONNX Runtime). tests/e2e does the same through the host."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared.events import drops, eventgrid
from shared.jobs import jobindex, manifests, records
from shared.jobs.lifecycle import JobStatus
from shared.resources import deployments, endpoints, models
from tests import builders
from tests.inprocess import InProcessHost


@pytest.fixture
def endpoint(storage):
    name = "drop-" + uuid.uuid4().hex[:8]
    version = uuid.uuid4().hex[:8]
    models.register(storage, "digits", version, builders.digits_model())
    endpoints.create_or_update(storage, name, {})
    deployments.create_or_update(storage, name, "blue", {
        "model": f"digits:{version}", "scoring": builders.DIGITS_SCORING,
        "settings": {"mini_batch_size": 50}, "resources": {"instance_count": 2}})
    return name


def drop(storage, path: str, data: bytes, source="blob-drop") -> tuple[drops.BlobCreated, str]:
    client = storage.container("inbox").upload_blob(path, data, overwrite=True)
    blob = drops.BlobCreated("inbox", path, client.get_blob_properties().etag, source)
    return blob, drops.on_blob_created(storage, blob)


def jobs_of(storage, endpoint):
    return list(jobindex.all_jobs(storage, endpoint=endpoint))


def test_200_files_and_a_marker_make_exactly_one_job(storage, endpoint, monkeypatch):
    monkeypatch.setenv("BATCH_DROP_QUIET_SECONDS", "3600")  # only the marker may start it
    files = builders.digit_pngs(200)
    arrivals = [drop(storage, f"{endpoint}/batch-1/{name}", data)[0] for name, data, _ in files]
    marker, outcome = drop(storage, f"{endpoint}/batch-1/_READY", b"")
    assert outcome.startswith("job: ")
    # redelivered triggers and a repeated marker change nothing
    assert drops.on_blob_created(storage, arrivals[0]) == "duplicate"
    assert drops.on_blob_created(storage, marker) == "duplicate"
    InProcessHost(storage).run_until_idle()
    (job,) = jobs_of(storage, endpoint)
    assert job.status == JobStatus.COMPLETED and job.files_total == 200
    assert job.started_by == "blob-drop"
    assert job.output["container"] == "workspaceblobstore"
    assert job.output["folder"] == f"{endpoint}/batch-1/{job.name}"


def test_quiet_window_groups_arrivals(storage, endpoint, monkeypatch):
    monkeypatch.setenv("BATCH_DROP_QUIET_SECONDS", "1")
    for name, data, _ in builders.digit_pngs(5):
        assert drop(storage, f"{endpoint}/q/{name}", data)[1] == "recorded"
    host = InProcessHost(storage)
    deadline = time.monotonic() + 30
    while not jobs_of(storage, endpoint) and time.monotonic() < deadline:
        host.run_until_idle()
    host.run_until_idle()
    (job,) = jobs_of(storage, endpoint)
    assert job.files_total == 5
    # a later file (new blob version) becomes a job of its own
    name, data, _ = builders.digit_pngs(1, start=7)[0]
    drop(storage, f"{endpoint}/q/{name}", data)
    deadline = time.monotonic() + 30
    while len(jobs_of(storage, endpoint)) < 2 and time.monotonic() < deadline:
        host.run_until_idle()
    assert sorted(j.files_total for j in jobs_of(storage, endpoint)) == [1, 5]


def test_unknown_endpoint_and_missing_default_are_recorded(storage, endpoint):
    blob, outcome = drop(storage, "no-such-endpoint/x/a.png", b"x")
    assert outcome.startswith("rejected")
    endpoints.create_or_update(storage, "nodefault-" + endpoint[-8:], {})
    _, outcome2 = drop(storage, f"nodefault-{endpoint[-8:]}/x/a.png", b"x")
    assert "no default deployment" in outcome2
    rejected = {r["blob"]: r["reason"] for r in drops.list_rejected(storage).items}
    assert "no batch endpoint" in rejected["no-such-endpoint/x/a.png"]


def test_eventgrid_blob_created_schemas(storage, endpoint):
    url = f"{storage.account.blob_endpoint}/inbox/{endpoint}/f/a.png"
    subject = f"/blobServices/default/containers/inbox/blobs/{endpoint}/f/a.png"
    data = {"api": "PutBlob", "eTag": "0x8D", "url": url, "blobType": "BlockBlob"}
    blob = eventgrid.blob_created(storage, "Microsoft.Storage.BlobCreated", subject, data)
    assert (blob.container, blob.name, blob.etag) == ("inbox", f"{endpoint}/f/a.png", "0x8D")
    assert eventgrid.blob_created(storage, "Microsoft.Storage.BlobDeleted", subject, data) is None
    other = {**data, "url": "https://other.blob.core.windows.net/inbox/x"}
    assert eventgrid.blob_created(storage, "Microsoft.Storage.BlobCreated", subject, other) is None


class _Receiver(BaseHTTPRequestHandler):
    received: list = []
    fail_first = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(503)
        else:
            type(self).received.append((self.headers["content-type"], json.loads(body)))
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_job_end_event_reaches_the_endpoint_webhook_with_retry(storage, endpoint, monkeypatch):
    monkeypatch.setenv("BATCH_ALLOW_LOOPBACK_WEBHOOKS", "true")  # the receiver is on 127.0.0.1
    _Receiver.received, _Receiver.fail_first = [], 1
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoints.create_or_update(storage, endpoint, {"notifications": {
            "webhook_url": f"http://127.0.0.1:{server.server_port}/hook"}})
        container = storage.container("workspaceblobstore")
        folder = uuid.uuid4().hex
        for name, data, _ in builders.digit_pngs(3):
            container.upload_blob(f"{folder}/{name}", data)
        from shared.jobs import invoke

        job, _ = invoke.invoke(storage, endpoint, invoke.parse_request({"inputs": {"x": {
            "path": f"workspaceblobstore/{folder}"}}}))
        InProcessHost(storage).run_until_idle()  # first delivery fails (503), retried
    finally:
        server.shutdown()
    (content_type, event), = _Receiver.received
    assert content_type == "application/cloudevents+json"
    assert event["type"] == "BatchEndpoints.Job.Completed"
    assert event["id"] == f"{job.name}/Completed"
    assert event["data"]["job_name"] == job.name
    assert event["data"]["items"] == {"succeeded": 3, "failed": 0, "canceled": 0}
    assert event["data"]["outputs"]["score"].endswith("predictions.csv")
    assert records.load(storage, job.name).events_state == "delivered"


def test_deployment_segment_and_manifest(storage, endpoint, monkeypatch):
    monkeypatch.setenv("BATCH_DROP_QUIET_SECONDS", "3600")
    models_version = deployments.get(storage, endpoint, "blue")["model"]
    deployments.create_or_update(storage, endpoint, "green", {
        "model": models_version, "scoring": builders.DIGITS_SCORING})
    files = builders.digit_pngs(4)
    for name, blob, _ in files:
        drop(storage, f"{endpoint}/green/m/{name}", blob)
    manifest = json.dumps({"files": [files[0][0], files[2][0]]}).encode()
    _, outcome = drop(storage, f"{endpoint}/green/m/_manifest.json", manifest)
    assert outcome.startswith("job: ")
    InProcessHost(storage).run_until_idle()
    (job,) = jobs_of(storage, endpoint)
    assert job.deployment_name == "green" and job.files_total == 2


def test_job_event_to_event_grid_topic(storage, endpoint, monkeypatch):
    _Receiver.received, _Receiver.fail_first = [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("BATCH_EVENTGRID_TOPIC_ENDPOINT",
                       f"http://127.0.0.1:{server.server_port}/api/events")
    monkeypatch.setenv("BATCH_EVENTGRID_TOPIC_KEY", "topic-key")
    try:
        folder = uuid.uuid4().hex
        for name, blob, _ in builders.digit_pngs(2):
            storage.container("workspaceblobstore").upload_blob(f"{folder}/{name}", blob)
        from shared.jobs import invoke

        job, _ = invoke.invoke(storage, endpoint, invoke.parse_request({"inputs": {"x": {
            "path": f"workspaceblobstore/{folder}"}}}))
        InProcessHost(storage).run_until_idle()
    finally:
        server.shutdown()
    (content_type, batch), = _Receiver.received
    assert content_type.startswith("application/cloudevents-batch+json")
    assert batch[0]["type"] == "BatchEndpoints.Job.Completed"
    assert batch[0]["data"]["job_name"] == job.name


def test_quiet_check_reads_the_folder_not_just_deliveries(storage, endpoint, monkeypatch):
    """Deliveries lag uploads: the quiet check includes files whose trigger has not run yet,
    and leaves a folder with a marker to the marker (whose delivery may also lag)."""
    monkeypatch.setenv("BATCH_DROP_QUIET_SECONDS", "1")
    from shared.events.drops import QuietCheck, quiet_check

    files = builders.digit_pngs(3)
    inbox = storage.container("inbox")
    for name, blob, _ in files:
        inbox.upload_blob(f"{endpoint}/lag/{name}", blob)
    first = drops.BlobCreated("inbox", f"{endpoint}/lag/{files[0][0]}",
                              inbox.get_blob_client(f"{endpoint}/lag/{files[0][0]}")
                              .get_blob_properties().etag, "blob-drop")
    drops.on_blob_created(storage, first)  # only one of three deliveries arrived
    group = drops.parse_target(storage, first.name).group
    outcome = wait_for_outcome(lambda: quiet_check(storage, QuietCheck(group)))
    assert outcome.startswith("job: ")
    (job,) = jobs_of(storage, endpoint)
    assert len(list(manifests.entries(storage, job.input["manifest"]))) == 3

    for name, blob, _ in files:
        inbox.upload_blob(f"{endpoint}/marked/{name}", blob)
    marker = inbox.upload_blob(f"{endpoint}/marked/_READY", b"")
    arrival = drop(storage, f"{endpoint}/marked/{files[0][0]}", files[0][1])[0]
    group = drops.parse_target(storage, arrival.name).group
    assert wait_for_outcome(lambda: quiet_check(storage, QuietCheck(group)),
                            until="a marker") == "a marker owns this folder"
    outcome = drops.on_blob_created(storage, drops.BlobCreated(
        "inbox", f"{endpoint}/marked/_READY", marker.get_blob_properties().etag, "blob-drop"))
    assert outcome.startswith("job: ")
    assert len(jobs_of(storage, endpoint)) == 2


def wait_for_outcome(check, until: str = "job: ", timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        outcome = check()
        if outcome.startswith(until) or time.monotonic() > deadline:
            return outcome
        time.sleep(0.2)
