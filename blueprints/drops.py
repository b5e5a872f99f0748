"""Events in: files dropped into the inbox container (blob trigger) or announced by Event Grid
`BlobCreated` subscriptions become jobs, grouped per folder (shared/events/drops.py)."""

from __future__ import annotations

import logging

import azure.functions as func

from blueprints.http_util import handles_errors, page_request, paged_response
from shared.events import drops, eventgrid
from shared.messages import DROPS_QUEUE, QuietCheck, decode
from shared.storage.clients import default_storage

bp = func.Blueprint()
log = logging.getLogger("batch.drops")
CONNECTION = "AzureWebJobsStorage"


@bp.blob_trigger(arg_name="blob", path="%BATCH_INBOX_CONTAINER%/{name}", connection=CONNECTION)
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
    storage = default_storage()
    created = eventgrid.blob_created(storage, event.event_type, event.subject, event.get_json())
    if created is None:
        log.info("event %s (%s) ignored: not a BlobCreated of this account", event.id,
                 event.event_type)
        return
    log.info("event %s for %s/%s: %s", event.id, created.container, created.name,
             drops.on_blob_created(storage, created))


@bp.queue_trigger(arg_name="msg", queue_name=DROPS_QUEUE, connection=CONNECTION)
def drop_quiet_check(msg: func.QueueMessage) -> None:
    drops.quiet_check(default_storage(), decode(QuietCheck, msg.get_body()))


@bp.route(route="drops/rejected", methods=["GET"])
@handles_errors
def rejected_drops(req: func.HttpRequest) -> func.HttpResponse:
    return paged_response(req, drops.list_rejected(default_storage(), page_request(req)))


def _etag(storage, container: str, name: str) -> str:
    return storage.blobs.get_blob_client(container, name).get_blob_properties().etag
