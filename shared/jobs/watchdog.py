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
import time
import uuid
from datetime import datetime

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
STALL_PACES = 3  # no progress for this many times a mini-batch's usual time: something was lost


def interval() -> int:
    """Seconds between a job's checks (BATCH_WATCHDOG_SECONDS). Recovery after a crash that
    lost messages takes at most about two periods plus stall_seconds (docs/architecture.md)."""
    return int(os.environ.get("BATCH_WATCHDOG_SECONDS", "10"))


def arm(storage: Storage, job: str, progress: str = "", current: str = "") -> None:
    """Start (or continue, when `current` is the chain's token) the job's check chain; the
    job row records when the next check is due (`watch_due`), so a chain whose message was
    lost is seen (revive_if_overdue)."""
    token = uuid.uuid4().hex[:12]
    due = time.time() + interval()

    def claim(record: JobRecord) -> dict | None:
        if record.watch_token != current:
            return None
        return {"watch_token": token, "watch_due": due}

    _, claimed = records.update_job(storage, job, claim)
    if claimed:
        storage.send(CHECK_QUEUE, CheckJob(job=job, progress=f"{token}:{progress}"),
                     delay=interval())


def revive_if_overdue(storage: Storage, job: JobRecord) -> None:
    """A check long overdue was lost (an emulator that lost its queue's last writes): start
    a new chain in its place (the ETag-guarded claim lets one caller do it)."""
    if (job.watch_token and not job.status.terminal
            and time.time() > job.watch_due + 2 * interval()):
        log.warning("job %s: its check is overdue; the watchdog starts again", job.name)
        arm(storage, job.name, current=job.watch_token)


def check(storage: Storage, msg: CheckJob) -> None:
    job = records.find(storage, msg.job)
    token, _, seen = msg.progress.partition(":")
    if job is None or job.status.terminal or token != job.watch_token:
        return  # ended, or a duplicate of a check that was continued already
    seen_mark, _, since_text = seen.partition("@")
    live = shards.live(storage, job)
    mark, now = progress_mark(live), time.time()
    since = float(since_text) if since_text and mark == seen_mark else now
    if now - since >= stall_seconds(live, since):
        resend(storage, live, now - since)
        since = now
    arm(storage, job.name, f"{mark}@{since:.1f}", current=token)


def progress_mark(job: JobRecord) -> str:
    return f"{job.status}/{job.plan_pages}/{job.accounted}/{job.aggregate_failures}"


def stall_seconds(job: JobRecord, since: float) -> float:
    """How long without progress (the mark unchanged since `since`) means a message was
    lost, not that work is slow. One period when no mini-batch is in flight (what is missing
    is a planning page, a settle or the aggregation). With mini-batches in flight, STALL_PACES
    times the time one took until the last progress (so a slow model's running
    mini-batches are not sent twice), at least a period and at most one attempt's
    retry_settings.timeout and a period: an attempt never runs longer, so by then a
    mini-batch in flight would have finished."""
    period = float(interval())
    in_flight = job.mb_planned - job.accounted
    if job.status not in (JobStatus.RUNNING, JobStatus.CANCEL_REQUESTED) or in_flight <= 0:
        return period
    longest = period + float(job.settings["retry_settings"]["timeout"])
    started = _epoch(job.started_at)
    if not job.accounted or started is None:
        return longest
    per_minibatch = max(0.0, since - started) * job.window / job.accounted
    return min(longest, max(period, STALL_PACES * per_minibatch))


def _epoch(stamp: str) -> float | None:
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return None


def resend(storage: Storage, job: JobRecord, quiet: float) -> None:
    log.warning("job %s made no progress in %.0f s; sending its next steps again", job.name,
                quiet)
    if not job.planning_done:
        storage.send(PLAN_QUEUE, PlanPage(job.name, job.plan_pages,
                                          job.plan_continuation or None))
    job = shards.settle_all(storage, job)  # a settle lost with a worker that died
    if job.status == JobStatus.FINALIZING:
        storage.send(AGGREGATE_QUEUE, AggregateJob(job=job.name))
        return
    limit = job.mb_planned if job.stop_reason else job.window
    sent, now = 0, time.time()
    for row in records.minibatch_rows(storage, job.name):
        if sent >= limit:
            break
        if not records.pending(row):
            continue
        if row.get("retry_until", 0.0) <= now:  # one waiting for its retry keeps its slot
            storage.send(SCORE_QUEUE, ScoreMiniBatch(job=job.name, index=records.row_index(row)))
        sent += 1
