"""Job events out: a CloudEvent when a job reaches a final state.

Targets: an Event Grid topic from the app settings (`BATCH_EVENTGRID_TOPIC_ENDPOINT`, signed
in with `BATCH_EVENTGRID_TOPIC_KEY` when set, else with Microsoft Entra ID through
azure-identity's `DefaultAzureCredential`, which takes a user-assigned identity from
`AZURE_CLIENT_ID`; the identity needs the "EventGrid Data Sender" role) and/or the endpoint's
`notifications.webhook_url`. Publishing runs on its own queue (`batch-events`): it never
blocks or fails the job, and each target that accepted the event is remembered so a retry
does not send it there again. Event ids are `<job>/<state>`, so receivers can drop the
duplicates at-least-once delivery may bring.

A failed delivery is retried with a growing delay: the next JobEnded message (its `attempt`
one higher) is sent invisible for BATCH_EVENT_RETRY_SECONDS × 2^(attempt-1), at most
BATCH_EVENT_RETRY_MAX_SECONDS — a queue visibility delay, no sleeping in the function. After
BATCH_EVENT_ATTEMPTS failed attempts the event is kept as undelivered (undelivered.py), listed
on the job's logs and re-sendable. The job row's `events_attempts` is the one current chain of
retries: a message whose `attempt` is not it (a duplicate announcement, a chain a re-send
replaced) does nothing, so duplicates never multiply the deliveries.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from datetime import datetime
from typing import Any

from azure.core.credentials import AzureKeyCredential
from azure.core.messaging import CloudEvent

from shared import telemetry
from shared.errors import ConflictError, EventDeliveryError, NotFoundError
from shared.events import pinned, undelivered
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


def attempts() -> int:
    return max(1, int(os.environ.get("BATCH_EVENT_ATTEMPTS", "8")))


def retry_delay(attempt: int) -> int:
    """Seconds before the try after failed attempt `attempt` (1, 2, ...)."""
    base = float(os.environ.get("BATCH_EVENT_RETRY_SECONDS", "10"))
    cap = float(os.environ.get("BATCH_EVENT_RETRY_MAX_SECONDS", "900"))
    return int(min(cap, base * 2 ** (attempt - 1)))


def announce_if_pending(storage: Storage, job: JobRecord) -> None:
    """Queue the final-state event unless every target has it or it was given up on (kept as
    undelivered until a re-send); idempotent."""
    if job.status.terminal and job.events_state not in ("delivered", "undelivered"):
        storage.send(EVENTS_QUEUE, JobEnded(job=job.name, attempt=job.events_attempts))


def resend(storage: Storage, job_name: str) -> JobRecord:
    """Start a new round of deliveries of an ended job's event to the targets that lack it."""
    def change(current: JobRecord) -> dict[str, Any]:
        if not current.status.terminal:
            raise ConflictError(f"job {job_name} is {current.status}; its event is sent "
                                "when it ends")
        return {"events_attempts": 0, "events_state": "retrying"}

    job, _ = records.update_job(storage, job_name, change)
    records.log(storage, job_name, "job-ended event: re-send requested")
    storage.send(EVENTS_QUEUE, JobEnded(job=job_name, attempt=0))
    return job


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


def publish(storage: Storage, job_name: str, attempt: int = 0) -> None:
    """Deliver the event to each target not yet reached; a failure schedules the next try
    (or, after the last, keeps the event as undelivered). Storage faults raise (the queue
    retries them)."""
    job = records.load(storage, job_name)
    if (not job.status.terminal or attempt != job.events_attempts
            or job.events_state == "undelivered"):
        return  # not ended, a stale chain (another message owns the delivery), or given up
    done = set(filter(None, job.events_delivered.split(",")))
    targets = _targets(storage, job)
    event = job_event(job)
    errors: dict[str, str] = {}
    for name, send in targets.items():
        if name in done:
            continue
        try:
            send(event)
        except Exception as e:  # every target gets its try; the next attempt retries the rest
            log.warning("job %s: event delivery to %s failed: %s", job_name, name, e)
            errors[name] = f"{type(e).__name__}: {e}"
            continue
        done.add(name)
        log.info("job %s: %s event delivered to %s", job_name, event.type, name)
    failed = attempt + 1
    last = failed >= attempts()

    def change(current: JobRecord) -> dict[str, Any] | None:
        if current.events_attempts != attempt:
            return None  # a duplicate of this attempt got here first
        state = "delivered" if not errors else "undelivered" if last else "retrying"
        return {"events_delivered": ",".join(sorted(done)), "events_state": state,
                "events_attempts": failed if errors else attempt}

    _, changed = records.update_job(storage, job_name, change)
    if not changed:
        return
    if attempt == 0 and not job.events_state:  # the first round: the job has just ended
        telemetry.job_ended(job, _seconds(job.created_at, job.ended_at))
    for name in done:
        undelivered.clear(storage, job_name, name)
    if not errors:
        return
    reasons = "; ".join(f"{name}: {error}" for name, error in errors.items())
    if last:
        for name, error in errors.items():
            undelivered.keep(storage, job_name, name, _structured(event), error, failed)
        records.log(storage, job_name, f"job-ended event undelivered after {failed} attempts "
                    f"({reasons}); kept: POST /jobs/{job_name}/events/resend sends it again")
        return
    delay = retry_delay(failed)
    records.log(storage, job_name, f"job-ended event: attempt {failed} of {attempts()} failed "
                f"({reasons}); next try in {delay} s")
    storage.send(EVENTS_QUEUE, JobEnded(job=job_name, attempt=failed), delay=delay)


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


def _seconds(start: str, end: str) -> float:
    try:
        return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start))
                   .total_seconds())
    except ValueError:
        return 0.0


def _structured(event: CloudEvent) -> dict[str, Any]:
    """The CloudEvent in structured JSON mode (what a webhook receives)."""
    return {
        "specversion": "1.0", "id": event.id, "source": event.source, "type": event.type,
        "subject": event.subject, "time": event.time.isoformat() if event.time else None,
        "datacontenttype": "application/json", "data": event.data,
    }


def post_cloudevent(url: str, event: CloudEvent, timeout: float = 10.0) -> None:
    """POST one CloudEvent in structured JSON mode; a non-2xx answer is a failure. The URL's
    host is resolved and checked again now (it was checked when set, but a DNS name can
    point elsewhere since), and the request goes to the address checked."""
    target, addresses = webhooks.target(url)
    status = pinned.request("POST", target, addresses, json.dumps(_structured(event)).encode(),
                            {"content-type": "application/cloudevents+json"}, timeout)
    if not 200 <= status < 300:
        raise EventDeliveryError(f"webhook answered {status}")
