"""The local host's semantics, each checked through a real host process, real HTTP and a
real Azurite (functions-host.md is the reference)."""

from __future__ import annotations

import base64
import json
import shutil
import time
import uuid
from pathlib import Path

import httpx
import pytest
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from devhost.testing import HostProcess, wait_for

SAMPLE_APP = Path(__file__).with_name("sample_app.py")
FAST = {"DEVHOST_BLOB_SCAN_SECONDS": "0.5",
        "AzureFunctionsJobHost__extensions__queues__maxDequeueCount": "3",
        "AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:00.5"}


def make_project(root: Path, conn: str, host_json: dict | None = None,
                 queue: str = "dh-work") -> Path:
    """A project serving sample_app.py; its queue trigger listens on `queue` (%DH_QUEUE%)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLE_APP, root / "function_app.py")
    (root / "host.json").write_text(json.dumps(host_json or {
        "version": "2.0", "extensions": {"http": {"routePrefix": "api"},
                                         "queues": {"visibilityTimeout": "00:00:00"}}}))
    (root / "local.settings.json").write_text(json.dumps(
        {"IsEncrypted": False, "Values": {"AzureWebJobsStorage": conn, "DH_QUEUE": queue,
                                          "FUNCTIONS_WORKER_RUNTIME": "python"}}))
    return root


@pytest.fixture(scope="module")
def host(azurite, tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("dhapp"), azurite.connection_string)
    with HostProcess(project, workers=2, env={**FAST, "DEVHOST_QUEUE_LEASE_SECONDS": "4"}) as h:
        yield h


@pytest.fixture(scope="module")
def blobs(azurite):
    return BlobServiceClient.from_connection_string(azurite.connection_string)


def send(conn: str, queue: str, body: str, encoding: str = "base64") -> None:
    client = QueueClient.from_connection_string(conn, queue)
    try:
        client.create_queue()
    except Exception:
        pass
    client.send_message(base64.b64encode(body.encode()).decode() if encoding == "base64"
                        else body)


def calls(blobs, kind: str, key: str) -> list[dict]:
    container = blobs.get_container_client("dhcalls")
    if not container.exists():
        return []
    return [json.loads(container.download_blob(b.name).readall())
            for b in container.list_blobs(name_starts_with=f"{kind}/{key}/")]


def outputs(conn: str, queue: str = "dh-work-out") -> list[str]:
    return [base64.b64decode(m).decode() for m in peek(conn, queue)]


def peek(conn: str, queue: str) -> list[str]:
    client = QueueClient.from_connection_string(conn, queue)
    try:
        return [m.content for m in client.peek_messages(max_messages=32)]
    except Exception:
        return []


# -- HTTP ----------------------------------------------------------------------------------
def test_routes_params_and_anonymous(host):
    assert httpx.get(f"{host.api}/hello/world").text == "hello world"
    assert httpx.get(f"{host.api}/files/a/b/c.txt").text == "a/b/c.txt"
    assert httpx.get(f"{host.api}/files").status_code == 200
    assert httpx.get(f"{host.url}/hello/world").status_code == 404  # routePrefix is required
    assert httpx.get(f"{host.api}/nothing-here").status_code == 404
    assert httpx.get(f"{host.api}/async-hello").text == "async"


def test_request_shape_and_function_key(host):
    url = f"{host.api}/echo/42/tail"
    r = httpx.post(url, params={"q": "1"}, content=b"payload",
                   headers={"x-functions-key": host.function_key, "x-test": "yes"})
    assert r.status_code == 201 and r.headers["content-type"].startswith("application/json")
    assert r.json() == {"method": "POST", "route": {"id": "42", "rest": "tail"},
                        "params": {"q": "1"}, "body": "payload", "header": "yes"}
    assert httpx.post(f"{host.api}/echo/7?code={host.function_key}").json()["route"] == {
        "id": "7"}
    assert httpx.post(f"{host.api}/echo/abc", headers={
        "x-functions-key": host.function_key}).status_code == 404  # {id:int}
    assert httpx.get(f"{host.api}/echo/7", headers={
        "x-functions-key": host.function_key}).status_code == 404  # method not allowed


@pytest.mark.parametrize("headers", [{}, {"x-functions-key": "wrong"}])
def test_missing_or_wrong_key_is_401_with_empty_body(host, headers):
    r = httpx.post(f"{host.api}/echo/1", headers=headers)
    assert r.status_code == 401 and r.content == b""


def test_admin_level_needs_the_master_key(host):
    assert httpx.get(f"{host.api}/admin-only", headers={
        "x-functions-key": host.function_key}).status_code == 401
    assert httpx.get(f"{host.api}/admin-only", headers={
        "x-functions-key": host.keys["masterKey"]}).text == "admin"


def test_none_or_exception_is_500(host):
    assert httpx.get(f"{host.api}/returns-none").status_code == 500
    assert httpx.get(f"{host.api}/raises").status_code == 500


# -- queues --------------------------------------------------------------------------------
def test_failing_message_runs_max_dequeue_count_times_then_poison(host, azurite, blobs):
    body = f"fail-{uuid.uuid4().hex[:8]}"
    send(azurite.connection_string, "dh-work", body)
    poisoned = wait_for(lambda: [m for m in peek(azurite.connection_string, "dh-work-poison")
                                 if base64.b64decode(m).decode() == body], 60,
                        message="the message in dh-work-poison")
    assert len(poisoned) == 1
    assert sorted(c["dequeue_count"] for c in calls(blobs, "queue", body)) == [1, 2, 3]


def test_flaky_message_succeeds_on_retry_and_output_is_written(host, azurite, blobs):
    body = f"flaky-{uuid.uuid4().hex[:8]}"
    send(azurite.connection_string, "dh-work", body)
    wait_for(lambda: f"done:{body}" in outputs(azurite.connection_string), 30,
             message="the output binding's message")
    assert sorted(c["dequeue_count"] for c in calls(blobs, "queue", body)) == [1, 2]


def test_output_binding_not_written_when_function_raises(host, azurite, blobs):
    body = f"out-raise-{uuid.uuid4().hex[:8]}"
    send(azurite.connection_string, "dh-work", body)
    wait_for(lambda: len(calls(blobs, "queue", body)) == 3, 60, message="three attempts")
    assert f"done:{body}" not in outputs(azurite.connection_string)


def test_messages_are_shared_by_workers_and_each_processed_once(host, azurite, blobs):
    bodies = [f"ok-{uuid.uuid4().hex[:8]}" for _ in range(20)]
    for body in bodies:
        send(azurite.connection_string, "dh-work", body)
    wait_for(lambda: all(calls(blobs, "queue", b) for b in bodies), 60,
             message="all 20 messages")
    records = [c for b in bodies for c in calls(blobs, "queue", b)]
    assert len(records) == 20
    assert len({r["pid"] for r in records}) >= 1


def test_killed_worker_message_reappears_with_higher_dequeue_count(host, azurite, blobs):
    body = f"slow-{uuid.uuid4().hex[:8]}"
    send(azurite.connection_string, "dh-work", body)
    first = wait_for(lambda: calls(blobs, "queue", body), 30, message="the slow start")[0]
    index = next(i for i, pid in host.worker_pids().items() if pid == first["pid"])
    host.kill_worker(index)
    wait_for(lambda: len(calls(blobs, "queue", body)) >= 2, 60,
             message="redelivery after the lease")
    assert sorted(c["dequeue_count"] for c in calls(blobs, "queue", body))[:2] == [1, 2]
    wait_for(lambda: host.worker_pids().get(index) not in (None, first["pid"]), 30,
             message="the supervisor to restart the worker")


# -- blob triggers -------------------------------------------------------------------------
def test_blob_fires_per_etag_and_not_again_after_restart(host, azurite, blobs, tmp_path):
    container = blobs.get_container_client("dh-inbox")
    if not container.exists():
        container.create_container()
    name = f"{uuid.uuid4().hex[:8]}.txt"
    key = f"dh-inbox_{name}"
    container.upload_blob(name, b"v1")
    wait_for(lambda: len(calls(blobs, "blob", key)) == 1, 30, message="first firing")
    container.upload_blob(name, b"v2", overwrite=True)
    wait_for(lambda: len(calls(blobs, "blob", key)) == 2, 30, message="firing on overwrite")
    assert sorted(c["data"] for c in calls(blobs, "blob", key)) == ["v1", "v2"]
    # a new host (same host id, same storage) finds the receipts and does not fire again
    host.stop()
    marker = f"{uuid.uuid4().hex[:8]}.txt"
    container.upload_blob(marker, b"after restart")
    host.start()
    wait_for(lambda: calls(blobs, "blob", f"dh-inbox_{marker}"), 30, message="new blob fires")
    assert len(calls(blobs, "blob", key)) == 2


# -- Event Grid ----------------------------------------------------------------------------
def eg(host, body, event_type: str | None = "Notification", function="on_event",
       key=None, hook="eventgrid"):
    headers = {"aeg-event-type": event_type} if event_type else {}
    name = function if hook == "eventgrid" else f"Host.Functions.{function}"
    code = key or host.keys["systemKeys"][f"{hook}_extension"]
    return httpx.post(f"{host.url}/runtime/webhooks/{hook}",
                      params={"functionName": name, "code": code}, json=body, headers=headers)


def test_eventgrid_handshake_and_errors(host):
    r = eg(host, [{"id": "1", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
                   "data": {"validationCode": "abc-123"}}], "SubscriptionValidation")
    assert r.status_code == 200 and r.json() == {"validationResponse": "abc-123"}
    assert eg(host, [], "Unsubscribe").status_code == 202
    assert eg(host, [{"id": "x"}], "Bogus").status_code == 400
    assert eg(host, [{"id": "x"}], None).status_code == 400
    assert eg(host, [{"id": "x"}], function="nope").status_code == 404
    assert eg(host, [{"id": "x"}], key="wrong").status_code == 401


def test_eventgrid_notifications_both_schemas(host, blobs):
    ids = [uuid.uuid4().hex for _ in range(3)]
    batch = [{"id": ids[0], "eventType": "Microsoft.Storage.BlobCreated", "subject": "/s/1",
              "topic": "/t", "eventTime": "2026-01-01T00:00:00Z", "dataVersion": "1",
              "data": {"api": "PutBlob"}},
             {"id": ids[1], "eventType": "Custom", "subject": "/s/2", "topic": "/t",
              "data": {"n": 2}, "eventTime": "2026-01-01T00:00:00Z", "dataVersion": "1"}]
    assert eg(host, batch).status_code == 202
    single = {"specversion": "1.0", "id": ids[2], "type": "Microsoft.Storage.BlobCreated",
              "source": "/subscriptions/x", "subject": "/s/3", "time": "2026-01-01T00:00:00Z",
              "data": {"api": "PutBlob"}}
    assert eg(host, single, None).status_code == 202  # CloudEvents: no aeg-event-type
    assert [calls(blobs, "event", i)[0]["type"] for i in ids] == [
        "Microsoft.Storage.BlobCreated", "Custom", "Microsoft.Storage.BlobCreated"]
    assert calls(blobs, "event", ids[2])[0]["topic"] == "/subscriptions/x"


def test_eventgrid_batch_with_a_failure_is_500(host):
    batch = [{"id": uuid.uuid4().hex, "eventType": "X", "subject": "/ok", "data": {}},
             {"id": uuid.uuid4().hex, "eventType": "X", "subject": "/fail", "data": {}}]
    assert eg(host, batch).status_code == 500


def test_cloudevents_abuse_protection(host):
    r = httpx.options(f"{host.url}/runtime/webhooks/eventgrid",
                      headers={"WebHook-Request-Origin": "eventgrid.azure.net"})
    assert r.status_code == 200 and r.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"


def test_blob_trigger_with_eventgrid_source(host, azurite, blobs):
    container = blobs.get_container_client("dh-eg")
    if not container.exists():
        container.create_container()
    name = f"{uuid.uuid4().hex[:8]}.txt"
    container.upload_blob(name, b"from event grid")
    event = {"id": uuid.uuid4().hex, "eventType": "Microsoft.Storage.BlobCreated",
             "subject": f"/blobServices/default/containers/dh-eg/blobs/{name}",
             "data": {"url": f"{container.url}/{name}"}}
    assert eg(host, [event], function="eg_blob", hook="blobs").status_code == 202
    assert calls(blobs, "egblob", f"dh-eg_{name}")[0]["data"] == "from event grid"


def test_message_encoding_none(azurite, blobs, tmp_path):
    project = make_project(tmp_path / "none", azurite.connection_string, queue="dh-plain")
    env = {**FAST, "AzureFunctionsJobHost__extensions__queues__messageEncoding": "none"}
    with HostProcess(project, env=env):
        body = f"plain-{uuid.uuid4().hex[:8]}"
        send(azurite.connection_string, "dh-plain", body, encoding="none")
        wait_for(lambda: calls(blobs, "queue", body), 30, message="the plain message")
        wait_for(lambda: f"done:{body}" in peek(azurite.connection_string, "dh-plain-out"), 30,
                 message="the plain output message")


def test_lease_is_renewed_while_the_function_runs(host, azurite, blobs):
    body = f"slow-{uuid.uuid4().hex[:8]}"
    send(azurite.connection_string, "dh-work", body)
    wait_for(lambda: calls(blobs, "queue", body), 30, message="the slow start")
    started = time.monotonic()
    # the lease is 4 s: without renewal the message would reappear during this wait
    wait_for(lambda: time.monotonic() - started > 9, 15, message="two lease periods")
    blobs.get_blob_client("dhcalls", f"release/{body}").upload_blob(b"")
    wait_for(lambda: f"done:{body}" in outputs(azurite.connection_string), 30,
             message="the output")
    assert [c["dequeue_count"] for c in calls(blobs, "queue", body)] == [1]


def test_function_timeout_restarts_the_worker_and_the_message_returns(azurite, blobs,
                                                                      tmp_path):
    project = make_project(tmp_path / "timeout", azurite.connection_string, {
        "version": "2.0", "functionTimeout": "00:00:02",
        "extensions": {"queues": {"visibilityTimeout": "00:00:00"}}}, queue="dh-timeout")
    env = {**FAST, "DEVHOST_QUEUE_LEASE_SECONDS": "3"}
    with HostProcess(project, env=env) as h:
        pid = h.worker_pids()[0]
        body = f"slow-{uuid.uuid4().hex[:8]}"  # never released: runs past functionTimeout
        send(azurite.connection_string, "dh-timeout", body)
        wait_for(lambda: len(calls(blobs, "queue", body)) >= 2, 60,
                 message="the message after the timeout")
        assert sorted(c["dequeue_count"] for c in calls(blobs, "queue", body))[:2] == [1, 2]
        assert h.worker_pids()[0] != pid
        assert "Timeout value of 2 s exceeded" in h.logs()
