"""Job events out: a CloudEvent when a job reaches a final state.

Targets: an Event Grid topic from the app settings (`BATCH_EVENTGRID_TOPIC_ENDPOINT`, signed
in with `BATCH_EVENTGRID_TOPIC_KEY` when set, else with Microsoft Entra ID through
azure-identity's `DefaultAzureCredential`, which takes a user-assigned identity from
`AZURE_CLIENT_ID`; the identity needs the "EventGrid Data Sender" role) and/or the endpoint's
`notifications.webhook_url`. Publishing runs on its own queue (`batch-events`): it never
blocks or fails the job, a failed delivery is retried by the queue and logged, and each target
that accepted the event is remembered so a retry does not send it there again. Event ids are
`<job>/<state>`, so receivers can drop the duplicates at-least-once delivery may bring.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from typing import Any

from azure.core.credentials import AzureKeyCredential
from azure.core.messaging import CloudEvent

from shared.errors import EventDeliveryError, NotFoundError
from shared.events import pinned
from shared.jobs import records
from shared.jobs.lifecycle import JobStatus
from shared.jobs.records import JobRecord
from shared.messages import EVENTS_QUEUE, JobEnded
from shared.resources import webhooks
from shared.storage.clients import Storage

log = logging.getLogger("batch.events")
EVENT_TYPES = {
    JobStatus.COMPLETED: "BatchEndpoints.Job.Completed",
    JobStatus.FAILED: "BatchEndpoints.Job.Failed",
    JobStatus.CANCELED: "BatchEndpoints.Job.Canceled",
}


def announce_if_pending(storage: Storage, job: JobRecord) -> None:
    """Queue the final-state event unless every target already has it (idempotent)."""
    if job.status.terminal and job.events_state != "delivered":
        storage.send(EVENTS_QUEUE, JobEnded(job=job.name))


def job_event(job: JobRecord) -> CloudEvent:
    out = job.output
    base = f"azureml://datastores/{out['datastore']}/paths/"
    return CloudEvent(
        source=f"/batch-endpoints/endpoints/{job.endpoint_name}",
        type=EVENT_TYPES[job.status],
        subject=f"jobs/{job.name}",
        id=f"{job.name}/{job.status}",
        data={
            "endpoint_name": job.endpoint_name,
            "deployment_name": job.deployment_name,
            "job_name": job.name,
            "status": job.status.value,
            "started_by": job.started_by,
            "error": job.error or None,
            "mini_batches": {"total": job.mb_total, "succeeded": job.mb_done,
                             "failed": job.mb_failed, "canceled": job.mb_canceled},
            "items": {"succeeded": job.items_ok, "failed": job.items_failed,
                      "canceled": job.items_canceled},
            "outputs": {"score": base + out["predictions"], "errors": base + out["errors"],
                        "summary": base + out["summary"]},
        },
    )


def publish(storage: Storage, job_name: str) -> None:
    """Deliver the event to each target not yet reached; raise if any delivery failed."""
    job = records.load(storage, job_name)
    if not job.status.terminal:
        return
    done = set(filter(None, job.events_delivered.split(",")))
    targets = _targets(storage, job)
    event = job_event(job)
    errors = []
    for name, send in targets.items():
        if name in done:
            continue
        try:
            send(event)
        except Exception as e:  # every target gets its try; the queue retries the rest
            log.warning("job %s: event delivery to %s failed: %s", job_name, name, e)
            errors.append(f"{name}: {e}")
            continue
        done.add(name)
        log.info("job %s: %s event delivered to %s", job_name, event.type, name)

    def change(current: JobRecord) -> dict[str, Any]:
        return {"events_delivered": ",".join(sorted(done)),
                "events_state": "failed" if errors else "delivered"}

    records.update_job(storage, job_name, change)
    if errors:
        raise EventDeliveryError("; ".join(errors))


def _targets(storage: Storage, job: JobRecord) -> dict[str, Any]:
    from shared.resources import endpoints

    targets: dict[str, Any] = {}
    topic = os.environ.get("BATCH_EVENTGRID_TOPIC_ENDPOINT")
    if topic:
        targets["eventgrid"] = lambda event: _topic_client(topic).send([event])
    try:  # a storage fault raises (the queue retries); only a deleted endpoint has no webhook
        endpoint = endpoints.get(storage, job.endpoint_name)
    except NotFoundError:
        endpoint = {}
    url = (endpoint.get("notifications") or {}).get("webhook_url")
    if url:
        targets["webhook"] = lambda event: post_cloudevent(url, event)
    return targets


def _topic_client(topic: str):
    from azure.eventgrid import EventGridPublisherClient

    key = os.environ.get("BATCH_EVENTGRID_TOPIC_KEY", "")
    return EventGridPublisherClient(topic, AzureKeyCredential(key) if key else _identity())


@functools.cache
def _identity():
    """One token credential per process, so its token cache outlives each publish."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def post_cloudevent(url: str, event: CloudEvent, timeout: float = 10.0) -> None:
    """POST one CloudEvent in structured JSON mode; a non-2xx answer is a failure. The URL's
    host is resolved and checked again now (it was checked when set, but a DNS name can
    point elsewhere since), and the request goes to the address checked."""
    body = {
        "specversion": "1.0", "id": event.id, "source": event.source, "type": event.type,
        "subject": event.subject, "time": event.time.isoformat() if event.time else None,
        "datacontenttype": "application/json", "data": event.data,
    }
    target, addresses = webhooks.target(url)
    status = pinned.request("POST", target, addresses, json.dumps(body).encode(),
                            {"content-type": "application/cloudevents+json"}, timeout)
    if not 200 <= status < 300:
        raise EventDeliveryError(f"webhook answered {status}")
