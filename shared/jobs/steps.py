"""The one table of queue → step, used by the queue triggers (blueprints/pipeline.py) and by
the in-process test host, and the one policy for poison queues.

A poison handler decides nothing itself: it turns "the host gave up on this message" into
the lifecycle event for it (a mini-batch failed, planning failed, aggregation failed —
tried again). It must never feed `<queue>-poison-poison`: a permanent error (a job or
mini-batch that does not exist, an event the state machine refuses, a malformed body) is
logged and the message dropped; a retryable one is raised for the host's next attempt
after a growing pause. A delivery from the POISON_ATTEMPTS-th on (failures, or workers that
died holding the message, used up the others) only parks a fresh copy back on the poison
queue with a delay, well before the host's maxDequeueCount would move it on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.errors import is_retryable
from shared.events import drops, outbound
from shared.jobs import aggregate, errorsfile, lifecycle, minibatch, planning, records, watchdog
from shared.messages import (
    AGGREGATE_QUEUE,
    CHECK_QUEUE,
    DROPS_QUEUE,
    EVENTS_QUEUE,
    PLAN_QUEUE,
    SCORE_QUEUE,
    AggregateJob,
    CheckJob,
    JobEnded,
    PlanPage,
    QuietCheck,
    ScoreMiniBatch,
    decode,
    poison,
)
from shared.storage.clients import Storage

log = logging.getLogger("batch.pipeline")
POISON_ATTEMPTS = 3  # below the host's maxDequeueCount (5): nothing reaches poison-poison
PARK_SECONDS = 30
BACKOFF_SECONDS = 1.0
POISONED = "the host gave up on its message after maxDequeueCount attempts"


@dataclass(frozen=True)
class Step:
    message: type
    run: Callable[[Storage, Any, int], object]
    poisoned: Callable[[Storage, Any], object] | None = None


def _score_poisoned(storage: Storage, m: ScoreMiniBatch) -> None:
    """Deliveries that died (workers killed, leases run out) are crashes of ours, not the
    items' fault: the mini-batch goes back to scoring, a fresh copy, while its
    retry_settings.max_retries last; only then are its files failed (kind `crashes`)."""
    job = records.load(storage, m.job)
    got = records.get_minibatch(storage, m.job, m.index)
    if (got is not None and records.pending(got[0]) and job.status.active
            and minibatch.retry_again(storage, job, m, POISONED)):
        return
    minibatch.fail_minibatch(storage, m.job, m.index, f"mini-batch poisoned: {POISONED}, "
                             f"on each of its {m.retries + 1} copies", errorsfile.Kind.CRASHES)


def _plan_poisoned(storage: Storage, m: PlanPage) -> None:
    planned = records.load(storage, m.job).mb_planned
    written = sum(1 for _ in records.minibatch_rows(storage, m.job, planned))
    event = lifecycle.PlanningFailed(f"planning failed on listing page {m.page}: {POISONED}",
                                     written)
    job, changed = records.update_job(storage, m.job, event)
    if changed:
        records.log(storage, m.job, event.error)
    planning.follow_up(storage, job)


def _aggregate_poisoned(storage: Storage, m: AggregateJob) -> None:
    event = lifecycle.AggregationFailed(f"writing the outputs failed: {POISONED}")
    job, changed = records.update_job(storage, m.job, event)
    if changed:
        records.log(storage, m.job, f"{event.error}; trying again in {PARK_SECONDS} s")
        storage.send(AGGREGATE_QUEUE, m, delay=PARK_SECONDS)


STEPS: dict[str, Step] = {
    PLAN_QUEUE: Step(PlanPage, lambda s, m, n: planning.plan_page(s, m), _plan_poisoned),
    SCORE_QUEUE: Step(ScoreMiniBatch, minibatch.score_minibatch, _score_poisoned),
    AGGREGATE_QUEUE: Step(AggregateJob, lambda s, m, n: aggregate.aggregate(s, m),
                          _aggregate_poisoned),
    EVENTS_QUEUE: Step(JobEnded, lambda s, m, n: outbound.publish(s, m.job)),
    DROPS_QUEUE: Step(QuietCheck, lambda s, m, n: drops.quiet_check(s, m)),
    CHECK_QUEUE: Step(CheckJob, lambda s, m, n: watchdog.check(s, m)),
}


def handle(storage: Storage, queue: str, body: bytes | str, dequeue_count: int = 1) -> None:
    step = STEPS[queue]
    step.run(storage, decode(step.message, body), dequeue_count)


def handle_poison(storage: Storage, queue: str, body: bytes | str,
                  dequeue_count: int = 1) -> None:
    """Feed a message the host gave up on (from `<queue>-poison`) to its step's handler."""
    step = STEPS[queue]
    try:
        message = decode(step.message, body)
    except (ValueError, TypeError):
        log.error("dropping malformed message from %s: %r", poison(queue), body[:200])
        return
    if step.poisoned is None:
        log.error("message given up on in %s: %r", queue, body[:500])
        return
    if dequeue_count >= POISON_ATTEMPTS:  # crashes or failures used up its deliveries
        log.warning("poisoned %s message %r parked for %d s after %d deliveries", queue,
                    body[:200], PARK_SECONDS, dequeue_count)
        storage.send(poison(queue), body if isinstance(body, str) else body.decode(),
                     delay=PARK_SECONDS)
        return
    try:
        step.poisoned(storage, message)
    except Exception as e:
        if not is_retryable(e):
            log.error("poisoned %s message %r dropped: %s", queue, body[:200], e)
            return
        time.sleep(min(PARK_SECONDS, BACKOFF_SECONDS * 2 ** dequeue_count))
        raise


def queues_with_poison() -> list[str]:
    return [q for q, step in STEPS.items() if step.poisoned is not None]
