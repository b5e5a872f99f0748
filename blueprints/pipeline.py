"""Queue-triggered steps of a job: plan → score mini-batches → aggregate, the watchdog, and
the poison queues (a message the host gave up on still ends its mini-batch or job, never
hangs it). What each queue runs is the table in shared/jobs/steps.py.

Each step's follow-up messages leave through its queue output bindings (shared/outbox.py).
"""

from __future__ import annotations

import azure.functions as func

from blueprints.bindings import QueueMessagesOut
from shared import outbox
from shared.jobs import steps
from shared.messages import (
    AGGREGATE_QUEUE,
    CHECK_QUEUE,
    EVENTS_QUEUE,
    PLAN_QUEUE,
    SCORE_QUEUE,
    poison,
)
from shared.storage.clients import default_storage

bp = func.Blueprint()
CONNECTION = "AzureWebJobsStorage"
Out = QueueMessagesOut


def _out(name: str, queue: str):
    return bp.queue_output(arg_name=name, queue_name=queue, connection=CONNECTION)


def _trigger(queue: str):
    return bp.queue_trigger(arg_name="msg", queue_name=queue, connection=CONNECTION)


def _run(queue: str, msg: func.QueueMessage, outputs: dict[str, Out]) -> None:
    with outbox.collect(outputs):
        steps.handle(default_storage(), queue, msg.get_body(), msg.dequeue_count or 1)


def _run_poison(queue: str, msg: func.QueueMessage, outputs: dict[str, Out]) -> None:
    with outbox.collect(outputs):
        steps.handle_poison(default_storage(), queue, msg.get_body(), msg.dequeue_count or 1)


@_trigger(PLAN_QUEUE)
@_out("to_plan", PLAN_QUEUE)
@_out("to_score", SCORE_QUEUE)
@_out("to_aggregate", AGGREGATE_QUEUE)
@_out("to_events", EVENTS_QUEUE)
def plan_job(msg: func.QueueMessage, to_plan: Out, to_score: Out, to_aggregate: Out,
             to_events: Out) -> None:
    _run(PLAN_QUEUE, msg, {PLAN_QUEUE: to_plan, SCORE_QUEUE: to_score,
                           AGGREGATE_QUEUE: to_aggregate, EVENTS_QUEUE: to_events})


@_trigger(SCORE_QUEUE)
@_out("to_score", SCORE_QUEUE)
@_out("to_aggregate", AGGREGATE_QUEUE)
@_out("to_events", EVENTS_QUEUE)
def score_minibatch(msg: func.QueueMessage, to_score: Out, to_aggregate: Out,
                    to_events: Out) -> None:
    _run(SCORE_QUEUE, msg, {SCORE_QUEUE: to_score, AGGREGATE_QUEUE: to_aggregate,
                            EVENTS_QUEUE: to_events})


@_trigger(AGGREGATE_QUEUE)
@_out("to_events", EVENTS_QUEUE)
def aggregate_job(msg: func.QueueMessage, to_events: Out) -> None:
    _run(AGGREGATE_QUEUE, msg, {EVENTS_QUEUE: to_events})


@_trigger(CHECK_QUEUE)
@_out("to_plan", PLAN_QUEUE)
@_out("to_score", SCORE_QUEUE)
@_out("to_aggregate", AGGREGATE_QUEUE)
def check_job(msg: func.QueueMessage, to_plan: Out, to_score: Out, to_aggregate: Out) -> None:
    _run(CHECK_QUEUE, msg, {PLAN_QUEUE: to_plan, SCORE_QUEUE: to_score,
                            AGGREGATE_QUEUE: to_aggregate})


@_trigger(poison(SCORE_QUEUE))
@_out("to_score", SCORE_QUEUE)
@_out("to_aggregate", AGGREGATE_QUEUE)
@_out("to_events", EVENTS_QUEUE)
def score_poisoned(msg: func.QueueMessage, to_score: Out, to_aggregate: Out,
                   to_events: Out) -> None:
    _run_poison(SCORE_QUEUE, msg, {SCORE_QUEUE: to_score, AGGREGATE_QUEUE: to_aggregate,
                                   EVENTS_QUEUE: to_events})


@_trigger(poison(PLAN_QUEUE))
@_out("to_aggregate", AGGREGATE_QUEUE)
@_out("to_events", EVENTS_QUEUE)
def plan_poisoned(msg: func.QueueMessage, to_aggregate: Out, to_events: Out) -> None:
    _run_poison(PLAN_QUEUE, msg, {AGGREGATE_QUEUE: to_aggregate, EVENTS_QUEUE: to_events})


@_trigger(poison(AGGREGATE_QUEUE))
@_out("to_events", EVENTS_QUEUE)
def aggregate_poisoned(msg: func.QueueMessage, to_events: Out) -> None:
    _run_poison(AGGREGATE_QUEUE, msg, {EVENTS_QUEUE: to_events})
