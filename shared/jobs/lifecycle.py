"""A job's whole lifecycle in one place: its states, why it stops, and every move between
them. Pure: `apply(job, event, now)` returns the fields to change (None: the event changes
nothing, e.g. a duplicate delivery or a cancel after the end) or raises IllegalTransition.
Everything that moves a job — planning, fan-in, the aggregator, the poison handlers,
cancel, retry links — sends one of the events below through `apply`, inside an ETag-guarded
write (records.update_job). A mini-batch's completion moves only its counter shard
(`tally`, in fanin.complete's transaction); the job row hears of counts once, when every
shard is full (`AllCounted`, shards.py), or when failures pass error_threshold.

    Queued ─► Preparing ─► Running ─► Finalizing ─► Completed | Failed | Canceled
        (any of the first three) ─► CancelRequested ─► Finalizing ─► Canceled

Only the aggregator ends a job (`OutputsWritten`), so the final state is always the one
whose outputs were written, with the counters counted from those outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shared.errors import IllegalTransition

if TYPE_CHECKING:
    from shared.jobs.records import JobRecord
    from shared.jobs.shards import Shard


class JobStatus(StrEnum):
    """Azure ML's job states (azure.ai.ml JobStatus)."""

    QUEUED = "Queued"
    PREPARING = "Preparing"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCEL_REQUESTED = "CancelRequested"
    CANCELED = "Canceled"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED)

    @property
    def active(self) -> bool:
        """Mini-batches may still finish: not yet Finalizing or ended."""
        return self in (JobStatus.QUEUED, JobStatus.PREPARING, JobStatus.RUNNING,
                        JobStatus.CANCEL_REQUESTED)


class StopReason(StrEnum):
    """Why the remaining mini-batches are skipped (NONE: they are not)."""

    NONE = ""
    CANCELED = "canceled"
    ERROR_THRESHOLD = "error_threshold"
    FAILED = "failed"


class Outcome(StrEnum):
    """A mini-batch row's state: pending until counted once as one of the other three."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    CANCELED = "canceled"


@dataclass(frozen=True)
class PagePlanned:
    """Planning wrote `batches` mini-batches of `files` files; no continuation = last page."""

    page: int
    batches: int
    files: int
    continuation: str = ""


@dataclass(frozen=True)
class MiniBatchFinished:
    """Counted in its shard by `tally`, not by `apply`."""

    index: int
    outcome: Outcome
    items_ok: int = 0
    items_failed: int = 0


@dataclass(frozen=True)
class AllCounted:
    """Every shard is full: the job's counters, summed from them."""

    mb_done: int
    mb_failed: int
    mb_canceled: int
    items_ok: int
    items_failed: int


@dataclass(frozen=True)
class FailuresCounted:
    """The items failed so far, summed from the shards after a completion with failures."""

    items_failed: int


@dataclass(frozen=True)
class CancelRequested:
    pass


@dataclass(frozen=True)
class PlanningFailed:
    """The planning message was poisoned: the job goes on with what was planned, and with
    the `written` mini-batch rows of the page that failed after writing them (they may
    have been sent, and counted)."""

    error: str
    written: int = 0


@dataclass(frozen=True)
class AggregationFailed:
    """The aggregation message was poisoned: counted, and aggregation is tried again."""

    error: str


@dataclass(frozen=True)
class OutputsWritten:
    """The aggregator committed the outputs; the counts are those of the files it wrote,
    `first_reasons` the first few distinct reasons in its errors file."""

    items_ok: int
    items_failed: int
    items_canceled: int
    error: str = ""
    first_reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Linked:
    """A retry job and its original point at each other."""

    retry_of: str = ""
    retried_by: str = ""


Event = (PagePlanned | AllCounted | FailuresCounted | CancelRequested | PlanningFailed
         | AggregationFailed | OutputsWritten | Linked)
Changes = dict[str, Any]
_COUNTERS = {Outcome.DONE: "mb_done", Outcome.FAILED: "mb_failed",
             Outcome.CANCELED: "mb_canceled"}


def apply(job: JobRecord, event: Event, now: str) -> Changes | None:
    """The fields `event` changes on `job`, None when it changes nothing."""
    return _RULES[type(event)](job, event, now)


def _page_planned(job: JobRecord, e: PagePlanned, now: str) -> Changes | None:
    if not job.status.active or job.planning_done or e.page != job.plan_pages:
        return None
    planned = job.mb_planned + e.batches
    changes: Changes = {"mb_planned": planned, "files_total": job.files_total + e.files,
                        "plan_pages": e.page + 1, "plan_continuation": e.continuation}
    status = job.status
    if not job.started_at:
        changes["started_at"] = now
    if status == JobStatus.QUEUED:
        status = JobStatus.PREPARING
    if e.batches and status == JobStatus.PREPARING:
        status = JobStatus.RUNNING
    if not e.continuation:
        changes.update(planning_done=True, mb_total=planned)
        if planned == 0 and not job.stop_reason:
            changes.update(stop_reason=StopReason.FAILED,
                           error=f"no input files found at {job.input['uri']}")
        if planned == 0:  # else the completion or the settle that sees all counted does
            status = JobStatus.FINALIZING
    changes["status"] = status
    return changes


