"""Events in: files dropped into the inbox container (blob trigger) or announced by Event Grid
`BlobCreated` subscriptions become jobs, grouped per folder (shared/events/drops.py)."""

from __future__ import annotations

import logging

import azure.functions as func

from blueprints.http_util import handles_errors, page_request, paged_response
from shared.events import drops, eventgrid
from shared.jobs import steps
from shared.messages import DROPS_QUEUE
from shared.storage.clients import default_storage

bp = func.Blueprint()
log = logging.getLogger("batch.drops")
CONNECTION = "AzureWebJobsStorage"


# source=EventGrid: the only blob trigger Flex Consumption runs (infra/ subscribes the inbox
# container's BlobCreated events to this function's webhook; the local host stands in).
@bp.blob_trigger(arg_name="blob", path="%BATCH_INBOX_CONTAINER%/{name}", connection=CONNECTION,
                 source=func.BlobSource.EVENT_GRID)
def inbox_blob_dropped(blob: func.InputStream) -> None:
    storage = default_storage()
    container, _, name = (blob.name or "").partition("/")
    etag = (getattr(blob, "blob_properties", None) or {}).get("ETag") or _etag(
        storage, container, name)
    outcome = drops.on_blob_created(storage, drops.BlobCreated(container, name, etag,
                                                               "blob-drop"))
    log.info("inbox %s: %s", blob.name, outcome)


@bp.event_grid_trigger(arg_name="event")
def storage_blob_created(event: func.EventGridEvent) -> None:
    # The worker hands a subscription's CloudEvents 1.0 deliveries over as func.CloudEvent
    # (`type`), its EventGridSchema ones as func.EventGridEvent (`event_type`).
    storage = default_storage()
    kind = event.type if isinstance(event, func.CloudEvent) else event.event_type
    created = eventgrid.blob_created(storage, kind, event.subject, event.get_json())
    if created is None:
        log.info("event %s (%s) ignored: not a BlobCreated of this account", event.id, kind)
        return
    log.info("event %s for %s/%s: %s", event.id, created.container, created.name,
             drops.on_blob_created(storage, created))


@bp.queue_trigger(arg_name="msg", queue_name=DROPS_QUEUE, connection=CONNECTION)
def drop_quiet_check(msg: func.QueueMessage) -> None:
    steps.handle(default_storage(), DROPS_QUEUE, msg.get_body(), msg.dequeue_count or 1)


@bp.route(route="drops/rejected", methods=["GET"])
@handles_errors
def rejected_drops(req: func.HttpRequest) -> func.HttpResponse:
    return paged_response(req, drops.list_rejected(default_storage(), page_request(req)))


def _etag(storage, container: str, name: str) -> str:
    return storage.blobs.get_blob_client(container, name).get_blob_properties().etag
