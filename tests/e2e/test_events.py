"""Event-driven jobs through the local host: blob drops, Event Grid, job events out."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from devhost.testing import wait_for
from samples import data
from tests.e2e.conftest import output, put_deployment, put_endpoint


def _input_path(job) -> str:
    """The path of a job's file input, whatever the invoke named it (jobs of other tests on
    the shared endpoint name theirs)."""
    return next(i["path"] for i in job.inputs.values() if "path" in i)


def jobs_for(api, endpoint):
    return api.batch_endpoints.list_jobs(endpoint)


def test_200_files_and_marker_make_one_job(api, store, digits_endpoint):
    folder = f"{digits_endpoint}/drop-{uuid.uuid4().hex[:6]}"
    inbox = store.container("inbox")
    for name, blob, _ in data.digit_pngs(200):
        inbox.upload_blob(f"{folder}/{name}", blob)
    inbox.upload_blob(f"{folder}/_READY", b"")
    job = wait_for(lambda: [j for j in jobs_for(api, digits_endpoint)
                            if _input_path(j).endswith(folder)], 60,
                   message="the drop's job")[0]
    done = api.jobs.stream(job.name, timeout=180)
    assert done.started_by == "blob-drop" and done.progress["files"] == 200
    assert len(output(api, job.name).decode().splitlines()) == 201
    same = [j for j in jobs_for(api, digits_endpoint)
            if _input_path(j).endswith(folder)]
    assert len(same) == 1


def test_quiet_window_groups_a_folder(api, store, digits_endpoint):
    folder = f"{digits_endpoint}/quiet-{uuid.uuid4().hex[:6]}"
    inbox = store.container("inbox")
    for name, blob, _ in data.digit_pngs(7):
        inbox.upload_blob(f"{folder}/{name}", blob)
    job = wait_for(lambda: [j for j in jobs_for(api, digits_endpoint)
                            if _input_path(j).endswith(folder)], 60,
                   message="the quiet-window job")[0]
    assert api.jobs.stream(job.name, timeout=60).progress["files"] == 7


def eventgrid(service, events, schema="eventgrid"):
    headers = {"aeg-event-type": "Notification"} if schema == "eventgrid" else {}
    return httpx.post(f"{service.url}/runtime/webhooks/eventgrid", json=events, headers=headers,
                      params={"functionName": "storage_blob_created",
                              "code": service.keys["systemKeys"]["eventgrid_extension"]})


def blob_created(store, container, name, etag, schema):
    url = f"{store.account.blob_endpoint}/{container}/{name}"
    subject = f"/blobServices/default/containers/{container}/blobs/{name}"
    body = {"api": "PutBlob", "eTag": etag, "url": url, "contentType": "image/png",
            "blobType": "BlockBlob"}
    if schema == "cloudevents":
        return {"specversion": "1.0", "type": "Microsoft.Storage.BlobCreated", "id":
                uuid.uuid4().hex, "source": "/subscriptions/s/storageAccounts/devstoreaccount1",
                "subject": subject, "time": "2026-11-25T00:00:00Z", "data": body}
    return {"id": uuid.uuid4().hex, "eventType": "Microsoft.Storage.BlobCreated",
            "topic": "/subscriptions/s/storageAccounts/devstoreaccount1", "subject": subject,
            "eventTime": "2026-11-25T00:00:00Z", "dataVersion": "", "metadataVersion": "1",
            "data": body}


@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
def test_eventgrid_blob_created_events_start_one_job(service, api, store, digits_endpoint,
                                                      schema):
    # the blob trigger sees these blobs too: both sources go through the same (blob, ETag)
    # de-duplication, so however many deliveries arrive there is one job
    folder = f"{digits_endpoint}/eg-{uuid.uuid4().hex[:6]}"
    inbox = store.container("inbox")
    events = []
    for name, blob, _ in data.digit_pngs(4):
        etag = inbox.upload_blob(f"{folder}/{name}", blob).get_blob_properties().etag
        events.append(blob_created(store, "inbox", f"{folder}/{name}", etag, schema))
    marker = inbox.upload_blob(f"{folder}/_READY", b"").get_blob_properties().etag
    events.append(blob_created(store, "inbox", f"{folder}/_READY", marker, schema))
    irrelevant = {**events[0], "eventType": "Microsoft.Storage.BlobDeleted",
                  "type": "Microsoft.Storage.BlobDeleted", "id": uuid.uuid4().hex}
    body = events + [irrelevant] if schema == "eventgrid" else events[0]
    assert eventgrid(service, body, schema).status_code == 202
    if schema == "cloudevents":
        for event in events[1:]:
            assert eventgrid(service, event, schema).status_code == 202
    assert eventgrid(service, events).status_code == 202  # all again, as one batch
    jobs = wait_for(lambda: [j for j in jobs_for(api, digits_endpoint)
                             if _input_path(j).endswith(folder)], 60,
                    message="the event's job")
    done = api.jobs.stream(jobs[0].name, timeout=60)
    assert done.progress["files"] == 4
    assert len([j for j in jobs_for(api, digits_endpoint)
                if _input_path(j).endswith(folder)]) == 1


def test_drop_for_unknown_endpoint_is_recorded(service, store):
    name = f"nobody-{uuid.uuid4().hex[:6]}/f/a.png"
    store.container("inbox").upload_blob(name, b"x")
    rejected = wait_for(lambda: [r for r in httpx.get(
        f"{service.api}/drops/rejected", headers={"x-functions-key": service.function_key}
    ).json()["value"] if r["blob"] == name], 30, message="the rejection record")
    assert "no batch endpoint" in rejected[0]["reason"]
    assert "rejected" in service.logs()


def test_job_event_delivered_to_webhook(api, store, digits_endpoint):
    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    name = "hooked-" + uuid.uuid4().hex[:6]
    try:
        endpoint = api.batch_endpoints.get(digits_endpoint)
        deployment = api.batch_deployments.get("blue", digits_endpoint)
        put_endpoint(api, name, {"notifications": {
            "webhook_url": f"http://127.0.0.1:{server.server_port}/events"}})
        put_deployment(api, name, "blue", {
            "model": deployment.model, "scoring": deployment.scoring})
        folder = uuid.uuid4().hex
        for n, blob, _ in data.digit_pngs(3):
            store.container("workspaceblobstore").upload_blob(f"{folder}/{n}", blob)
        job = api.batch_endpoints.invoke(name, input=f"workspaceblobstore/{folder}")
        api.jobs.stream(job.name, timeout=60)
        wait_for(lambda: received, 30, message="the job event")
    finally:
        server.shutdown()
    assert endpoint.name == digits_endpoint
    event = received[0]
    assert event["type"] == "BatchEndpoints.Job.Completed"
    assert event["data"]["job_name"] == job.name and event["data"]["endpoint_name"] == name
    assert event["data"]["deployment_name"] == "blue"


def test_job_event_survives_a_webhook_that_fails_six_times(service, api, store,
                                                          digits_endpoint):
    """Retried with growing visibility delays (1 s, 2 s, 2 s, ... here), through the real host
    and queues, until the seventh try is accepted; each failure is on the job's log."""
    attempts: list[float] = []

    class Flaky(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            attempts.append(time.monotonic())
            self.send_response(503 if len(attempts) <= 6 else 202)
            self.end_headers()
            if len(attempts) > 6:
                accepted.append(body)

        def log_message(self, *args):
            pass

    accepted: list[dict] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    name = "flaky-" + uuid.uuid4().hex[:6]
    try:
        deployment = api.batch_deployments.get("blue", digits_endpoint)
        put_endpoint(api, name, {"notifications": {
            "webhook_url": f"http://127.0.0.1:{server.server_port}/events"}})
        put_deployment(api, name, "blue", {
            "model": deployment.model, "scoring": deployment.scoring})
        folder = uuid.uuid4().hex
        for n, blob, _ in data.digit_pngs(2):
            store.container("workspaceblobstore").upload_blob(f"{folder}/{n}", blob)
        job = api.batch_endpoints.invoke(name, input=f"workspaceblobstore/{folder}")
        api.jobs.stream(job.name, timeout=60)
        wait_for(lambda: accepted, 120, message="the event after six refusals")
    finally:
        server.shutdown()
    assert len(attempts) == 7 and accepted[0]["id"] == f"{job.name}/Completed"
    gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    assert min(gaps) >= 0.9, gaps  # each retry waited out its delay
    logs = httpx.get(f"{service.api}/jobs/{job.name}/logs",
                     headers={"x-functions-key": service.function_key}).text
    assert "attempt 6 of 8 failed (webhook: EventDeliveryError: webhook answered 503)" in logs
    assert "Undelivered" not in logs


def test_subscription_validation_for_the_product_function(service):
    r = httpx.post(f"{service.url}/runtime/webhooks/eventgrid",
                   params={"functionName": "storage_blob_created",
                           "code": service.keys["systemKeys"]["eventgrid_extension"]},
                   headers={"aeg-event-type": "SubscriptionValidation"},
                   json=[{"id": "1", "eventType":
                          "Microsoft.EventGrid.SubscriptionValidationEvent",
                          "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}}])
    assert r.json() == {"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}