def tally(job: JobRecord, shard: Shard, e: MiniBatchFinished) -> Changes | None:
    """The fields a mini-batch's completion changes on its shard row (None: it changes
    nothing). Once planning is done, the shard's last mini-batch marks it full."""
    if not job.status.active or (job.planning_done and e.index >= job.mb_total):
        return None  # late: every mini-batch was accounted for already, or not planned
    if e.outcome == Outcome.PENDING:
        raise IllegalTransition("a mini-batch cannot finish as pending")
    if job.shard_of(e.index) != shard.key:
        raise IllegalTransition(f"mini-batch {e.index} is not counted in shard {shard.key}")
    key = _COUNTERS[e.outcome]
    changes: Changes = {key: getattr(shard, key) + 1, "items_ok": shard.items_ok + e.items_ok,
                        "items_failed": shard.items_failed + e.items_failed}
    if job.planning_done and shard.accounted + 1 >= job.shard_size(shard.key):
        changes["full"] = True
    return changes


def _all_counted(job: JobRecord, e: AllCounted, now: str) -> Changes | None:
    accounted = e.mb_done + e.mb_failed + e.mb_canceled
    if not job.status.active or not job.planning_done or accounted < job.mb_total:
        return None  # ended already, or some shard was not full when read
    return {"mb_done": e.mb_done, "mb_failed": e.mb_failed, "mb_canceled": e.mb_canceled,
            "items_ok": e.items_ok, "items_failed": e.items_failed,
            "status": JobStatus.FINALIZING}


def _failures_counted(job: JobRecord, e: FailuresCounted, now: str) -> Changes | None:
    over = _threshold_error(job, e.items_failed)
    if not job.status.active or job.stop_reason or not over:
        return None
    return {"stop_reason": StopReason.ERROR_THRESHOLD,
            "error": over + "; remaining mini-batches were not scored"}


def _cancel(job: JobRecord, e: CancelRequested, now: str) -> Changes | None:
    if not job.status.active or job.stop_reason:
        return None  # too late, or already stopping
    return {"status": JobStatus.CANCEL_REQUESTED, "stop_reason": StopReason.CANCELED,
            "error": "canceled by request"}


def _planning_failed(job: JobRecord, e: PlanningFailed, now: str) -> Changes | None:
    if not job.status.active or job.planning_done:
        return None
    total = job.mb_planned + e.written
    changes: Changes = {"planning_done": True, "mb_total": total, "mb_planned": total,
                        "error": e.error, "stop_reason": StopReason.FAILED,
                        "started_at": job.started_at or now}
    if total == 0:
        changes["status"] = JobStatus.FINALIZING
    return changes


def _aggregation_failed(job: JobRecord, e: AggregationFailed, now: str) -> Changes | None:
    if job.status.terminal:
        return None
    if job.status != JobStatus.FINALIZING:
        raise IllegalTransition(f"job {job.name} is {job.status}: nothing was aggregating")
    return {"aggregate_failures": job.aggregate_failures + 1}


def _outputs_written(job: JobRecord, e: OutputsWritten, now: str) -> Changes | None:
    if job.status.terminal:
        return None  # an earlier run of the aggregator ended it
    if job.status != JobStatus.FINALIZING:
        raise IllegalTransition(f"job {job.name} is {job.status}: outputs come after "
                                "every mini-batch is in")
    over = _threshold_error(job, e.items_failed)
    if over and e.items_canceled:
        over += f"; {e.items_canceled} items were not scored"
    # the threshold's message with the final counts, not those at the crossing
    error = e.error or (over if job.stop_reason in (StopReason.NONE,
                                                    StopReason.ERROR_THRESHOLD) else "") \
        or job.error
    if e.error or over or job.stop_reason in (StopReason.FAILED, StopReason.ERROR_THRESHOLD):
        status = JobStatus.FAILED
    elif job.stop_reason == StopReason.CANCELED:
        status = JobStatus.CANCELED
    elif e.items_failed and not e.items_ok:
        status = JobStatus.FAILED  # whatever error_threshold allows: nothing succeeded
        error = (f"no item succeeded: all {e.items_failed} failed; first reasons: "
                 + "; ".join(e.first_reasons or ("see errors.csv",)))
    else:
        status = JobStatus.COMPLETED
    return {"status": status, "ended_at": now, "error": error, "items_ok": e.items_ok,
            "items_failed": e.items_failed, "items_canceled": e.items_canceled}


def _linked(job: JobRecord, e: Linked, now: str) -> Changes | None:
    if e.retried_by:
        if job.retried_by == e.retried_by:
            return None
        if not job.status.terminal or job.retried_by:
            raise IllegalTransition(f"job {job.name} cannot be retried by {e.retried_by}")
        return {"retried_by": e.retried_by}
    return None if job.retry_of == e.retry_of else {"retry_of": e.retry_of}


def _threshold_error(job: JobRecord, items_failed: int) -> str:
    threshold = int(job.settings["error_threshold"])
    if threshold < 0 or items_failed <= threshold:
        return ""
    return (f"error_threshold exceeded: {items_failed} items failed, more than the "
            f"{threshold} allowed")


_RULES = {PagePlanned: _page_planned, AllCounted: _all_counted,
          FailuresCounted: _failures_counted,
          CancelRequested: _cancel, PlanningFailed: _planning_failed,
          AggregationFailed: _aggregation_failed, OutputsWritten: _outputs_written,
          Linked: _linked}
