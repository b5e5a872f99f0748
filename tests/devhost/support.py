"""Helpers for the local-host tests: a project serving sample_app.py, and reading what its
functions did through storage (each invocation records a blob in `dhcalls`)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from devhost import testing

SAMPLE_APP = Path(__file__).with_name("sample_app.py")
# Timing knobs only: faster scans and polls, fewer retries, short leases.
FAST = {"DEVHOST_BLOB_SCAN_SECONDS": "0.5",
        "AzureFunctionsJobHost__extensions__queues__maxDequeueCount": "3",
        "AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:00.5",
        "AzureFunctionsJobHost__extensions__blobs__poisonBlobThreshold": "2"}


def make_project(root: Path, conn: str, host_json: dict | None = None, queue: str = "dh-work",
                 settings_file: str = "local.settings.json") -> Path:
    """A project serving sample_app.py; its queue trigger listens on `queue` (%DH_QUEUE%)."""
    testing.make_project(root, SAMPLE_APP, conn, {"DH_QUEUE": queue}, host_json=host_json or {
        "version": "2.0", "extensions": {"http": {"routePrefix": "api"},
                                         "queues": {"visibilityTimeout": "00:00:00"}}})
    if settings_file != "local.settings.json":
        (root / "local.settings.json").rename(root / settings_file)
    return root


def send(conn: str, queue: str, body: str, encoding: str = "base64") -> None:
    client = QueueClient.from_connection_string(conn, queue)
    try:
        client.create_queue()
    except ResourceExistsError:
        pass
    client.send_message(base64.b64encode(body.encode()).decode() if encoding == "base64"
                        else body)


def peek(conn: str, queue: str) -> list[str]:
    client = QueueClient.from_connection_string(conn, queue)
    try:
        return [m.content for m in client.peek_messages(max_messages=32)]
    except ResourceNotFoundError:
        return []


def decoded(conn: str, queue: str) -> list[str]:
    """The queue's base64 messages decoded (what the host writes by default); others skipped."""
    out = []
    for m in peek(conn, queue):
        try:
            out.append(base64.b64decode(m, validate=True).decode(errors="replace"))
        except ValueError:
            continue
    return out


def calls(blobs: BlobServiceClient, kind: str, key: str) -> list[dict]:
    """What the sample app recorded for `kind` (queue/blob/egblob/event) and `key`."""
    container = blobs.get_container_client("dhcalls")
    try:
        return [json.loads(container.download_blob(b.name).readall())
                for b in container.list_blobs(name_starts_with=f"{kind}/{key}/")]
    except ResourceNotFoundError:
        return []


def ensure_container(blobs: BlobServiceClient, name: str):
    container = blobs.get_container_client(name)
    try:
        container.create_container()
    except ResourceExistsError:
        pass
    return container
