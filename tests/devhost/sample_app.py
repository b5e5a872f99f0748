"""A small function app exercising every trigger the local host serves (used by the tests).

Invocations are recorded as blobs in the `dhcalls` container, so tests can observe them
through storage like any other side effect.
"""

import json
import os
import time
import uuid

import azure.functions as func
from azure.storage.blob import BlobServiceClient

from shared.storage.connection import expand

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


def kind_of(value: object) -> str:
    """The class a binding value has, as the worker's converters make it."""
    return f"{type(value).__module__}.{type(value).__qualname__}"


def record(kind: str, key: str, payload: dict) -> None:
    service = BlobServiceClient.from_connection_string(expand(os.environ["AzureWebJobsStorage"]))
    container = service.get_container_client("dhcalls")
    if not container.exists():
        try:
            container.create_container()
        except Exception:
            pass
    container.upload_blob(f"{kind}/{key}/{uuid.uuid4()}", json.dumps(payload), overwrite=True)


@app.route(route="hello/{name}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"hello {req.route_params['name']}")


@app.route(route="echo/{id:int}/{rest?}", methods=["POST", "PUT"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({
        "method": req.method, "route": dict(req.route_params), "params": dict(req.params),
        "body": req.get_body().decode(), "header": req.headers.get("x-test"),
        "class": kind_of(req)}),
        mimetype="application/json", status_code=201)


@app.route(route="files/{*path}", auth_level=func.AuthLevel.ANONYMOUS)
def files(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.route_params.get("path", ""))


@app.route(route="admin-only", auth_level=func.AuthLevel.ADMIN)
def admin_only(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("admin")


@app.route(route="returns-none", auth_level=func.AuthLevel.ANONYMOUS)
def returns_none(req: func.HttpRequest):
    return None


@app.route(route="raises", auth_level=func.AuthLevel.ANONYMOUS)
def raises(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("boom")


@app.route(route="async-hello", auth_level=func.AuthLevel.ANONYMOUS)
async def async_hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("async")


@app.queue_trigger(arg_name="msg", queue_name="%DH_QUEUE%", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="out", queue_name="%DH_QUEUE%-out", connection="AzureWebJobsStorage")
def work(msg: func.QueueMessage, out: func.Out[str]) -> None:
    """Body 'fail-*' always fails, 'flaky-*' fails on the first delivery, 'slow-*' runs until
    a release blob exists, 'out-raise-*' sets its output then raises."""
    body = msg.get_body().decode()
    record("queue", body, {"dequeue_count": msg.dequeue_count, "id": msg.id, "pid": os.getpid(),
                           "class": kind_of(msg), "pop_receipt": bool(msg.pop_receipt),
                           "times": [kind_of(t) for t in (msg.insertion_time,
                                                          msg.expiration_time,
                                                          msg.time_next_visible)]})
    if body.startswith("fail-"):
        raise RuntimeError("always fails")
    if body.startswith("flaky-") and msg.dequeue_count == 1:
        raise RuntimeError("fails once")
    if body.startswith("slow-") and msg.dequeue_count == 1:
        service = BlobServiceClient.from_connection_string(
            expand(os.environ["AzureWebJobsStorage"]))
        release = service.get_blob_client("dhcalls", f"release/{body}")
        while not release.exists():
            time.sleep(0.05)
    out.set(f"done:{body}")
    if body.startswith("out-raise-"):
        raise RuntimeError("raised after setting the output")


@app.route(route="shapes/{kind}", auth_level=func.AuthLevel.ANONYMOUS)
def shapes(req: func.HttpRequest):
    kind = req.route_params["kind"]
    if kind == "str":
        return "plain"
    if kind == "dict":
        return {"not": "a response"}
    if kind == "json":
        return func.HttpResponse('{"a": 1}', mimetype="application/json", status_code=202)
    response = func.HttpResponse("cookies", headers={"x-custom": "1"})
    response.headers.add("Set-Cookie", "a=1")
    response.headers.add("Set-Cookie", "b=2")
    return response


@app.route(route="sleepy", auth_level=func.AuthLevel.ANONYMOUS)
def sleepy(req: func.HttpRequest) -> func.HttpResponse:
    time.sleep(float(req.params.get("s", "0")))
    return func.HttpResponse("awake")


@app.route(route="context", auth_level=func.AuthLevel.ANONYMOUS)
def with_context(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({"invocation_id": context.invocation_id,
                                         "function_name": context.function_name}))


@app.blob_trigger(arg_name="blob", path="dh-inbox/{name}", connection="AzureWebJobsStorage")
def inbox(blob: func.InputStream) -> None:
    """Blobs named 'fail-*' always fail."""
    record("blob", blob.name.replace("/", "_"),
           {"etag": (blob.blob_properties or {}).get("ETag"), "data": blob.read().decode(),
            "class": kind_of(blob), "length": blob.length, "uri": blob.uri})
    if blob.name.startswith("dh-inbox/fail-"):
        raise RuntimeError("blob handler failed")


@app.blob_trigger(arg_name="blob", path="dh-csv/{folder}/{file}.csv",
                  connection="AzureWebJobsStorage")
@app.blob_output(arg_name="out", path="dh-out/{folder}-{file}.txt",
                 connection="AzureWebJobsStorage")
def csv_drop(blob: func.InputStream, out: func.Out[str]) -> None:
    out.set(blob.read().decode().upper())


@app.blob_trigger(arg_name="blob", path="dh-eg/{name}", connection="AzureWebJobsStorage",
                  source=func.BlobSource.EVENT_GRID)
def eg_blob(blob: func.InputStream) -> None:
    record("egblob", blob.name.replace("/", "_"), {"data": blob.read().decode()})


@app.event_grid_trigger(arg_name="event")
def on_event(event: func.EventGridEvent) -> None:
    if "fail" in (event.subject or ""):
        raise RuntimeError("event handler failed")
    cloud = isinstance(event, func.CloudEvent)  # the worker decodes CloudEvents 1.0 as such
    record("event", event.id, {"class": type(event).__name__,
                               "type": event.type if cloud else event.event_type,
                               "subject": event.subject,
                               "topic": event.source if cloud else event.topic,
                               "data": event.get_json()})
