"""Jobs newest first: an index whose key order is creation time descending, so a list pages
in that order by reading rows in key order, never by sorting every job.

Each job has two index rows, written at invoke before the 202 (and again, harmlessly, when a
repeated request finds its job): one in the partition of all jobs and one in the partition of
the endpoint incarnation that runs it (an endpoint re-created under a deleted one's name is a
new incarnation and lists none of the old jobs). The RowKey is the inverted creation time in
milliseconds and the job name, so Table storage returns the newest first and two jobs of the
same millisecond in name order. Rows are derived from the job row alone, so writing one again
is idempotent.

Jobs recorded before this index existed have no rows: the first list backfills them once from
the jobs table (a marker row says it was done; concurrent backfills write the same rows).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared import config
from shared.jobs import records, shards
from shared.jobs.records import JobRecord
from shared.resources import paging
from shared.storage.clients import Storage

ALL = "all"
_MARKER = ("meta", "backfilled")
_MS_CEILING = 10**13  # milliseconds since 1970 stay below this until the year 2286
_PAGE_SECONDS = 5.0  # a sparse filter reads index rows in bounded steps, then hands a token


def endpoint_partition(endpoint: str, incarnation: str) -> str:
    return f"endpoint:{endpoint}:{incarnation}"


def row_key(job: JobRecord) -> str:
    ms = int(datetime.fromisoformat(job.created_at).timestamp() * 1000)
    return f"{_MS_CEILING - 1 - ms:013d}-{job.name}"


def add(storage: Storage, job: JobRecord) -> None:
    """Index the job in the list of all jobs and in its endpoint incarnation's list."""
    columns = {"RowKey": row_key(job), "job": job.name, "endpoint_name": job.endpoint_name,
               "deployment_name": job.deployment_name, "created_at": job.created_at}
    table = storage.table(config.TABLE_JOBS_BY_TIME)
    for partition in (ALL, endpoint_partition(job.endpoint_name, job.endpoint_incarnation)):
        table.upsert_entity({"PartitionKey": partition, **columns})


def page(storage: Storage, request: paging.PageRequest, *, partition: str = ALL,
         endpoint: str | None = None, deployment: str | None = None,
         keep: Callable[[JobRecord], bool] = lambda job: True) -> paging.Page:
    """A page of jobs, newest first. `endpoint` and `deployment` filter in the table query;
    `keep` (state, name search) filters the loaded jobs, so a page may come back short with
    a token when a sparse filter would otherwise read on for long."""
    _backfill_once(storage)
    after = (request.token or {}).get("RowKey", "")
    deadline = time.monotonic() + _PAGE_SECONDS
    jobs: list[JobRecord] = []
    rows = _rows(storage, partition, after, request.top, endpoint, deployment)
    for row in rows:
        job = records.find(storage, row["job"])
        if job is not None and keep(job):
            jobs.append(shards.live(storage, job))
        if len(jobs) >= request.top or time.monotonic() > deadline:
            more = next(rows, None) is not None
            return paging.Page(jobs, paging.encode_token({"RowKey": row["RowKey"]})
                               if more else None)
    return paging.Page(jobs, None)


def all_jobs(storage: Storage, *, endpoint: str | None = None,
             deployment: str | None = None) -> Iterator[JobRecord]:
    """Every job (of one endpoint name and deployment), newest first, as stored."""
    _backfill_once(storage)
    for row in _rows(storage, ALL, "", 1000, endpoint, deployment):
        if (job := records.find(storage, row["job"])) is not None:
            yield job


def running_jobs(storage: Storage, *, endpoint: str | None = None,
                 deployment: str | None = None, model_id: str | None = None) -> list[str]:
    """Names of jobs not ended yet that use this deployment or model version."""
    return [j.name for j in all_jobs(storage, endpoint=endpoint, deployment=deployment)
            if not j.status.terminal and (model_id is None or j.model_id == model_id)]


def _rows(storage: Storage, partition: str, after: str, per_page: int,
          endpoint: str | None, deployment: str | None) -> Iterator[dict[str, Any]]:
    clauses = ["PartitionKey eq @pk", "RowKey gt @after"]
    params = {"pk": partition, "after": after}
    for column, value in (("endpoint_name", endpoint), ("deployment_name", deployment)):
        if value:
            clauses.append(f"{column} eq @{column}")
            params[column] = value
    return iter(storage.table(config.TABLE_JOBS_BY_TIME).query_entities(
        " and ".join(clauses), parameters=params, results_per_page=per_page,
        select=["RowKey", "job"]))


def _backfill_once(storage: Storage) -> None:
    table = storage.table(config.TABLE_JOBS_BY_TIME)  # made on first use
    try:
        storage.rows.get_entity(config.TABLE_JOBS_BY_TIME, *_MARKER)
        return
    except ResourceNotFoundError:
        pass
    for entity in records.table(storage).query_entities(f"RowKey eq '{records.JOB_ROW}'"):
        add(storage, records.JobRecord.from_entity(entity))
    table.upsert_entity({"PartitionKey": _MARKER[0], "RowKey": _MARKER[1]})
