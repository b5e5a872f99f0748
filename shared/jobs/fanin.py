"""Fan-in: count each mini-batch exactly once and trigger the aggregator when all are in.

A completion is one entity-group transaction over the job's partition: the mini-batch row
moves from `pending` to its outcome and the job's counters move with it (lifecycle's
`MiniBatchFinished`), both guarded by ETags. A duplicate delivery — or a poisoned copy of a
message whose mini-batch already finished — finds the row no longer pending and changes
nothing.

Whatever follows a commit (sending the aggregation, dispatching the next mini-batch of the
window) is idempotent and re-done on every delivery, so a worker that dies between commit
and send is recovered when the host redelivers its message.
"""

from __future__ import annotations

import logging

from shared.conflicts import retry_on_conflict
from shared.errors import NotFoundError
from shared.events import outbound
from shared.jobs import errorsfile, lifecycle, planning, records
from shared.jobs.lifecycle import JobStatus, Outcome, StopReason
from shared.jobs.records import JobRecord
from shared.messages import AGGREGATE_QUEUE, AggregateJob
from shared.storage.clients import Storage

log = logging.getLogger(__name__)
SKIP_LIMIT = 99  # mini-batch rows per transaction, with the job row: Table storage's 100


def complete(storage: Storage, job_name: str, index: int, outcome: Outcome,
             items_ok: int = 0, items_failed: int = 0, reason: str = "",
             part: str = "") -> JobRecord:
    """Record mini-batch `index` as done/failed/canceled, once; then do what follows.

    `part` names the result blobs of the attempt that won (minibatch.result_path)."""
    event = lifecycle.MiniBatchFinished(index, outcome, items_ok, items_failed)

    def attempt() -> tuple[JobRecord, dict | None]:
        job = records.load(storage, job_name)
        got = records.get_minibatch(storage, job_name, index)
        if got is None:
            raise NotFoundError(f"job {job_name} has no mini-batch {index}")
        row, row_etag = got
        if not records.pending(row):
            return job, None
        changes = lifecycle.apply(job, event, records.now())
        if changes is None:
            return job, None
        row_op = records.minibatch_op(job_name, index, row_etag, {
            "state": outcome, "items_ok": items_ok, "items_failed": items_failed,
            "reason": errorsfile.clean_reason(reason), "part": part, "finished_at": records.now()})
        records.submit(storage, [row_op, records.update_op(job, changes)])
        return job.with_changes(changes), changes

    job, changes = retry_on_conflict(attempt, f"job {job_name} mini-batch {index}")
    if changes and changes.get("stop_reason") == StopReason.ERROR_THRESHOLD:
        records.log(storage, job_name, changes["error"])
    if changes and job.settings["logging_level"] == "debug":  # a line per mini-batch
        records.log(storage, job_name, f"mini-batch {index}: {outcome}, {items_ok} items "
                    f"ok, {items_failed} failed {reason}".rstrip())
    job = records.load(storage, job_name)
    after_completion(storage, job, index)
    return job


def skip(storage: Storage, job_name: str, index: int, reason: str) -> JobRecord:
    """Count mini-batch `index` as skipped (canceled), together with the pending ones that
    would follow it in its window slot (index + k·window, up to a transaction's worth), so
    stopping a big job takes a few transactions, not one delivery per mini-batch."""

    def attempt() -> tuple[JobRecord, int]:
        job = records.load(storage, job_name)
        window = job.window
        chain = []
        for row in records.minibatch_rows(storage, job_name, index,
                                          index + window * SKIP_LIMIT):
            i = records.row_index(row)
            if (i - index) % window:
                continue
            if not records.pending(row) or i != index + window * len(chain):
                break
            chain.append(row)
        after, changes, ops = job, {}, []
        for row in chain:
            i = records.row_index(row)
            step = lifecycle.apply(after, lifecycle.MiniBatchFinished(i, Outcome.CANCELED),
                                   records.now())
            if step is None:
                break
            changes.update(step)
            after = after.with_changes(step)
            ops.append(records.minibatch_op(job_name, i, row.metadata["etag"], {
                "state": Outcome.CANCELED, "items_ok": 0, "items_failed": 0,
                "reason": reason, "part": "", "finished_at": records.now()}))
        if ops:
            records.submit(storage, [*ops, records.update_op(job, changes)])
        return after, index + window * max(0, len(ops) - 1)

    _, last = retry_on_conflict(attempt, f"job {job_name} skipping from mini-batch {index}")
    job = records.load(storage, job_name)
    after_completion(storage, job, last)
    return job


def after_completion(storage: Storage, job: JobRecord, index: int) -> None:
    """Send the aggregation if every mini-batch is in; else keep the job's window full."""
    if job.status == JobStatus.FINALIZING:
        storage.send(AGGREGATE_QUEUE, AggregateJob(job=job.name))
    elif job.status.terminal:
        outbound.announce_if_pending(storage, job)
    else:
        planning.dispatch_if_pending(storage, job, index + job.window)


def request_cancel(storage: Storage, job_name: str) -> JobRecord:
    """Stop new work: queued mini-batches are skipped (listed as canceled); what finished is
    kept."""
    job, changed = records.update_job(storage, job_name, lifecycle.CancelRequested())
    if changed:
        records.log(storage, job_name, "cancel requested")
    return job
