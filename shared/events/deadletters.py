"""Inbox events Event Grid gave up on, brought into the rejected-drops list.

In Azure, a BlobCreated event the app's blob webhook never accepted (30 deliveries over a
day: infra/app/inbox-events.bicep) is dead-lettered by Event Grid as a JSON blob in the
`inbox-deadletter` container: an array of the events, each with `deadLetterReason`,
`deliveryAttempts` and `lastDeliveryOutcome`. Their files never became jobs, so before
`GET /drops/rejected` lists rejected drops, each dead-letter blob not seen yet is recorded
there (one row per event, with Event Grid's reason) and marked as imported in its metadata.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from shared import config
from shared.storage.clients import Storage

log = logging.getLogger("batch.drops")
CONTAINER = config.DEADLETTER_CONTAINER  # infra/app/inbox-events.bicep: deadLetterContainerName
IMPORTED = "batchimported"
_SUBJECT = "/blobServices/default/containers/"


def import_new(storage: Storage, record) -> int:
    """Record the events of every dead-letter blob not imported yet; `record(container,
    name, etag, reason, at)` writes one rejected drop. Returns how many events it recorded."""
    container = storage.container(CONTAINER)
    count = 0
    for blob in container.list_blobs(include=["metadata"]):
        if (blob.metadata or {}).get(IMPORTED):
            continue
        client = container.get_blob_client(blob.name)
        try:
            events = json.loads(client.download_blob().readall())
        except ValueError as e:
            log.warning("dead-letter blob %s is not JSON (%s): skipped", blob.name, e)
            events = []
        for event in events if isinstance(events, list) else [events]:
            if isinstance(event, dict) and (parsed := _parse(event)):
                record(*parsed)
                count += 1
        client.set_blob_metadata({**(blob.metadata or {}), IMPORTED: "1"})
    return count


def _parse(event: dict[str, Any]) -> tuple[str, str, str, str, str] | None:
    subject = str(event.get("subject") or "")
    if not subject.startswith(_SUBJECT) or "/blobs/" not in subject:
        return None
    container, name = subject[len(_SUBJECT):].split("/blobs/", 1)
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    reason = (f"Event Grid gave up after {event.get('deliveryAttempts', '?')} deliveries: "
              f"{event.get('deadLetterReason', 'unknown reason')}")
    if event.get("lastDeliveryOutcome"):
        reason += f" (last outcome: {event['lastDeliveryOutcome']})"
    at = str(event.get("lastDeliveryAttemptTime") or event.get("publishTime")
             or event.get("eventTime") or "")
    return container, name, str(data.get("eTag") or ""), reason, at
