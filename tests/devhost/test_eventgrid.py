"""The Event Grid webhook through the real host: handshake, notifications, errors, keys."""

from __future__ import annotations

import uuid

import httpx

from tests.devhost.support import calls


def eg(host, body, event_type: str | None = "Notification", function="on_event", key=None):
    headers = {"aeg-event-type": event_type} if event_type else {}
    code = key or host.keys["systemKeys"]["eventgrid_extension"]
    return httpx.post(f"{host.url}/runtime/webhooks/eventgrid",
                      params={"functionName": function, "code": code}, json=body,
                      headers=headers)


def test_handshake_unsubscribe_and_errors(host):
    r = eg(host, [{"id": "1", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
                   "data": {"validationCode": "abc-123"}}], "SubscriptionValidation")
    assert r.status_code == 200 and r.json() == {"validationResponse": "abc-123"}
    assert eg(host, [], "Unsubscribe").status_code == 202
    assert eg(host, [{"id": "x"}], "Bogus").status_code == 400
    assert eg(host, [{"id": "x"}], None).status_code == 400  # no header, not CloudEvents
    assert eg(host, [{"id": "x"}], function="nope").status_code == 404


def test_keys(host):
    event = [{"id": uuid.uuid4().hex, "eventType": "X", "subject": "/k", "data": {}}]
    assert eg(host, event, key="wrong").status_code == 401
    assert eg(host, event, key=host.function_key).status_code == 401  # not a system key
    assert eg(host, event, key=host.master_key).status_code == 202
    r = httpx.post(f"{host.url}/runtime/webhooks/eventgrid", params={"functionName": "on_event"},
                   json=event, headers={"aeg-event-type": "Notification"})
    assert r.status_code == 401 and r.content == b""


def test_notifications_array_single_and_cloudevents(host, blobs):
    ids = [uuid.uuid4().hex for _ in range(4)]
    batch = [{"id": ids[0], "eventType": "Microsoft.Storage.BlobCreated", "subject": "/s/1",
              "topic": "/t", "eventTime": "2026-01-01T00:00:00Z", "dataVersion": "1",
              "data": {"api": "PutBlob"}},
             {"id": ids[1], "eventType": "Custom", "subject": "/s/2", "topic": "/t",
              "data": {"n": 2}, "eventTime": "2026-01-01T00:00:00Z", "dataVersion": "1"}]
    assert eg(host, batch).status_code == 202
    single = {"id": ids[2], "eventType": "Single", "subject": "/s/3", "topic": "/t",
              "data": {"n": 3}, "eventTime": "2026-01-01T00:00:00Z", "dataVersion": "1"}
    assert eg(host, single).status_code == 202
    cloud = {"specversion": "1.0", "id": ids[3], "type": "Microsoft.Storage.BlobCreated",
             "source": "/subscriptions/x", "subject": "/s/4", "time": "2026-01-01T00:00:00Z",
             "data": {"api": "PutBlob"}}
    assert eg(host, cloud, None).status_code == 202  # CloudEvents: no aeg-event-type
    assert [calls(blobs, "event", i)[0]["type"] for i in ids] == [
        "Microsoft.Storage.BlobCreated", "Custom", "Single", "Microsoft.Storage.BlobCreated"]
    assert calls(blobs, "event", ids[1])[0] == {"class": "EventGridEvent", "type": "Custom",
                                                "subject": "/s/2", "topic": "/t",
                                                "data": {"n": 2}}
    cloud_call = calls(blobs, "event", ids[3])[0]
    assert cloud_call["class"] == "CloudEvent" and cloud_call["topic"] == "/subscriptions/x"


def test_batch_with_a_failure_is_500(host, blobs):
    ok_id = uuid.uuid4().hex
    batch = [{"id": ok_id, "eventType": "X", "subject": "/ok", "data": {}},
             {"id": uuid.uuid4().hex, "eventType": "X", "subject": "/fail", "data": {}}]
    assert eg(host, batch).status_code == 500  # Event Grid resends the whole batch
    assert calls(blobs, "event", ok_id)  # every event was still invoked


def test_cloudevents_abuse_protection(host):
    r = httpx.options(f"{host.url}/runtime/webhooks/eventgrid",
                      headers={"WebHook-Request-Origin": "eventgrid.azure.net"})
    assert r.status_code == 200 and r.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"
