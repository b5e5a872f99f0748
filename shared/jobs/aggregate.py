"""The aggregator: merge per-mini-batch results into the job's outputs, exactly once.

Outputs are block blobs committed with one `Put Block List`, so readers see the whole file
or none of it. Block ids are deterministic and the commit names the job in the blob's
metadata, so running the aggregator twice writes the same bytes and the second run is a
no-op once the job row says the job ended.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobBlock, BlobClient, ContentSettings

from shared import config
from shared.events import outbound
from shared.jobs import minibatch, records
from shared.jobs.records import CANCELED, COMPLETED, DONE, FAILED, FINALIZING, MB_FAILED, Job
from shared.messages import AggregateJob
from shared.storage.clients import Storage

BLOCK_TARGET = 4 * 1024 * 1024
ERRORS_HEADER = b"file_name,row,reason\n"


def aggregate(storage: Storage, msg: AggregateJob) -> Job:
    job = records.load(storage, msg.job)
    if job.status in records.TERMINAL:
        outbound.announce_if_pending(storage, job)  # a redelivery after the job ended
        return job
    if job.status != FINALIZING or not job.all_accounted:
        return job  # a stray message before the last completion
    out = job.output
    container = storage.container(out["container"])
    owner = {"batch_job": job.name}
    error = ""
    if job.settings["output_action"] == "append_row":
        target = container.get_blob_client(out["predictions"])
        if _owned_by_other(target, job.name):
            error = f"output file {out['container']}/{out['predictions']} already exists"
        else:
            header = _header(job)
            _commit(target, header, _parts(storage, job, minibatch.result_path, DONE), owner,
                    "text/csv")
    if not error:
        _commit(container.get_blob_client(out["errors"]), ERRORS_HEADER,
                _error_parts(storage, job), owner, "text/csv")
    status = _final_status(job, error)
    summary = summarize(job, status, error or job.error)
    container.get_blob_client(out["summary"]).upload_blob(
        json.dumps(summary, indent=2).encode(), overwrite=True, metadata=owner,
        content_settings=ContentSettings(content_type="application/json"))

    def change(current: Job) -> dict[str, Any] | None:
        if current.status != FINALIZING:
            return None
        return {"status": status, "ended_at": records.now(),
                "error": error or current.error}

    job, changed = records.update_job(storage, job.name, change)
    if changed:
        records.log(storage, job.name, f"job {status}: {job.items_ok} items scored, "
                    f"{job.items_failed} failed; outputs in {out['container']}/{out['folder']}")
    outbound.announce_if_pending(storage, job)
    return job


def _final_status(job: Job, error: str) -> str:
    if error or job.stop_reason in ("error_threshold", "failed"):
        return FAILED
    if job.stop_reason == "canceled":
        return CANCELED
    return COMPLETED


def _header(job: Job) -> bytes:
    from scoring.engine import output_columns
    from scoring.writers import csv_header

    scoring_config, signature = minibatch._config(
        json.dumps(job.deployment["scoring"], sort_keys=True),
        json.dumps(job.deployment["model"]["signature"], sort_keys=True))
    return csv_header(output_columns(scoring_config, signature))


def _parts(storage: Storage, job: Job, path_of, state: str) -> Iterator[bytes]:
    results = storage.container(config.JOBS_CONTAINER)
    for row in records.minibatch_rows(storage, job.name):
        if row["state"] == state:
            yield results.download_blob(path_of(job.name, int(row["RowKey"][3:]))).readall()


def _error_parts(storage: Storage, job: Job) -> Iterator[bytes]:
    results = storage.container(config.JOBS_CONTAINER)
    for row in records.minibatch_rows(storage, job.name):
        if row["state"] == MB_FAILED or (row["state"] == DONE and row.get("items_failed")):
            path = minibatch.errors_path(job.name, int(row["RowKey"][3:]))
            try:
                yield results.download_blob(path).readall()
            except ResourceNotFoundError:
                yield f"mini-batch {row['RowKey']},,{row.get('reason', '')}\n".encode()


def _commit(blob: BlobClient, header: bytes, parts: Iterable[bytes], metadata: dict[str, str],
            content_type: str) -> None:
    """Stage the content in blocks of ~4 MiB and commit them in one atomic call."""
    blocks: list[BlobBlock] = []
    buffer = bytearray(header)

    def stage() -> None:
        block_id = base64.b64encode(f"block-{len(blocks):08d}".encode()).decode()
        blob.stage_block(block_id, bytes(buffer))
        blocks.append(BlobBlock(block_id=block_id))
        buffer.clear()

    for part in parts:
        buffer += part
        if len(buffer) >= BLOCK_TARGET:
            stage()
    if buffer or not blocks:
        stage()
    blob.commit_block_list(blocks, metadata=metadata,
                           content_settings=ContentSettings(content_type=content_type))


def _owned_by_other(blob: BlobClient, job_name: str) -> bool:
    try:
        props = blob.get_blob_properties()
    except ResourceNotFoundError:
        return False
    return props.metadata.get("batch_job") != job_name


def summarize(job: Job, status: str, error: str) -> dict[str, Any]:
    model = job.deployment["model"]
    return {
        "job_name": job.name,
        "status": status,
        "endpoint_name": job.endpoint_name,
        "deployment_name": job.deployment_name,
        "model": {"id": model["id"], "sha256": model["sha256"]},
        "input": job.input["uri"],
        "started_by": job.started_by,
        "settings": job.settings,
        "mini_batches": {"total": job.mb_total, "succeeded": job.mb_done,
                         "failed": job.mb_failed, "canceled": job.mb_canceled},
        "items": {"succeeded": job.items_ok, "failed": job.items_failed},
        "files": job.files_total,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finalized_at": records.now(),
        "error": error,
        "outputs": job.output,
    }
