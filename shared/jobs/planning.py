"""Planning: list a job's input one page per run and write its mini-batches.

Each run handles one listing page (at most 5,000 blobs) and hands the continuation token to
the next run through the queue, so memory stays flat and no run comes near its timeout
whatever the folder size. Mini-batch rows are written before they are dispatched and before
the job row moves on, so a run that dies part-way is simply done again.

Each file is listed once per job with the version (ETag) seen when it was listed; scoring
reads exactly that version, so a file overwritten mid-job fails with a clear reason instead
of being scored twice or in two versions.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableTransactionError

from shared import config
from shared.errors import RetryableError
from shared.events import outbound
from shared.jobs import (
    lifecycle,
    manifests,
    paths,
    records,
    shards,
    sources,
    splitting,
    watchdog,
)
from shared.jobs.inputs import InputRef, Part
from shared.jobs.lifecycle import JobStatus, Outcome
from shared.jobs.records import JobRecord
from shared.messages import (
    AGGREGATE_QUEUE,
    PLAN_QUEUE,
    SCORE_QUEUE,
    AggregateJob,
    PlanPage,
    ScoreMiniBatch,
)
from shared.resources.settings import batching
from shared.storage.clients import Storage

__all__ = ["InputRef", "Part", "plan_page"]

LIST_PAGE_LIMIT = 5000  # Azure Blob storage's maximum page size
# A folder's first page holds only the job's first two windows of mini-batches: they start
# after listing that many (the plan run of a 480-file folder on Azurite: 100–130 ms with a
# first page of 64 files, 210–230 ms with all 480), and the rest is listed while they run.
FIRST_PAGE_WINDOWS = 2
_PINS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="pin")  # _current's lookups
INLINE_FILES_LIMIT = 30_000  # characters of file list kept in the table row itself
TRANSACTION_LIMIT = 100  # entity-group transaction size limit


Listing = Callable[[Storage, JobRecord, str | None], tuple[list[InputRef], str | None]]


def plan_page(storage: Storage, msg: PlanPage, listing: Listing | None = None) -> None:
    """Plan one listing page; `listing` stands in for the input's listing (list_page) in
    bench.plan's simulation of a folder too big to upload."""
    job = records.load(storage, msg.job)
    if job.planning_done and not job.status.terminal:
        follow_up(storage, job)  # a redelivery after the last page: settle the counts again
    if job.status.terminal or job.planning_done:
        return
    if msg.page < job.plan_pages:
        # A redelivery after the job row moved on: make sure the next page was sent.
        if msg.page == job.plan_pages - 1 and job.plan_continuation:
            storage.send(PLAN_QUEUE, PlanPage(job.name, msg.page + 1, job.plan_continuation))
        return
    if msg.page > job.plan_pages:
        raise RetryableError(f"job {job.name}: page {msg.page} arrived before page "
                             f"{job.plan_pages}")
    if msg.page == 0:
        records.log(storage, job.name, f"planning: listing {job.input['uri']}")
        watchdog.arm(storage, job.name)
    files, token = recorded_page(storage, job, msg, listing or list_page)
    batches = splitting.batches(sources.for_job(storage, job.name, job.input).container,
                                job.settings, job.deployment["scoring"]["input"], files)
    start = job.mb_planned
    write_minibatches(storage, job.name, start, batches)
    dispatch_new(storage, job, start, len(batches))  # when stopping, each is skipped in turn
    event = lifecycle.PagePlanned(msg.page, len(batches), len(files), token or "")
    job, changed = records.update_job(storage, job.name, event)
    if changed and job.planning_done:
        records.log(storage, job.name, f"planning done: {job.files_total} files in "
                    f"{job.mb_total} mini-batches")
    follow_up(storage, job)


def follow_up(storage: Storage, job: JobRecord) -> None:
    """Next page; or, planning done, count the shards that filled before the total was
    known, then the aggregation if everything finished already, or the end event."""
    if job.plan_continuation and not job.planning_done:
        storage.send(PLAN_QUEUE, PlanPage(job.name, job.plan_pages, job.plan_continuation))
        return
    job = shards.settle_all(storage, job)
    if job.status == JobStatus.FINALIZING:
        storage.send(AGGREGATE_QUEUE, AggregateJob(job=job.name))
    else:
        outbound.announce_if_pending(storage, job)


def page_path(job: str, page: int) -> str:
    return f"{job}/plan/pages/{page:08d}.json"


def recorded_page(storage: Storage, job: JobRecord, msg: PlanPage,
                  listing: Listing) -> tuple[list[InputRef], str | None]:
    """The page's files and continuation as its first run listed them. The listing is
    recorded (create-only) before any mini-batch row is written, so a redelivered plan
    message — after a crash, while files keep arriving — plans the very files the first run
    did, never a new listing: no file twice, no new file half in."""
    files, token = listing(storage, job, msg.continuation)
    container = storage.container(config.JOBS_CONTAINER)
    path = page_path(job.name, msg.page)
    doc = {"files": [{**f.to_json(), "s": f.size} for f in files], "continuation": token or ""}
    try:
        container.upload_blob(path, json.dumps(doc, separators=(",", ":")), overwrite=False)
        return files, token
    except ResourceExistsError:
        doc = json.loads(container.download_blob(path).readall())
    return ([replace(InputRef.from_json(e), size=e.get("s", 0)) for e in doc["files"]],
            doc["continuation"] or None)


