"""What the Functions host sends the Python worker for each trigger, and how it reads back
what the worker returns — the host's side of `TypedData` (azure-functions-host,
`GrpcMessageConversionExtensions.ToRpc` / `ToObject`).

The host's rule for a value: `byte[]` → bytes, `string` → string, anything else (numbers,
dates, objects) → JSON text. Trigger metadata goes through the same rule, so `DequeueCount`
arrives as JSON `1` and `InsertionTime` as a JSON string. The Python worker advertises
`RawHttpBodyBytes`, so an HTTP body always arrives as bytes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from devhost.pyworker import Datum

Metadata = dict[str, Datum]


def to_datum(value: Any) -> Datum:
    if value is None:
        return Datum(None, None)
    if isinstance(value, bytes | bytearray):
        return Datum(bytes(value), "bytes")
    if isinstance(value, str):
        return Datum(value, "string")
    return Datum(json.dumps(value, default=_json_default), "json")


def metadata(values: dict[str, Any]) -> Metadata:
    return {k: to_datum(v) for k, v in values.items() if v is not None}


def http_request(method: str, url: str, headers: dict[str, str], query: dict[str, str],
                 route_params: dict[str, str], body: bytes) -> Datum:
    """An `RpcHttp`: lower-cased header names, only non-empty query values, body as bytes."""
    return Datum({
        "method": Datum(method, "string"), "url": Datum(url, "string"),
        "headers": {k.lower(): Datum(v, "string") for k, v in headers.items()},
        "body": Datum(body, "bytes"),
        "params": {k: Datum(v, "string") for k, v in route_params.items()},
        "query": {k: Datum(v, "string") for k, v in query.items() if v},
    }, "http")


def queue_trigger(message: Any, body: bytes) -> tuple[Datum, Metadata]:
    """A queue message (azure-storage-queue's QueueMessage) with its decoded body: text when
    it is UTF-8, bytes otherwise; the queue extension's binding data as metadata."""
    try:
        data, text = to_datum(body.decode("utf-8")), body.decode("utf-8")
    except UnicodeDecodeError:
        data, text = to_datum(body), None
    return data, metadata({
        "QueueTrigger": text, "Id": message.id, "DequeueCount": message.dequeue_count,
        "ExpirationTime": message.expires_on, "InsertionTime": message.inserted_on,
        "NextVisibleTime": message.next_visible_on, "PopReceipt": message.pop_receipt})


def blob_trigger(data: bytes, path: str, uri: str, properties: dict[str, Any],
                 blob_metadata: dict[str, str], name_parts: dict[str, str]) -> tuple[
                     Datum, Metadata]:
    """Blob bytes with the blob extension's binding data: `BlobTrigger`, `Uri`, `Properties`,
    `Metadata`, and the path pattern's named parts (`{name}`)."""
    return to_datum(data), metadata({**name_parts, "BlobTrigger": path, "Uri": uri,
                                     "Properties": properties, "Metadata": blob_metadata})


def event(body: dict[str, Any]) -> tuple[Datum, Metadata]:
    """One Event Grid event, EventGridSchema or CloudEvents 1.0, as the JSON it came in."""
    return to_datum(body), {}


def queue_messages(datum: Datum) -> list[str | bytes]:
    """What a queue output binding writes for the typed data it got: a JSON array is one
    message per element (objects as their JSON text), anything else one message."""
    if datum.type == "json":
        value = json.loads(datum.value)
        items = value if isinstance(value, list) else [value]
        return [i if isinstance(i, str) else json.dumps(i) for i in items]
    if datum.type == "collection_string":
        return list(datum.value)
    if datum.type in ("string", "bytes"):
        return [datum.value]
    if datum.type in ("int", "double"):
        return [str(datum.value)]
    raise TypeError(f"a queue output cannot take typed data of type {datum.type!r}")


def blob_content(datum: Datum) -> bytes:
    if datum.type == "bytes":
        return datum.value
    if datum.type in ("string", "json"):
        return str(datum.value).encode()
    raise TypeError(f"a blob output cannot take typed data of type {datum.type!r}")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
