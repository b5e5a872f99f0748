"""Jobs newest first: an index whose key order is creation time descending, so a list pages
in that order by reading rows in key order, never by sorting every job.

Each job has two index rows, written at invoke before the 202 (and again, harmlessly, when a
repeated request finds its job): one in the partition of all jobs and one in the partition of
the endpoint incarnation that runs it (an endpoint re-created under a deleted one's name is a
new incarnation and lists none of the old jobs). The RowKey is the inverted creation time in
milliseconds and the job name, so Table storage returns the newest first and two jobs of the
same millisecond in name order. Rows are derived from the job row alone, so writing one again
is idempotent.

Jobs recorded before this index existed have no rows: lists backfill them from the previous
index (table `jobindex`, one small row per job in name order), 100 jobs to a transaction, for
at most a few seconds per list call, the place reached kept in a marker row until it is done.
Until then the oldest jobs may be missing from lists; backfills running at once write the
same rows. Those jobs belong to the endpoint incarnation "" (endpoints from before
incarnations have "" too; one re-created since has a new incarnation, as it should).
"""

from __future__ import annotations

import json
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
_BACKFILL_BATCH = 100  # previous index rows per step: one transaction per partition
_BACKFILL_SECONDS = 3.0  # of one list call


def endpoint_partition(endpoint: str, incarnation: str) -> str:
    return f"endpoint:{endpoint}:{incarnation}"


def add(storage: Storage, job: JobRecord) -> None:
    """Index the job in the list of all jobs and in its endpoint incarnation's list."""
    table = storage.table(config.TABLE_JOBS_BY_TIME)
    for row in _index_rows(job.name, job.endpoint_name, job.deployment_name, job.created_at,
                           job.endpoint_incarnation):
        table.upsert_entity(row)


def _index_rows(name: str, endpoint: str, deployment: str, created_at: str,
                incarnation: str) -> list[dict[str, Any]]:
    ms = int(datetime.fromisoformat(created_at).timestamp() * 1000)
    columns = {"RowKey": f"{_MS_CEILING - 1 - ms:013d}-{name}", "job": name,
               "endpoint_name": endpoint, "deployment_name": deployment,
               "created_at": created_at}
    return [{"PartitionKey": partition, **columns}
            for partition in (ALL, endpoint_partition(endpoint, incarnation))]


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
    """Index, in bounded steps, the jobs the previous index lists (module docstring)."""
    table = storage.table(config.TABLE_JOBS_BY_TIME)  # made on first use
    try:
        marker = storage.rows.get_entity(config.TABLE_JOBS_BY_TIME, *_MARKER)
    except ResourceNotFoundError:
        marker = {}
    if marker.get("done"):
        return
    previous = storage.tables.get_table_client(config.TABLE_PREVIOUS_JOB_INDEX)
    token = json.loads(marker["continuation"]) if marker.get("continuation") else None
    pages = previous.query_entities("PartitionKey eq 'jobs'",
                                    results_per_page=_BACKFILL_BATCH).by_page(token)
    deadline = time.monotonic() + _BACKFILL_SECONDS
    try:
        for page in pages:
            by_partition: dict[str, list[tuple]] = {}
            for old in page:
                for row in _index_rows(old["RowKey"], old["endpoint_name"],
                                       old["deployment_name"], old["created_at"], ""):
                    by_partition.setdefault(row["PartitionKey"], []).append(("upsert", row))
            for operations in by_partition.values():
                table.submit_transaction(operations)
            following = pages.continuation_token
            table.upsert_entity({"PartitionKey": _MARKER[0], "RowKey": _MARKER[1],
                                 "continuation": json.dumps(following) if following else "",
                                 "done": not following})
            if following and time.monotonic() > deadline:
                return  # the next list goes on from here
    except ResourceNotFoundError:  # no previous index: nothing to backfill
        pass
    table.upsert_entity({"PartitionKey": _MARKER[0], "RowKey": _MARKER[1],
                         "continuation": "", "done": True})
