"""Retry only what failed: a new job over exactly the items a finished job listed in its
errors file (failed or canceled) — whole files for file inputs, the failed rows of tabular
files — under the same deployment or a named one. The two jobs point at each other
(`retry_of` / `retried_by`), and the new job's summary names the original.
"""

from __future__ import annotations

import csv
import io
import json
import uuid

from azure.core.exceptions import ResourceNotFoundError

from shared import config
from shared.errors import ConflictError, IllegalTransition
from shared.jobs import invoke, lifecycle, paths, records
from shared.jobs.records import JobRecord
from shared.storage.clients import Storage

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
    entries = failed_items(storage, original)
    if not entries:
        raise ConflictError(f"job {job_name} has no failed or canceled items to retry")
    name = f"{job_name[:44]}-retry-{uuid.uuid4().hex[:8]}"
    try:
        records.update_job(storage, job_name, lifecycle.Linked(retried_by=name))
    except IllegalTransition:
        raise ConflictError(f"job {job_name} was retried already") from None
    manifest = f"retries/{name}.json"
    storage.container(config.JOBS_CONTAINER).upload_blob(manifest, json.dumps(entries),
                                                         overwrite=True)
    source = original.input
    folder = (source["path"].rpartition("/")[0] if source["type"] == paths.URI_FILE
              else source["path"])  # a file's folder: its name in outputs stays the same
    request = invoke.InvokeRequest(
        input_path=f"azureml://datastores/{source['datastore']}/paths/{folder}",
        input_type=paths.URI_FOLDER, output_path=None,
        output_type=paths.URI_FOLDER,
        deployment_name=deployment_name or original.deployment_name, job_name=name,
        overrides={k: original.settings[k] for k in _KEPT_SETTINGS if k in original.settings},
        started_by="retry", manifest=manifest)
    try:
        job, _ = invoke.invoke(storage, original.endpoint_name, request)
    except Exception:
        records.update_job(storage, job_name, _unlink(name))
        raise
    job, _ = records.update_job(storage, name, lifecycle.Linked(retry_of=job_name))
    records.log(storage, job_name, f"retried by job {name} ({len(entries)} files)")
    records.log(storage, name, f"retry of job {job_name}: {len(entries)} files")
    return job


def _unlink(name: str):
    def change(job: JobRecord) -> dict | None:
        return {"retried_by": ""} if job.retried_by == name else None
    return change


def failed_items(storage: Storage, job: JobRecord) -> list[dict]:
    """The errors file's items as manifest entries: {"name": blob, "rows": [...]} where only
    some rows of a tabular file failed, {"name": blob} for a whole file."""
    out = job.output
    try:
        data = storage.container(out["container"]).download_blob(out["errors"]).readall()
    except ResourceNotFoundError:
        return []
    rows: dict[str, set[int] | None] = {}
    for record in csv.DictReader(io.StringIO(data.decode())):
        blob = _blob_name(job, record["file_name"])
        if record["row"] == "" or rows.get(blob, set()) is None:
            rows[blob] = None
        else:
            rows.setdefault(blob, set()).add(int(record["row"]))  # type: ignore[union-attr]
    return [{"name": blob} if wanted is None else {"name": blob, "rows": sorted(wanted)}
            for blob, wanted in rows.items()]


def _blob_name(job: JobRecord, file_name: str) -> str:
    """The inverse of minibatch.relative_name."""
    source = job.input
    if source["type"] == paths.URI_FILE:
        return source["path"]
    if source["path"]:
        return f"{source['path']}/{file_name}"
    return file_name
