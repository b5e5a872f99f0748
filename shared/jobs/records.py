"""The job row and mini-batch rows in the jobs table, read and written as one typed record.

Every change to a job row goes through `update_job` (or, for a mini-batch's completion,
fanin.complete): read, ask lifecycle what an event changes, write under the row's ETag,
retry on a conflict (shared/conflicts.py).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from shared import config
from shared.conflicts import retry_on_conflict
from shared.errors import ConcurrentUpdate, NotFoundError
from shared.jobs import lifecycle, sources
from shared.jobs.lifecycle import JobStatus, Outcome, StopReason
from shared.storage.clients import Storage

JOB_ROW = "job"
PREFETCH = 2  # mini-batches in flight per scoring slot (window)
SHARDS_MAX = 256  # counter rows of a job at most: a running job's view reads them all
_JSON_FIELDS = ("input", "output", "deployment", "settings", "literals")


def mb_row(index: int) -> str:
    return f"mb-{index:08d}"


def now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class JobRecord:
    """A job row as read, with the ETag that guards the next write."""

    name: str
    endpoint_name: str
    deployment_name: str
    model_id: str
    input: dict[str, Any]
    output: dict[str, Any]
    settings: dict[str, Any]
    deployment: dict[str, Any]
    literals: dict[str, Any] = field(default_factory=dict)  # literal inputs: name → value
    status: JobStatus = JobStatus.QUEUED
    stop_reason: StopReason = StopReason.NONE
    error: str = ""
    started_by: str = "http"
    request_id: str = ""
    created_at: str = ""
    started_at: str = ""
    ended_at: str = ""
    planning_done: bool = False
    plan_pages: int = 0
    plan_continuation: str = ""
    mb_total: int = -1
    mb_planned: int = 0
    files_total: int = 0
    mb_done: int = 0
    mb_failed: int = 0
    mb_canceled: int = 0
    items_ok: int = 0
    items_failed: int = 0
    items_canceled: int = 0
    aggregate_failures: int = 0
    events_state: str = ""
    events_delivered: str = ""
    retry_of: str = ""
    endpoint_incarnation: str = ""  # which endpoint of that name ran it (jobindex.py)
    retried_by: str = ""
    shards: int = 1  # rows its mini-batch counters are spread over (shards.py)
    watch_token: str = ""  # the watchdog chain that is current (watchdog.py)
    watch_due: float = 0.0  # when its next check is due (epoch seconds)
    aggregating_until: float = 0.0  # an aggregator run's claim (aggregate.py)
    etag: str = field(default="", compare=False)

    @property
    def accounted(self) -> int:
        return self.mb_done + self.mb_failed + self.mb_canceled

    @property
    def all_accounted(self) -> bool:
        return self.planning_done and self.accounted >= self.mb_total

    @property
    def window(self) -> int:
        """Mini-batches in flight at once: one being scored and one ahead (downloading,
        decoding) per slot of instance_count × max_concurrency_per_instance, so a slot's cores
        never wait for storage between two mini-batches."""
        s = self.settings
        return PREFETCH * int(s["instance_count"]) * int(s["max_concurrency_per_instance"])

    def shard_of(self, index: int) -> int:
        return index % self.shards

    def shard_size(self, key: int) -> int:
        """Mini-batches counted in shard `key` (the total is known once planning is done)."""
        return max(0, (self.mb_total - key + self.shards - 1) // self.shards)

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> JobRecord:
        known = {f.name for f in dataclasses.fields(cls)} - {"etag"}
        values = {k: v for k, v in entity.items() if k in known}
        for key in _JSON_FIELDS:
            if isinstance(values.get(key), str):
                values[key] = json.loads(values[key])
        values["status"] = JobStatus(values.get("status", JobStatus.QUEUED))
        values["stop_reason"] = StopReason(values.get("stop_reason", ""))
        values["planning_done"] = bool(values.get("planning_done"))
        etag = entity.metadata["etag"] if hasattr(entity, "metadata") else ""
        return cls(**values, etag=etag)

    def to_entity(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        del values["etag"]
        return {"PartitionKey": self.name, "RowKey": JOB_ROW, **_columns(values)}

    def with_changes(self, changes: dict[str, Any]) -> JobRecord:
        return dataclasses.replace(self, **changes)


def _columns(values: dict[str, Any]) -> dict[str, Any]:
    """Field values as table columns: JSON for the nested ones, plain str for enums."""
    out = {}
    for key, value in values.items():
        if key in _JSON_FIELDS and not isinstance(value, str):
            value = json.dumps(value)
        elif isinstance(value, Enum):
            value = value.value
        out[key] = value
    return out


def table(storage: Storage) -> TableClient:
    return storage.table(config.TABLE_JOBS)


def new_job_entity(name: str, fields: dict[str, Any]) -> dict[str, Any]:
    job = JobRecord(name=name, created_at=now(), **fields)
    return job.with_changes({"shards": min(SHARDS_MAX, job.window)}).to_entity()


def load(storage: Storage, name: str) -> JobRecord:
    try:
        entity = storage.rows.get_entity(config.TABLE_JOBS, name, JOB_ROW)
    except ResourceNotFoundError:
        raise NotFoundError(f"job {name} not found") from None
    return JobRecord.from_entity(entity)


def find(storage: Storage, name: str) -> JobRecord | None:
    try:
        return load(storage, name)
    except NotFoundError:
        return None


def update_op(job: JobRecord, changes: dict[str, Any]) -> tuple:
    """A transaction operation: merge `changes` into the job row if it is unchanged."""
    entity = {"PartitionKey": job.name, "RowKey": JOB_ROW, **_columns(changes)}
    return ("update", entity, {"mode": UpdateMode.MERGE, "etag": job.etag,
                               "match_condition": MatchConditions.IfNotModified})


def minibatch_op(job_name: str, index: int, etag: str, changes: dict[str, Any]) -> tuple:
    """A transaction operation: merge `changes` into a mini-batch row if it is unchanged."""
    entity = {"PartitionKey": job_name, "RowKey": mb_row(index), **_columns(changes)}
    return ("update", entity, {"mode": UpdateMode.MERGE, "etag": etag,
                               "match_condition": MatchConditions.IfNotModified})


def submit(storage: Storage, operations: list[tuple]) -> None:
    """One entity-group transaction (through the lean writer: tabletransactions.py); a 412
    on any row (or a 409: a row it creates was made meanwhile) raises ConcurrentUpdate."""
    jobs = table(storage)  # made on first use
    try:
        storage.transactions.submit(jobs.table_name, operations)
    except (TableTransactionError, HttpResponseError) as e:
        if e.status_code in (409, 412):
            raise ConcurrentUpdate(str(e)) from e
        raise


def update_job(storage: Storage, name: str,
               event: lifecycle.Event | Callable[[JobRecord], dict[str, Any] | None]
               ) -> tuple[JobRecord, bool]:
    """Apply a lifecycle event (or, for bookkeeping outside the lifecycle, a change function)
    under optimistic concurrency; returns (job after, changed?)."""

    def attempt() -> tuple[JobRecord, bool]:
        job = load(storage, name)
        changes = (event(job) if callable(event)
                   else lifecycle.apply(job, event, now()))
        if job.status.terminal:  # (again, if the run that ended the job died before it)
            sources.forget_secret(storage, name, job.input)
        if not changes:
            return job, False
        submit(storage, [update_op(job, changes)])
        after = job.with_changes(changes)
        if after.status.terminal and not job.status.terminal:
            sources.forget_secret(storage, name, job.input)  # kept only while the job runs
        return after, True

    return retry_on_conflict(attempt, f"job {name}")


def get_row(storage: Storage, job: str, row_key: str) -> dict[str, Any] | None:
    try:
        return storage.rows.get_entity(config.TABLE_JOBS, job, row_key)
    except ResourceNotFoundError:
        return None


def get_minibatch(storage: Storage, job: str, index: int) -> tuple[dict[str, Any], str] | None:
    entity = get_row(storage, job, mb_row(index))
    return None if entity is None else (entity, entity.metadata["etag"])


def minibatch_rows(storage: Storage, job: str, start: int = 0,
                   end: int | None = None) -> Iterator[dict[str, Any]]:
    """Mini-batch rows in index order (Table storage returns rows sorted by RowKey)."""
    upper = mb_row(end) if end is not None else "mb-~"
    yield from table(storage).query_entities(
        "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
        parameters={"pk": job, "lo": mb_row(start), "hi": upper},
    )


def mark_minibatch(storage: Storage, job: str, index: int, fields: dict[str, Any]) -> None:
    """Merge bookkeeping `fields` (never its state) into a mini-batch row."""
    table(storage).update_entity({"PartitionKey": job, "RowKey": mb_row(index), **fields},
                                 mode=UpdateMode.MERGE)


def row_index(row: dict[str, Any]) -> int:
    return int(row["RowKey"][3:])


def pending(row: dict[str, Any]) -> bool:
    return row["state"] == Outcome.PENDING


def log(storage: Storage, job: str, message: str) -> None:
    """Append a line to the job's progress log (rows `log-<time>-<random>`)."""
    stamp = now()
    table(storage).create_entity({
        "PartitionKey": job, "RowKey": f"log-{stamp}-{uuid.uuid4().hex[:6]}",
        "at": stamp, "message": message,
    })


def log_lines(storage: Storage, job: str) -> list[tuple[str, str]]:
    rows = table(storage).query_entities(
        "PartitionKey eq @pk and RowKey ge 'log-' and RowKey lt 'log.'", parameters={"pk": job})
    return [(r["at"], r["message"]) for r in rows]
