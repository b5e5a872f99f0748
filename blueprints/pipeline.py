"""Queue-triggered steps of a job: plan → score mini-batches → aggregate, and their poison
queues (a message the host gave up on still ends its mini-batch or job, never hangs it).

Each step's follow-up messages leave through its queue output bindings (shared/outbox.py).
"""

from __future__ import annotations

import logging

import azure.functions as func

from blueprints.bindings import QueueMessagesOut
from shared import outbox
from shared.jobs import aggregate, fanin, minibatch, planning, records
from shared.messages import (
    AGGREGATE_QUEUE,
    EVENTS_QUEUE,
    PLAN_QUEUE,
    SCORE_QUEUE,
    AggregateJob,
    PlanPage,
    ScoreMiniBatch,
    decode,
    poison,
)
from shared.storage.clients import default_storage

bp = func.Blueprint()
log = logging.getLogger("batch.pipeline")
CONNECTION = "AzureWebJobsStorage"
Out = QueueMessagesOut


def _out(name: str, queue: str):
    return bp.queue_output(arg_name=name, queue_name=queue, connection=CONNECTION)


@bp.queue_trigger(arg_name="msg", queue_name=PLAN_QUEUE, connection=CONNECTION)
@_out("to_plan", PLAN_QUEUE)
@_out("to_score", SCORE_QUEUE)
@_out("to_aggregate", AGGREGATE_QUEUE)
@_out("to_events", EVENTS_QUEUE)
def plan_job(msg: func.QueueMessage, to_plan: Out, to_score: Out, to_aggregate: Out,
             to_events: Out) -> None:
    with outbox.collect({PLAN_QUEUE: to_plan, SCORE_QUEUE: to_score,
                         AGGREGATE_QUEUE: to_aggregate, EVENTS_QUEUE: to_events}):
        planning.plan_page(default_storage(), decode(PlanPage, msg.get_body()))


@bp.queue_trigger(arg_name="msg", queue_name=SCORE_QUEUE, connection=CONNECTION)
@_out("to_score", SCORE_QUEUE)
@_out("to_aggregate", AGGREGATE_QUEUE)
@_out("to_events", EVENTS_QUEUE)
def score_minibatch(msg: func.QueueMessage, to_score: Out, to_aggregate: Out,
                    to_events: Out) -> None:
    message = decode(ScoreMiniBatch, msg.get_body())
    with outbox.collect({SCORE_QUEUE: to_score, AGGREGATE_QUEUE: to_aggregate,
                         EVENTS_QUEUE: to_events}):
        minibatch.score_minibatch(default_storage(), message, msg.dequeue_count or 1)


@bp.queue_trigger(arg_name="msg", queue_name=AGGREGATE_QUEUE, connection=CONNECTION)
@_out("to_events", EVENTS_QUEUE)
def aggregate_job(msg: func.QueueMessage, to_events: Out) -> None:
    with outbox.collect({EVENTS_QUEUE: to_events}):
        aggregate.aggregate(default_storage(), decode(AggregateJob, msg.get_body()))


@bp.queue_trigger(arg_name="msg", queue_name=poison(SCORE_QUEUE), connection=CONNECTION)
@_out("to_score", SCORE_QUEUE)
@_out("to_aggregate", AGGREGATE_QUEUE)
@_out("to_events", EVENTS_QUEUE)
def score_poisoned(msg: func.QueueMessage, to_score: Out, to_aggregate: Out,
                   to_events: Out) -> None:
    message = _decode_poison(ScoreMiniBatch, msg)
    if message is None:
        return
    storage = default_storage()
    job = records.find(storage, message.job)
    if job is not None:
        with outbox.collect({SCORE_QUEUE: to_score, AGGREGATE_QUEUE: to_aggregate,
                             EVENTS_QUEUE: to_events}):
            minibatch.fail_minibatch(
                storage, job, message.index, None,
                "the scoring message was poisoned: the host gave up after maxDequeueCount "
                "attempts")


@bp.queue_trigger(arg_name="msg", queue_name=poison(PLAN_QUEUE), connection=CONNECTION)
@_out("to_events", EVENTS_QUEUE)
def plan_poisoned(msg: func.QueueMessage, to_events: Out) -> None:
    message = _decode_poison(PlanPage, msg)
    if message is not None and records.find(default_storage(), message.job):
        with outbox.collect({EVENTS_QUEUE: to_events}):
            fanin.fail_job(default_storage(), message.job,
                           f"planning failed repeatedly on listing page {message.page}")


@bp.queue_trigger(arg_name="msg", queue_name=poison(AGGREGATE_QUEUE), connection=CONNECTION)
@_out("to_events", EVENTS_QUEUE)
def aggregate_poisoned(msg: func.QueueMessage, to_events: Out) -> None:
    message = _decode_poison(AggregateJob, msg)
    if message is not None and records.find(default_storage(), message.job):
        with outbox.collect({EVENTS_QUEUE: to_events}):
            fanin.fail_job(default_storage(), message.job,
                           "writing the outputs failed repeatedly")


def _decode_poison(kind: type, msg: func.QueueMessage):
    try:
        return decode(kind, msg.get_body())
    except (ValueError, TypeError):
        log.error("dropping malformed poison message %s: %r", msg.id, msg.get_body()[:200])
        return None
