"""Reading `Microsoft.Storage.BlobCreated` events (EventGridSchema or CloudEvents 1.0)."""

from __future__ import annotations

import re
from typing import Any

from shared.events.drops import BlobCreated
from shared.storage.clients import Storage

BLOB_CREATED = "Microsoft.Storage.BlobCreated"
_SUBJECT = re.compile(r"/blobServices/default/containers/(?P<c>[^/]+)/blobs/(?P<b>.+)")


def blob_created(storage: Storage, event_type: str, subject: str,
                 data: dict[str, Any] | None) -> BlobCreated | None:
    """The blob an event is about, or None when the event is not for us (ignored, acked)."""
    if event_type != BLOB_CREATED or not isinstance(data, dict):
        return None
    m = _SUBJECT.fullmatch(subject or "")
    url = str(data.get("url", ""))
    if not m or not url.startswith(storage.account.blob_endpoint + "/"):
        return None  # another storage account: not configured here
    etag = str(data.get("eTag") or data.get("etag") or "")
    if not etag:
        return None
    return BlobCreated(container=m.group("c"), name=m.group("b"), etag=etag,
                       source="eventgrid")