def list_page(storage: Storage, job: JobRecord,
              continuation: str | None) -> tuple[list[InputRef], str | None]:
    """One page of the input's files (folders are read flat, as Azure ML does)."""
    source = job.input
    where = sources.for_job(storage, job.name, source)
    container = where.container
    how = batching(job.settings["mini_batch_size"])  # files: at most 1,000, so a page holds
    size = (LIST_PAGE_LIMIT // how.amount) * how.amount if how.files else LIST_PAGE_LIMIT
    if source.get("manifest"):
        return _manifest_page(storage, job, container, int(continuation or 0), size)
    if source["type"] == paths.URI_FILE:
        return [_current(container, InputRef(source["path"]))], None
    if continuation is None and how.files:
        size = min(size, FIRST_PAGE_WINDOWS * job.window * how.amount)
    prefix = f"{source['path']}/" if source["path"] else ""
    listed, following = where.reads.list_page(source["container"], prefix,
                                                marker=continuation, max_results=size)
    return [InputRef(b.name, b.etag, size=b.size) for b in listed], following or None


def _manifest_page(storage: Storage, job: JobRecord, container: Any, offset: int,
                   size: int) -> tuple[list[InputRef], str | None]:
    """A page of an explicit file list (a drop's arrivals, a retry's failed items): only
    the pieces of the manifest this page covers are read."""
    entries, following = manifests.page(storage, job.input["manifest"], offset, size)
    refs = [InputRef.from_json(e) for e in entries]
    tables = job.deployment["scoring"]["input"]["type"] == "tabular"
    if tables or not all(ref.etag for ref in refs):
        refs = list(_PINS.map(lambda r: _current(container, r) if tables or not r.etag else r,
                              refs))
    return refs, None if following is None else str(following)


def _current(container: Any, ref: InputRef) -> InputRef:
    """Pin a file named without a version to the version there now (missing or changed:
    scoring fails it), and learn its size, which tells whether a table is split. Files
    named with their version are asked only for tables: the size matters for nothing else."""
    try:
        props = container.get_blob_client(ref.name).get_blob_properties(
            **({"etag": ref.etag, "match_condition": MatchConditions.IfNotModified}
               if ref.etag else {}))
    except ResourceNotFoundError:
        return ref
    except ResourceModifiedError:
        return ref  # scoring fails it: the version named is gone
    return replace(ref, etag=props.etag, size=props.size)


def write_minibatches(storage: Storage, job: str, start: int,
                      batches: list[list[InputRef]]) -> None:
    """Create the mini-batch rows; rows that exist already (a repeated run) are kept as they are."""
    entities = [_row(storage, job, start + i, files) for i, files in enumerate(batches)]
    table = records.table(storage)
    for i in range(0, len(entities), TRANSACTION_LIMIT):
        chunk = entities[i:i + TRANSACTION_LIMIT]
        try:
            table.submit_transaction([("create", e) for e in chunk])
        except TableTransactionError as e:
            if e.status_code != 409:
                raise
            for entity in chunk:
                with contextlib.suppress(ResourceExistsError):
                    table.create_entity(entity)


def _row(storage: Storage, job: str, index: int, files: list[InputRef]) -> dict[str, Any]:
    entity: dict[str, Any] = {"PartitionKey": job, "RowKey": records.mb_row(index),
                              "state": Outcome.PENDING.value,
                              "file_count": sum(f.items for f in files)}  # items, if it fails
    text = json.dumps([f.to_json() for f in files])
    if len(text) <= INLINE_FILES_LIMIT:
        entity["files"] = text
    else:
        path = f"{job}/plan/{index:08d}.json"
        storage.container(config.JOBS_CONTAINER).upload_blob(path, text, overwrite=True)
        entity["files_blob"] = path
    return entity


def files_of(storage: Storage, row: dict[str, Any]) -> list[InputRef]:
    if row.get("files_blob"):
        blob = storage.container(config.JOBS_CONTAINER).download_blob(row["files_blob"])
        entries = json.loads(blob.readall())
    else:
        entries = json.loads(row["files"])
    return [InputRef.from_json(e) for e in entries]


def dispatch_new(storage: Storage, job: JobRecord, start: int, count: int) -> None:
    """Send the new mini-batches whose slot in the job's window is free.

    Mini-batch j may run once j-window has finished. Completions dispatch their successor if
    its row exists; rows are written before this check, so one side always sees the other.
    """
    window = job.window
    finished = {
        records.row_index(r)
        for r in records.minibatch_rows(storage, job.name, max(0, start - window), start)
        if not records.pending(r)
    }
    for j in range(start, start + count):
        if j < window or (j - window < start and j - window in finished):
            storage.send(SCORE_QUEUE, ScoreMiniBatch(job=job.name, index=j))


def dispatch_if_pending(storage: Storage, job: JobRecord, index: int) -> bool:
    got = records.get_minibatch(storage, job.name, index)
    if got is None or not records.pending(got[0]):
        return False
    storage.send(SCORE_QUEUE, ScoreMiniBatch(job=job.name, index=index))
    return True
