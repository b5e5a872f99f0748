"""Events out: publish a job's final-state CloudEvent (its own queue, so it never blocks or
fails the job; a failed delivery is retried by the queue and logged)."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.jobs import steps
from shared.messages import EVENTS_QUEUE, poison
from shared.storage.clients import default_storage

bp = func.Blueprint()
log = logging.getLogger("batch.events")
CONNECTION = "AzureWebJobsStorage"


@bp.queue_trigger(arg_name="msg", queue_name=EVENTS_QUEUE, connection=CONNECTION)
def publish_job_event(msg: func.QueueMessage) -> None:
    steps.handle(default_storage(), EVENTS_QUEUE, msg.get_body(), msg.dequeue_count or 1)


@bp.queue_trigger(arg_name="msg", queue_name=poison(EVENTS_QUEUE), connection=CONNECTION)
def job_event_undeliverable(msg: func.QueueMessage) -> None:
    log.error("job event could not be delivered after maxDequeueCount attempts: %s",
              msg.get_body()[:500])
