"""Blob triggers (polling source with receipts, Event Grid source) through the real host."""

from __future__ import annotations

import base64
import json
import uuid

import httpx

from devhost.blobs import pattern
from devhost.testing import wait_for
from tests.devhost.support import calls, ensure_container, peek


def test_blob_fires_per_etag_and_not_again_after_restart(host, blobs):
    container = ensure_container(blobs, "dh-inbox")
    name = f"{uuid.uuid4().hex[:8]}.txt"
    key = f"dh-inbox_{name}"
    container.upload_blob(name, b"v1")
    wait_for(lambda: len(calls(blobs, "blob", key)) == 1, 30, message="first firing")
    container.upload_blob(name, b"v2", overwrite=True)
    wait_for(lambda: len(calls(blobs, "blob", key)) == 2, 30, message="firing on overwrite")
    seen = calls(blobs, "blob", key)
    assert sorted(c["data"] for c in seen) == ["v1", "v2"]
    assert {c["class"] for c in seen} == {"azure.functions.blob.InputStream"}
    assert all(c["length"] == 2 and c["uri"].endswith(f"/dh-inbox/{name}") for c in seen)
    receipts = [b.name for b in blobs.get_container_client("azure-webjobs-hosts").list_blobs(
        name_starts_with="blobreceipts/") if b.name.endswith(f"/dh-inbox/{name}")]
    assert len(receipts) == 2 and all("/Host.Functions.inbox/\"" in r for r in receipts)
    # a new host (same host id, same storage) finds the receipts and does not fire again
    host.stop()
    marker = f"{uuid.uuid4().hex[:8]}.txt"
    container.upload_blob(marker, b"after restart")
    host.start()
    wait_for(lambda: calls(blobs, "blob", f"dh-inbox_{marker}"), 30, message="new blob fires")
    assert len(calls(blobs, "blob", key)) == 2


def test_failing_blob_goes_to_poison_after_threshold(host, blobs, conn):
    container = ensure_container(blobs, "dh-inbox")
    name = f"fail-{uuid.uuid4().hex[:8]}.txt"
    container.upload_blob(name, b"bad")

    def poisoned():
        items = [json.loads(base64.b64decode(m)) for m in peek(conn,
                                                               "webjobs-blobtrigger-poison")]
        return [i for i in items if i["BlobName"] == name]

    item = wait_for(poisoned, 30, message="the work item in webjobs-blobtrigger-poison")[0]
    assert item["FunctionId"] == "Host.Functions.inbox" and item["ContainerName"] == "dh-inbox"
    assert len(calls(blobs, "blob", f"dh-inbox_{name}")) == 2  # poisonBlobThreshold
    # later scans do not pick it up again: a blob uploaded after it fires, it does not
    marker = f"{uuid.uuid4().hex[:8]}.txt"
    container.upload_blob(marker, b"next")
    wait_for(lambda: calls(blobs, "blob", f"dh-inbox_{marker}"), 30, message="the next blob")
    assert len(calls(blobs, "blob", f"dh-inbox_{name}")) == 2


def test_path_parameters_and_blob_output_binding(host, blobs):
    ensure_container(blobs, "dh-csv")
    folder = uuid.uuid4().hex[:8]
    blobs.get_blob_client("dh-csv", f"{folder}/rows.csv").upload_blob(b"a,b")
    blobs.get_blob_client("dh-csv", f"{folder}/notes.txt").upload_blob(b"not csv")
    out = blobs.get_blob_client("dh-out", f"{folder}-rows.txt")
    wait_for(out.exists, 30, message="the output blob named from {folder}-{file}")
    assert out.download_blob().readall() == b"A,B"
    assert not blobs.get_blob_client("dh-out", f"{folder}-notes.txt").exists()


def test_blob_path_patterns():
    container, regex = pattern("inbox/{name}")
    assert container == "inbox" and regex.match("a/b/c.txt")["name"] == "a/b/c.txt"
    container, regex = pattern("inbox/{folder}/{file}.csv")
    m = regex.match("2024/data.csv")
    assert (m["folder"], m["file"]) == ("2024", "data")
    assert regex.match("2024/data.txt") is None and regex.match("data.csv") is None


def test_blob_trigger_with_eventgrid_source(host, blobs):
    container = ensure_container(blobs, "dh-eg")
    name = f"{uuid.uuid4().hex[:8]}.txt"
    container.upload_blob(name, b"from event grid")
    event = {"id": uuid.uuid4().hex, "eventType": "Microsoft.Storage.BlobCreated",
             "subject": f"/blobServices/default/containers/dh-eg/blobs/{name}",
             "data": {"url": f"{container.url}/{name}"}}
    url = f"{host.url}/runtime/webhooks/blobs"
    params = {"functionName": "Host.Functions.eg_blob",
              "code": host.keys["systemKeys"]["blobs_extension"]}
    validation = httpx.post(url, params=params, headers={
        "aeg-event-type": "SubscriptionValidation"}, json=[{"data": {"validationCode": "v1"}}])
    assert validation.json() == {"validationResponse": "v1"}
    r = httpx.post(url, params=params, json=[event], headers={"aeg-event-type": "Notification"})
    assert r.status_code == 202
    assert calls(blobs, "egblob", f"dh-eg_{name}")[0]["data"] == "from event grid"
    # no scanning for the Event Grid source, no receipts
    assert not [b for b in blobs.get_container_client("azure-webjobs-hosts").list_blobs(
        name_starts_with="blobreceipts/") if "eg_blob" in b.name]
    wrong = httpx.post(url, params={**params, "code": host.keys["systemKeys"][
        "eventgrid_extension"]}, json=[event], headers={"aeg-event-type": "Notification"})
    assert wrong.status_code == 401


def test_eventgrid_source_gets_blob_created_from_the_stand_in_subscription(host, blobs):
    """Azurite emits no events: the host's scanner posts BlobCreated to its own blobs webhook,
    once per ETag, so a source=EventGrid trigger fires locally with no Event Grid."""
    container = ensure_container(blobs, "dh-eg")
    name = f"auto-{uuid.uuid4().hex[:8]}.txt"
    key = f"dh-eg_{name}"
    container.upload_blob(name, b"v1")
    wait_for(lambda: len(calls(blobs, "egblob", key)) == 1, 30, message="BlobCreated delivered")
    container.upload_blob(name, b"v2", overwrite=True)
    wait_for(lambda: len(calls(blobs, "egblob", key)) == 2, 30, message="a new ETag, an event")
    later = f"later-{uuid.uuid4().hex[:8]}.txt"
    container.upload_blob(later, b"later")
    wait_for(lambda: calls(blobs, "egblob", f"dh-eg_{later}"), 30, message="a later blob")
    assert sorted(c["data"] for c in calls(blobs, "egblob", key)) == ["v1", "v2"]  # no repeat
    hosts = blobs.get_container_client("azure-webjobs-hosts")
    deliveries = [b.name for b in hosts.list_blobs(name_starts_with="eventgrid-deliveries/")
                  if b.name.endswith(f"/dh-eg/{name}")]
    assert len(deliveries) == 2 and all("/Host.Functions.eg_blob/" in d for d in deliveries)
    assert not [b for b in hosts.list_blobs(name_starts_with="blobreceipts/")
                if "eg_blob" in b.name]  # the host itself keeps no receipts for this source
