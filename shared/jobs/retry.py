"""Retry only what failed: a new job over exactly the items a finished job listed in its
errors file (failed or canceled) — whole files for file inputs, the failed rows of tabular
files — under the same deployment or a named one. The two jobs point at each other
(`retry_of` / `retried_by`), and the new job's summary names the original.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import re
import uuid
from collections.abc import Iterator
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import StorageStreamDownloader

from shared.errors import ConflictError, IllegalTransition, NotFoundError
from shared.jobs import invoke, lifecycle, manifests, paths, records
from shared.jobs.records import JobRecord
from shared.resources import endpoints
from shared.storage import remote
from shared.storage.clients import Storage

_RETRY_SUFFIX = re.compile(r"-retry-[0-9a-f]{8}$")
_BASE_MAX = 63 - len("-retry-12345678")  # job names are at most 63 characters
_KEPT_SETTINGS = ("mini_batch_size", "error_threshold", "retry_settings", "output_action",
                  "output_file_name", "logging_level", "instance_count",
                  "max_concurrency_per_instance")


def retry(storage: Storage, job_name: str, deployment_name: str | None = None) -> JobRecord:
    original = records.load(storage, job_name)
    if not original.status.terminal:
        raise ConflictError(f"job {job_name} is {original.status}; retry it once it ends")
    if original.retried_by:
        raise ConflictError(f"job {job_name} was retried already by job "
                            f"{original.retried_by}; retry that one")
    source = original.input
    folder = (source["path"].rpartition("/")[0] if source["type"] == paths.URI_FILE
              else source["path"])  # a file's folder: its name in outputs stays the same
    input_path = _folder_path(source, folder)
    items = failed_items(storage, original)
    first = next(items, None)
    if first is None:
        raise ConflictError(f"job {job_name} has no failed or canceled items to retry")
    _check_endpoint_is_the_same(storage, original)
    name = retry_name(job_name)
    try:
        records.update_job(storage, job_name, lifecycle.Linked(retried_by=name))
    except IllegalTransition:
        raise ConflictError(f"job {job_name} was retried already") from None
    manifest = f"retries/{name}"
    count = manifests.write(storage, manifest, itertools.chain([first], items))
    request = invoke.InvokeRequest(
        input_path=input_path,
        input_type=paths.URI_FOLDER, output_path=None,
        output_type=paths.URI_FOLDER,
        deployment_name=deployment_name or original.deployment_name, job_name=name,
        overrides={k: original.settings[k] for k in _KEPT_SETTINGS if k in original.settings},
        started_by="retry", manifest=manifest, literals=original.literals,
        input_name=source.get("name", "input_data"))
    try:
        job, _ = invoke.invoke(storage, original.endpoint_name, request)
    except Exception:
        records.update_job(storage, job_name, _unlink(name))
        raise
    job, _ = records.update_job(storage, name, lifecycle.Linked(retry_of=job_name))
    records.log(storage, job_name, f"retried by job {name} ({count} files)")
    records.log(storage, name, f"retry of job {job_name}: {count} files")
    return job


def _folder_path(source: dict[str, Any], folder: str) -> str:
    """Where the retry reads: the datastore path, or the other account's URL (a SAS is
    not kept once a job ends, so such a job is run again with a new invoke)."""
    if source["datastore"]:
        return f"azureml://datastores/{source['datastore']}/paths/{folder}"
    if source.get("access") in remote.SECRET_ACCESS:
        raise ConflictError(f"the job read {source['uri']}, whose SAS is not kept once a job "
                            "ends: invoke again with a SAS URL to score the files")
    return f"{source['endpoint']}/{source['container']}/{folder}"


def retry_name(job_name: str) -> str:
    """`<original>-retry-<8 hex>`, the original whole; a retry of a retry keeps the first
    job's name, and a name too long to fit keeps its start and a short hash of the rest."""
    base = _RETRY_SUFFIX.sub("", job_name)
    if len(base) > _BASE_MAX:
        digest = hashlib.sha256(base.encode()).hexdigest()[:8]
        base = f"{base[:_BASE_MAX - 9]}-{digest}"
    return f"{base}-retry-{uuid.uuid4().hex[:8]}"


def _check_endpoint_is_the_same(storage: Storage, job: JobRecord) -> None:
    """A job is retried by the endpoint that ran it, never by a later one of that name."""
    try:
        now = endpoints.get(storage, job.endpoint_name)
    except NotFoundError:
        raise ConflictError(f"batch endpoint {job.endpoint_name}, which ran job {job.name}, "
                            "was deleted; invoke another endpoint with the job's inputs"
                            ) from None
    if now.get("incarnation", "") != job.endpoint_incarnation:
        raise ConflictError(f"batch endpoint {job.endpoint_name}, which ran job {job.name}, "
                            "was deleted and created again; invoke it with the job's inputs")


def _unlink(name: str):
    def change(job: JobRecord) -> dict | None:
        return {"retried_by": ""} if job.retried_by == name else None
    return change


def failed_items(storage: Storage, job: JobRecord) -> Iterator[dict]:
    """The errors file's items as manifest entries, read as a stream: {"name": blob,
    "rows": [...]} where only some rows of a tabular file failed, {"name": blob} for a whole
    file. The errors file lists a file's items together (mini-batches in order, a file's
    ranges in consecutive ones), so one file's records are one run of it."""
    out = job.output
    try:
        download = storage.container(out["container"]).download_blob(out["errors"])
    except ResourceNotFoundError:
        return
    text = io.TextIOWrapper(io.BufferedReader(_Stream(download)), encoding="utf-8", newline="")
    found = csv.DictReader(text)
    for blob, run in itertools.groupby(found, lambda r: _blob_name(job, r["file_name"])):
        wanted = {r["row"] for r in run}
        yield ({"name": blob} if "" in wanted
               else {"name": blob, "rows": sorted(int(r) for r in wanted)})


class _Stream(io.RawIOBase):
    """A blob download as a file, so the csv module reads it a buffer at a time."""

    def __init__(self, download: StorageStreamDownloader):
        self._download = download

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._download.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _blob_name(job: JobRecord, file_name: str) -> str:
    """The inverse of minibatch.relative_name."""
    source = job.input
    if source["type"] == paths.URI_FILE:
        return source["path"]
    if source["path"]:
        return f"{source['path']}/{file_name}"
    return file_name
