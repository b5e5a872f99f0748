"""The watchdog: a job that made no progress for a while gets its in-flight messages again.

Queues deliver at least once, but a message can still vanish before it is delivered (a
storage emulator killed before it saved its queue, a message past its time-to-live). Every
step is idempotent, so sending again what should be in flight is always safe: a delayed
`CheckJob` per job compares the job's progress with what it saw last time and, if nothing
moved, re-sends the next planning page, the pending mini-batches of the window, or the
aggregation, after settling the job's counter shards (shards.py). It re-arms itself until
the job ends; the job row names the current check (`watch_token`), so a check delivered
twice continues one chain, not two.
"""

from __future__ import annotations

import logging
import os
import uuid

from shared.jobs import records, shards
from shared.jobs.lifecycle import JobStatus
from shared.jobs.records import JobRecord
from shared.messages import (
    AGGREGATE_QUEUE,
    CHECK_QUEUE,
    PLAN_QUEUE,
    SCORE_QUEUE,
    AggregateJob,
    CheckJob,
    PlanPage,
    ScoreMiniBatch,
)
from shared.storage.clients import Storage

log = logging.getLogger("batch.watchdog")


def interval() -> int:
    """Seconds without progress before a job's messages are sent again."""
    return int(os.environ.get("BATCH_WATCHDOG_SECONDS", "60"))


def arm(storage: Storage, job: str, progress: str = "", current: str = "") -> None:
    """Start (or continue, when `current` is the chain's token) the job's check chain."""
    token = uuid.uuid4().hex[:12]

    def claim(record: JobRecord) -> dict | None:
        return {"watch_token": token} if record.watch_token == current else None

    _, claimed = records.update_job(storage, job, claim)
    if claimed:
        storage.send(CHECK_QUEUE, CheckJob(job=job, progress=f"{token}:{progress}"),
                     delay=interval())


def check(storage: Storage, msg: CheckJob) -> None:
    job = records.find(storage, msg.job)
    token, _, seen = msg.progress.partition(":")
    if job is None or job.status.terminal or token != job.watch_token:
        return  # ended, or a duplicate of a check that was continued already
    mark = progress_mark(shards.live(storage, job))
    if mark == seen:
        resend(storage, job)
    arm(storage, job.name, mark, current=token)


def progress_mark(job: JobRecord) -> str:
    return f"{job.status}/{job.plan_pages}/{job.accounted}/{job.aggregate_failures}"


def resend(storage: Storage, job: JobRecord) -> None:
    log.warning("job %s made no progress in %d s; sending its next steps again", job.name,
                interval())
    if not job.planning_done:
        storage.send(PLAN_QUEUE, PlanPage(job.name, job.plan_pages,
                                          job.plan_continuation or None))
    job = shards.settle_all(storage, job)  # a settle lost with a worker that died
    if job.status == JobStatus.FINALIZING:
        storage.send(AGGREGATE_QUEUE, AggregateJob(job=job.name))
        return
    limit = job.mb_planned if job.stop_reason else job.window
    sent = 0
    for row in records.minibatch_rows(storage, job.name):
        if sent >= limit:
            break
        if records.pending(row):
            storage.send(SCORE_QUEUE, ScoreMiniBatch(job=job.name, index=records.row_index(row)))
            sent += 1
