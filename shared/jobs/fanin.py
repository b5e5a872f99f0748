"""Fan-in: count each mini-batch exactly once and trigger the aggregator when all are in.

A completion is one entity-group transaction over the job's partition: the mini-batch row
moves from `pending` to its outcome and the job's counters move with it, both guarded by
ETags. A duplicate delivery finds the row no longer pending and changes nothing.

Whatever follows a commit (sending the aggregation, dispatching the next mini-batch of the
window) is idempotent and re-done on every delivery, so a worker that dies between commit
and send is recovered when the host redelivers its message.
"""

from __future__ import annotations

import logging
from typing import Any

from shared.events import outbound
from shared.jobs import records
from shared.jobs.records import (
    CANCEL_REQUESTED,
    FINALIZING,
    PENDING,
    PREPARING,
    QUEUED,
    RUNNING,
    TERMINAL,
    Job,
)
from shared.messages import AGGREGATE_QUEUE, SCORE_QUEUE, AggregateJob, ScoreMiniBatch
from shared.storage.clients import Storage

log = logging.getLogger(__name__)


def complete(
    storage: Storage, job_name: str, index: int, outcome: str,
    items_ok: int, items_failed: int, reason: str = "",
) -> Job:
    """Record mini-batch `index` as done/failed/canceled, once; then do what follows."""
    for attempt in range(100):
        job = records.load(storage, job_name)
        got = records.get_minibatch(storage, job_name, index)
        if got is None:
            raise LookupError(f"job {job_name} has no mini-batch {index}")
        row, row_etag = got
        if row["state"] != PENDING:
            break
        changes = counted(job, outcome, items_ok, items_failed)
        row_op = records.minibatch_op(job_name, index, row_etag, {
            "state": outcome, "items_ok": items_ok, "items_failed": items_failed,
            "reason": reason[:4000], "finished_at": records.now()})
        try:
            records.submit(storage, [row_op, records.update_op(job, changes)])
        except records.ConcurrentUpdate:
            records.backoff(attempt)
            continue
        if changes.get("stop_reason") == "error_threshold":
            records.log(storage, job_name, changes["error"])
        if job.settings["logging_level"] == "debug":  # a line per mini-batch, as AML's debug
            records.log(storage, job_name, f"mini-batch {index}: {outcome}, {items_ok} items "
                        f"ok, {items_failed} failed {reason}".rstrip())
        break
    job = records.load(storage, job_name)
    after_completion(storage, job, index)
    return job


def counted(job: Job, outcome: str, items_ok: int, items_failed: int) -> dict[str, Any]:
    """The job-row changes one more finished mini-batch brings."""
    key = {"done": "mb_done", "failed": "mb_failed", "canceled": "mb_canceled"}[outcome]
    changes: dict[str, Any] = {
        key: job.entity[key] + 1,
        "items_ok": job.items_ok + items_ok,
        "items_failed": job.items_failed + items_failed,
    }
    if job.status in (QUEUED, PREPARING):
        changes["status"] = RUNNING
    threshold = int(job.settings["error_threshold"])
    if threshold >= 0 and changes["items_failed"] > threshold and not job.stop_reason:
        changes["stop_reason"] = "error_threshold"
        changes["error"] = (
            f"error_threshold exceeded: {changes['items_failed']} items failed, more than the "
            f"{threshold} allowed; remaining mini-batches were not scored")
    accounted = job.accounted + 1
    if job.planning_done and accounted >= job.mb_total and job.status not in TERMINAL:
        changes["status"] = FINALIZING
    return changes


def after_completion(storage: Storage, job: Job, index: int) -> None:
    """Send the aggregation if every mini-batch is in; else keep the job's window full."""
    if job.status == FINALIZING:
        storage.send(AGGREGATE_QUEUE, AggregateJob(job=job.name))
    elif job.status not in TERMINAL:
        dispatch_if_pending(storage, job, index + job.window)


def dispatch_if_pending(storage: Storage, job: Job, index: int) -> bool:
    got = records.get_minibatch(storage, job.name, index)
    if got is None or got[0]["state"] != PENDING:
        return False
    storage.send(SCORE_QUEUE, ScoreMiniBatch(job=job.name, index=index))
    return True


def request_cancel(storage: Storage, job_name: str) -> Job:
    """Stop new work: queued mini-batches are skipped; what finished is kept."""

    def change(job: Job) -> dict[str, Any] | None:
        if job.status in TERMINAL or job.status == FINALIZING or job.stop_reason:
            return None
        return {"status": CANCEL_REQUESTED, "stop_reason": "canceled",
                "error": "canceled by request"}

    job, changed = records.update_job(storage, job_name, change)
    if changed:
        records.log(storage, job_name, "cancel requested")
    return job


def fail_job(storage: Storage, job_name: str, error: str) -> Job:
    """End a job as Failed (planning or aggregation could not be done)."""

    def change(job: Job) -> dict[str, Any] | None:
        if job.status in TERMINAL:
            return None
        return {"status": records.FAILED, "error": error, "ended_at": records.now(),
                "stop_reason": job.stop_reason or "failed"}

    job, changed = records.update_job(storage, job_name, change)
    if changed:
        records.log(storage, job_name, f"job failed: {error}")
    outbound.announce_if_pending(storage, job)
    return job
