"""Planning: list a job's input one page per run and write its mini-batches.

Each run handles one listing page (at most 5,000 blobs) and hands the continuation token to
the next run through the queue, so memory stays flat and no run comes near its timeout
whatever the folder size. Mini-batch rows are written before they are dispatched and before
the job row moves on, so a run that dies part-way is simply done again.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobPrefix

from shared import config
from shared.events import outbound
from shared.jobs import paths, records
from shared.jobs.records import FINALIZING, PENDING, PREPARING, QUEUED, RUNNING, TERMINAL, Job
from shared.messages import (
    AGGREGATE_QUEUE,
    PLAN_QUEUE,
    SCORE_QUEUE,
    AggregateJob,
    PlanPage,
    ScoreMiniBatch,
)
from shared.storage.clients import Storage

LIST_PAGE_LIMIT = 5000  # Azure Blob storage's maximum page size
INLINE_FILES_LIMIT = 30_000  # characters of file list kept in the table row itself
TRANSACTION_LIMIT = 100  # entity-group transaction size limit


def plan_page(storage: Storage, msg: PlanPage) -> None:
    job = records.load(storage, msg.job)
    if job.status in TERMINAL or job.planning_done:
        return
    if msg.page < job.plan_pages:
        # A redelivery after the job row moved on: make sure the next page was sent.
        if msg.page == job.plan_pages - 1 and job.plan_continuation:
            storage.send(PLAN_QUEUE, PlanPage(job.name, msg.page + 1, job.plan_continuation))
        return
    if msg.page > job.plan_pages:
        raise RuntimeError(f"job {job.name}: page {msg.page} arrived before page {job.plan_pages}")
    if job.stop_reason:
        _follow_up(storage, _finish(storage, job.name, msg.page, [], None), msg.page, None)
        return
    if msg.page == 0:
        records.log(storage, job.name, f"planning: listing {job.input['uri']}")
    files, token = list_page(storage, job, msg.continuation)
    size = int(job.settings["mini_batch_size"])
    batches = [files[i:i + size] for i in range(0, len(files), size)]
    start = job.mb_planned
    write_minibatches(storage, job.name, start, batches)
    dispatch_new(storage, job, start, len(batches))
    _follow_up(storage, _finish(storage, job.name, msg.page, batches, token), msg.page, token)


def _follow_up(storage: Storage, job: Job, page: int, token: str | None) -> None:
    """Next page, or the aggregation if everything finished already, or the end event."""
    if token and not job.planning_done:
        storage.send(PLAN_QUEUE, PlanPage(job.name, page + 1, token))
    elif job.status == FINALIZING:
        storage.send(AGGREGATE_QUEUE, AggregateJob(job=job.name))
    else:
        outbound.announce_if_pending(storage, job)


def list_page(storage: Storage, job: Job, continuation: str | None) -> tuple[list[str], str | None]:
    """One page of the input's files (folders are read flat, as Azure ML does)."""
    source = job.input
    if source["type"] == paths.URI_FILE:
        return [source["path"]], None
    batch = int(job.settings["mini_batch_size"])  # at most 1,000, so a page holds whole batches
    size = (LIST_PAGE_LIMIT // batch) * batch
    if source.get("manifest"):
        return _manifest_page(storage, source["manifest"], int(continuation or 0), size)
    prefix = f"{source['path']}/" if source["path"] else ""
    container = storage.blobs.get_container_client(source["container"])
    pager = container.walk_blobs(name_starts_with=prefix, delimiter="/",
                                 results_per_page=size).by_page(continuation_token=continuation)
    page = next(pager, [])
    names = [b.name for b in page if not isinstance(b, BlobPrefix)]
    return names, pager.continuation_token or None


def _manifest_page(storage: Storage, manifest: str, offset: int,
                   size: int) -> tuple[list[str], str | None]:
    """A page of an explicit file list (a drop's arrivals) instead of a folder listing."""
    names = json.loads(storage.container(config.JOBS_CONTAINER).download_blob(manifest).readall())
    page = names[offset:offset + size]
    return page, str(offset + size) if offset + size < len(names) else None


def write_minibatches(storage: Storage, job: str, start: int, batches: list[list[str]]) -> None:
    """Create the mini-batch rows; rows that exist already (a repeated run) are kept as they are."""
    entities = [_row(storage, job, start + i, files) for i, files in enumerate(batches)]
    table = records.table(storage)
    for i in range(0, len(entities), TRANSACTION_LIMIT):
        chunk = entities[i:i + TRANSACTION_LIMIT]
        try:
            table.submit_transaction([("create", e) for e in chunk])
        except records.TableTransactionError as e:
            if e.status_code != 409:
                raise
            for entity in chunk:
                with contextlib.suppress(ResourceExistsError):
                    table.create_entity(entity)


def _row(storage: Storage, job: str, index: int, files: list[str]) -> dict[str, Any]:
    entity: dict[str, Any] = {"PartitionKey": job, "RowKey": records.mb_row(index),
                              "state": PENDING, "file_count": len(files)}
    text = json.dumps(files)
    if len(text) <= INLINE_FILES_LIMIT:
        entity["files"] = text
    else:
        path = f"{job}/plan/{index:08d}.json"
        storage.container(config.JOBS_CONTAINER).upload_blob(path, text, overwrite=True)
        entity["files_blob"] = path
    return entity


def files_of(storage: Storage, row: dict[str, Any]) -> list[str]:
    if "files_blob" in row and row["files_blob"]:
        blob = storage.container(config.JOBS_CONTAINER).download_blob(row["files_blob"])
        return json.loads(blob.readall())
    return json.loads(row["files"])


def dispatch_new(storage: Storage, job: Job, start: int, count: int) -> None:
    """Send the new mini-batches whose slot in the job's window is free.

    Mini-batch j may run once j-window has finished. Completions dispatch their successor if
    its row exists; rows are written before this check, so one side always sees the other.
    """
    window = job.window
    finished = {
        int(r["RowKey"][3:])
        for r in records.minibatch_rows(storage, job.name, max(0, start - window), start)
        if r["state"] != PENDING
    }
    for j in range(start, start + count):
        if j < window or (j - window < start and j - window in finished):
            storage.send(SCORE_QUEUE, ScoreMiniBatch(job=job.name, index=j))


def _finish(storage: Storage, name: str, page: int, batches: list[list[str]],
            token: str | None) -> Job:
    def change(job: Job) -> dict[str, Any] | None:
        if job.plan_pages != page or job.status in TERMINAL:
            return None
        planned = job.mb_planned + len(batches)
        changes: dict[str, Any] = {
            "mb_planned": planned,
            "files_total": job.files_total + sum(len(b) for b in batches),
            "plan_pages": page + 1,
            "plan_continuation": token or "",
        }
        if job.status == QUEUED:
            changes.update(status=PREPARING, started_at=records.now())
        if batches and job.status in (QUEUED, PREPARING):
            changes["status"] = RUNNING
        if not token or job.stop_reason:
            changes.update(planning_done=True, mb_total=planned)
            if planned == 0 and job.stop_reason == "canceled":
                changes.update(status=records.CANCELED, ended_at=records.now())
            elif planned == 0:
                changes.update(status=records.FAILED, ended_at=records.now(),
                               error=f"no input files found at {job.input['uri']}")
            elif job.accounted >= planned:
                changes["status"] = FINALIZING
        return changes

    job, changed = records.update_job(storage, name, change)
    if changed and job.planning_done:
        records.log(storage, name, f"planning done: {job.files_total} files in "
                    f"{job.mb_total} mini-batches")
    return job
