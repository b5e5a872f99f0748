"""Fan-in: count each mini-batch exactly once and trigger the aggregator when all are in.

A completion is one entity-group transaction over the job's partition: the mini-batch row
moves from `pending` to its outcome and its counter shard moves with it (lifecycle's
`tally`; shards.py), both guarded by ETags. A duplicate delivery — or a poisoned copy of a
message whose mini-batch already finished — finds the row no longer pending and changes
nothing. The job row is not written per completion: it hears of the counts when every
shard is full (the job then moves to Finalizing), or when failures pass error_threshold.

Whatever follows a commit (settling the shard, sending the aggregation, dispatching the
next mini-batch of the window) is idempotent and re-done on every delivery, so a worker
that dies between commit and send is recovered when the host redelivers its message.
"""

from __future__ import annotations

import logging

from shared.conflicts import retry_on_conflict
from shared.errors import JobStateConflict, NotFoundError
from shared.events import outbound
from shared.jobs import errorsfile, lifecycle, planning, records, shards
from shared.jobs.lifecycle import JobStatus, Outcome
from shared.jobs.records import JobRecord
from shared.jobs.shards import Shard
from shared.messages import AGGREGATE_QUEUE, AggregateJob
from shared.storage.clients import Storage

log = logging.getLogger(__name__)
TRANSACTION_LIMIT = 100  # rows per entity-group transaction (Table storage)


def complete(storage: Storage, job_name: str, index: int, outcome: Outcome,
             items_ok: int = 0, items_failed: int = 0, reason: str = "",
             part: str = "", read: tuple[JobRecord, tuple[dict, str]] | None = None,
             kind: errorsfile.Kind = errorsfile.Kind.ITEM) -> JobRecord:
    """Record mini-batch `index` as done/failed/canceled, once; then do what follows.

    `part` names the result blobs of the attempt that won (minibatch.result_path); `kind`
    whose failure a failed one's is (errorsfile.Kind). `read`
    is the job and the mini-batch row (with its ETag) as the caller read them: the first
    attempt uses them instead of reading both again. That is as safe as reading them here:
    the row's ETag guards the transaction (a delivery that finished it meanwhile makes it a
    conflict, and the retry reads afresh), and the job row is never part of the transaction,
    so what follows a commit reads it again if planning had not ended (shards.py)."""
    event = lifecycle.MiniBatchFinished(index, outcome, items_ok, items_failed)
    known = [read] if read else []

    def attempt() -> tuple[JobRecord, Shard | None]:
        if known:
            job, got = known.pop()
        else:
            job = records.load(storage, job_name)
            got = records.get_minibatch(storage, job_name, index)
        if got is None:
            raise NotFoundError(f"job {job_name} has no mini-batch {index}")
        row, row_etag = got
        if not records.pending(row):
            return job, None
        shard = shards.get(storage, job, job.shard_of(index))
        changes = lifecycle.tally(job, shard, event)
        if changes is None:
            return job, None
        row_op = records.minibatch_op(job_name, index, row_etag, {
            "state": outcome, "items_ok": items_ok, "items_failed": items_failed,
            "reason": errorsfile.clean_reason(reason), "kind": kind, "part": part,
            "finished_at": records.now()})
        records.submit(storage, [row_op, shards.op(job_name, shard, changes)])
        return job, shard.with_changes(changes)

    job, counted = retry_on_conflict(attempt, f"job {job_name} mini-batch {index}")
    if counted and items_failed:
        _check_threshold(storage, job)
    if counted and job.settings["logging_level"] == "debug":  # a line per mini-batch
        records.log(storage, job_name, f"mini-batch {index}: {outcome}, {items_ok} items "
                    f"ok, {items_failed} failed {reason}".rstrip())
    if not job.planning_done:  # read again after the commit: planning may have ended (shards.py)
        job = records.load(storage, job_name)
    return after_completion(storage, job, index, [counted] if counted else None)


def _check_threshold(storage: Storage, job: JobRecord) -> None:
    if int(job.settings["error_threshold"]) < 0 or job.stop_reason:
        return
    event = lifecycle.FailuresCounted(shards.failed_items(storage, job))
    after, changed = records.update_job(storage, job.name, event)
    if changed:
        records.log(storage, job.name, after.error)


def skip(storage: Storage, job_name: str, index: int, reason: str) -> JobRecord:
    """Count mini-batch `index` as skipped (canceled), together with the pending ones that
    would follow it in its window slot (index + k·window, up to a transaction's worth), so
    stopping a big job takes a few transactions, not one delivery per mini-batch."""

    def attempt() -> tuple[list[Shard], int]:
        job = records.load(storage, job_name)
        window = job.window
        read: dict[int, Shard] = {}  # the shard rows as read, and what the skips move
        moved: dict[int, dict] = {}
        ops: list[tuple] = []
        last = index
        for row in records.minibatch_rows(storage, job_name, index,
                                          index + window * TRANSACTION_LIMIT):
            i = records.row_index(row)
            if (i - index) % window:
                continue
            if not records.pending(row) or i != index + window * len(ops):
                break
            key = job.shard_of(i)
            if len(ops) + 1 + len(read) + (key not in read) > TRANSACTION_LIMIT:
                break  # this row, and its shard row if new, would not fit
            if key not in read:
                read[key], moved[key] = shards.get(storage, job, key), {}
            changes = lifecycle.tally(job, read[key].with_changes(moved[key]),
                                      lifecycle.MiniBatchFinished(i, Outcome.CANCELED))
            if changes is None:
                break
            moved[key].update(changes)
            ops.append(records.minibatch_op(job_name, i, row.metadata["etag"], {
                "state": Outcome.CANCELED, "items_ok": 0, "items_failed": 0,
                "reason": reason, "part": "", "finished_at": records.now()}))
            last = i
        written = [k for k in read if moved[k]]
        if ops:
            records.submit(storage, [*ops, *(shards.op(job_name, read[k], moved[k])
                                             for k in written)])
        return [read[k].with_changes(moved[k]) for k in written], last

    counted, last = retry_on_conflict(attempt, f"job {job_name} skipping from mini-batch {index}")
    job = records.load(storage, job_name)
    after_completion(storage, job, last, counted or None)
    return job


def after_completion(storage: Storage, job: JobRecord, index: int,
                     counted: list[Shard] | None = None) -> JobRecord:
    """Settle the shards just written (on a redelivery: the mini-batch's shard, in case the
    delivery that wrote it died before), then send the aggregation if every mini-batch is
    in, else keep the job's window full."""
    if job.status.active and job.planning_done:
        job = shards.settle(storage, job, counted or [shards.get(storage, job,
                                                                  job.shard_of(index))])
    if job.status == JobStatus.FINALIZING:
        storage.send(AGGREGATE_QUEUE, AggregateJob(job=job.name))
    elif job.status.terminal:
        outbound.announce_if_pending(storage, job)
    else:
        planning.dispatch_if_pending(storage, job, index + job.window)
    return job


def request_cancel(storage: Storage, job_name: str) -> JobRecord:
    """Stop new work: queued mini-batches are skipped (listed as canceled); what finished is
    kept."""
    job, changed = records.update_job(storage, job_name, lifecycle.CancelRequested())
    if changed:
        records.log(storage, job_name, "cancel requested")
    elif job.status.terminal or job.stop_reason != lifecycle.StopReason.CANCELED:
        raise JobStateConflict(f"job {job_name} is {job.status} and can no longer be "
                               "canceled", job.status.value)
    return job
