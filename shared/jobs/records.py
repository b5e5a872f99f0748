"""The job row and mini-batch rows in the jobs table, and the states jobs move through."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from shared import config
from shared.errors import BatchEndpointError, NotFoundError
from shared.storage.clients import Storage

# Azure ML's job states (azure.ai.ml JobStatus).
QUEUED = "Queued"
PREPARING = "Preparing"
RUNNING = "Running"
FINALIZING = "Finalizing"
COMPLETED = "Completed"
FAILED = "Failed"
CANCEL_REQUESTED = "CancelRequested"
CANCELED = "Canceled"
TERMINAL = (COMPLETED, FAILED, CANCELED)

# Mini-batch outcomes.
PENDING = "pending"
DONE = "done"
MB_FAILED = "failed"
MB_CANCELED = "canceled"

JOB_ROW = "job"
_JSON_FIELDS = ("input", "output", "deployment", "settings")


def mb_row(index: int) -> str:
    return f"mb-{index:08d}"


def now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Job:
    """A job row as read, with the ETag that guards the next write."""

    entity: dict[str, Any]
    etag: str

    def __getattr__(self, key: str) -> Any:
        try:
            return self.entity[key]
        except KeyError:
            raise AttributeError(key) from None

    @property
    def accounted(self) -> int:
        return self.mb_done + self.mb_failed + self.mb_canceled

    @property
    def all_accounted(self) -> bool:
        return bool(self.planning_done) and self.accounted >= self.mb_total

    @property
    def window(self) -> int:
        s = self.settings
        return int(s["instance_count"]) * int(s["max_concurrency_per_instance"])


def table(storage: Storage) -> TableClient:
    return storage.table(config.TABLE_JOBS)


def new_job_entity(name: str, fields: dict[str, Any]) -> dict[str, Any]:
    entity = {
        "PartitionKey": name, "RowKey": JOB_ROW, "name": name, "status": QUEUED,
        "created_at": now(), "started_at": "", "ended_at": "", "error": "", "stop_reason": "",
        "planning_done": False, "plan_pages": 0, "plan_continuation": "", "mb_total": -1,
        "mb_planned": 0, "files_total": 0, "mb_done": 0, "mb_failed": 0, "mb_canceled": 0,
        "items_ok": 0, "items_failed": 0, "events_state": "", "events_delivered": "",
        **fields,
    }
    return _to_entity(entity)


def _to_entity(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for key in _JSON_FIELDS:
        if key in out and not isinstance(out[key], str):
            out[key] = json.dumps(out[key])
    return out


def _from_entity(entity: dict[str, Any]) -> dict[str, Any]:
    out = dict(entity)
    for key in _JSON_FIELDS:
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    return out


def load(storage: Storage, name: str) -> Job:
    try:
        entity = table(storage).get_entity(name, JOB_ROW)
    except ResourceNotFoundError:
        raise NotFoundError(f"job {name} not found") from None
    return Job(entity=_from_entity(entity), etag=entity.metadata["etag"])


def find(storage: Storage, name: str) -> Job | None:
    try:
        return load(storage, name)
    except NotFoundError:
        return None


def index_job(storage: Storage, job: dict[str, Any]) -> None:
    """Listing reads this small index instead of scanning every job's mini-batch rows."""
    storage.table(config.TABLE_JOB_INDEX).upsert_entity({
        "PartitionKey": "jobs", "RowKey": job["name"], "endpoint_name": job["endpoint_name"],
        "deployment_name": job["deployment_name"], "created_at": job["created_at"]})


def list_jobs(storage: Storage, *, endpoint: str | None = None,
              deployment: str | None = None, status: str | None = None) -> list[Job]:
    """Jobs, newest first, optionally of one endpoint/deployment and in one state."""
    clauses, params = ["PartitionKey eq 'jobs'"], {}
    if endpoint:
        clauses.append("endpoint_name eq @e")
        params["e"] = endpoint
    if deployment:
        clauses.append("deployment_name eq @d")
        params["d"] = deployment
    rows = storage.table(config.TABLE_JOB_INDEX).query_entities(
        " and ".join(clauses), parameters=params)
    jobs = [job for row in rows if (job := find(storage, row["RowKey"])) is not None]
    if status:
        jobs = [j for j in jobs if j.status == status]
    return sorted(jobs, key=lambda j: j.created_at, reverse=True)


def update_op(job: Job, changes: dict[str, Any]) -> tuple:
    """A transaction operation: merge `changes` into the job row if it is unchanged."""
    entity = {"PartitionKey": job.name, "RowKey": JOB_ROW, **_to_entity(changes)}
    return ("update", entity, {"mode": UpdateMode.MERGE, "etag": job.etag,
                               "match_condition": MatchConditions.IfNotModified})


def minibatch_op(job_name: str, index: int, etag: str, changes: dict[str, Any]) -> tuple:
    """A transaction operation: merge `changes` into a mini-batch row if it is unchanged."""
    entity = {"PartitionKey": job_name, "RowKey": mb_row(index), **changes}
    return ("update", entity, {"mode": UpdateMode.MERGE, "etag": etag,
                               "match_condition": MatchConditions.IfNotModified})


class ConcurrentUpdate(BatchEndpointError):
    """Someone else changed the row first (HTTP 412): read again and retry."""


def submit(storage: Storage, operations: list[tuple]) -> None:
    try:
        table(storage).submit_transaction(operations)
    except TableTransactionError as e:
        if e.status_code == 412:
            raise ConcurrentUpdate(str(e)) from e
        raise
    except HttpResponseError as e:
        if e.status_code == 412:
            raise ConcurrentUpdate(str(e)) from e
        raise


def update_job(
    storage: Storage, name: str, change: Callable[[Job], dict[str, Any] | None]
) -> tuple[Job, bool]:
    """Apply `change(job)` under optimistic concurrency; returns (job after, changed?).

    `change` returns the fields to merge, or None to leave the job as it is.
    """
    for attempt in range(100):
        job = load(storage, name)
        changes = change(job)
        if not changes:
            return job, False
        try:
            submit(storage, [update_op(job, changes)])
        except ConcurrentUpdate:
            backoff(attempt)
            continue
        return load(storage, name), True
    raise ConcurrentUpdate(f"job {name}: too much contention updating the job row")


def backoff(attempt: int) -> None:
    time.sleep(min(0.2, 0.005 * (2 ** min(attempt, 6))) * random.random())


def get_minibatch(storage: Storage, job: str, index: int) -> tuple[dict[str, Any], str] | None:
    try:
        entity = table(storage).get_entity(job, mb_row(index))
    except ResourceNotFoundError:
        return None
    return entity, entity.metadata["etag"]


def minibatch_rows(storage: Storage, job: str, start: int = 0,
                   end: int | None = None) -> Iterator[dict[str, Any]]:
    """Mini-batch rows in index order (Table storage returns rows sorted by RowKey)."""
    upper = mb_row(end) if end is not None else "mb-~"
    yield from table(storage).query_entities(
        "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
        parameters={"pk": job, "lo": mb_row(start), "hi": upper},
    )


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
