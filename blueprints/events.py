"""Events out: publish a job's final-state CloudEvent (its own queue, so it never blocks or
fails the job; a failed delivery is retried by the queue and logged)."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.events import outbound
from shared.messages import EVENTS_QUEUE, JobEnded, decode, poison
from shared.storage.clients import default_storage

bp = func.Blueprint()
log = logging.getLogger("batch.events")
CONNECTION = "AzureWebJobsStorage"


@bp.queue_trigger(arg_name="msg", queue_name=EVENTS_QUEUE, connection=CONNECTION)
def publish_job_event(msg: func.QueueMessage) -> None:
    outbound.publish(default_storage(), decode(JobEnded, msg.get_body()).job)


@bp.queue_trigger(arg_name="msg", queue_name=poison(EVENTS_QUEUE), connection=CONNECTION)
def job_event_undeliverable(msg: func.QueueMessage) -> None:
    log.error("job event could not be delivered after maxDequeueCount attempts: %s",
              msg.get_body()[:500])
