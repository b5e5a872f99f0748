"""Score one mini-batch: read its files, run them through the pinned model, store the result.

Per-item failures (a corrupt image, a bad row, a file deleted since planning) are recorded
and the rest of the mini-batch goes on. A failure of the whole attempt (timeout, storage
outage) is retried by the queue up to `retry_settings.max_retries` times; after that the
mini-batch's files count as failed so the job still finishes.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared import config
from shared.jobs import fanin, planning, records
from shared.jobs.records import DONE, MB_CANCELED, MB_FAILED, PENDING, TERMINAL, Job
from shared.messages import ScoreMiniBatch
from shared.resources import models
from shared.storage.clients import Storage

log = logging.getLogger(__name__)
_DOWNLOADS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="download")


def result_path(job: str, index: int) -> str:
    return f"{job}/results/{index:08d}.csv"


def errors_path(job: str, index: int) -> str:
    return f"{job}/results/{index:08d}.errors.csv"


def score_minibatch(storage: Storage, msg: ScoreMiniBatch, dequeue_count: int) -> None:
    job = records.load(storage, msg.job)
    got = records.get_minibatch(storage, msg.job, msg.index)
    if got is None:
        raise LookupError(f"job {msg.job} has no mini-batch {msg.index}")
    row = got[0]
    if row["state"] != PENDING:
        fanin.after_completion(storage, job, msg.index)  # a redelivery: finish what follows
        return
    if job.stop_reason or job.status in TERMINAL:
        fanin.complete(storage, job.name, msg.index, MB_CANCELED, 0, 0, job.stop_reason)
        return
    files = planning.files_of(storage, row)
    retry = job.settings["retry_settings"]
    started = time.monotonic()
    try:
        rows_csv, failures, items_ok = _score(storage, job, files, started + retry["timeout"])
    except Exception as e:
        attempts = int(retry["max_retries"]) + 1
        if dequeue_count < attempts:
            log.warning("job %s mini-batch %d attempt %d/%d failed: %s", job.name, msg.index,
                        dequeue_count, attempts, e)
            raise
        reason = f"mini-batch failed after {dequeue_count} attempts: {type(e).__name__}: {e}"
        fail_minibatch(storage, job, msg.index, files, reason)
        return
    results = storage.container(config.JOBS_CONTAINER)
    results.upload_blob(result_path(job.name, msg.index), rows_csv, overwrite=True)
    if failures:
        results.upload_blob(errors_path(job.name, msg.index), _errors_csv(failures),
                            overwrite=True)
    fanin.complete(storage, job.name, msg.index, DONE, items_ok, len(failures))


def fail_minibatch(storage: Storage, job: Job, index: int, files: list[str] | None,
                   reason: str) -> None:
    """Every file of the mini-batch goes to the errors file with `reason`."""
    if files is None:
        got = records.get_minibatch(storage, job.name, index)
        if got is None:
            return
        files = planning.files_of(storage, got[0])
    failures = [(relative_name(job, f), "", reason) for f in files]
    storage.container(config.JOBS_CONTAINER).upload_blob(
        errors_path(job.name, index), _errors_csv(failures), overwrite=True)
    records.log(storage, job.name, f"mini-batch {index}: {reason}")
    fanin.complete(storage, job.name, index, MB_FAILED, 0, len(files), reason)


def relative_name(job: Job, blob_name: str) -> str:
    """A file's name as users see it in outputs: relative to the input folder."""
    source = job.input
    if source["type"] == "uri_folder" and source["path"]:
        return blob_name[len(source["path"]) + 1:]
    return blob_name.rsplit("/", 1)[-1] if source["type"] == "uri_file" else blob_name


def _score(storage: Storage, job: Job, files: list[str],
           deadline: float) -> tuple[bytes, list[tuple[str, str, str]], int]:
    from scoring.engine import InputFile, score_files
    from scoring.writers import rows_to_csv

    session, scoring_config, signature = scorer(storage, job.deployment["model"],
                                                job.deployment["scoring"])
    container = storage.blobs.get_container_client(job.input["container"])
    downloaded = list(_DOWNLOADS.map(lambda name: _download(container, name), files))
    failures: list[tuple[str, str, str]] = []
    inputs = []
    for name, data, problem in downloaded:
        if problem:
            failures.append((relative_name(job, name), "", problem))
        else:
            inputs.append(InputFile(name=relative_name(job, name), data=data))
    result = score_files(session, scoring_config, signature, inputs, deadline=deadline)
    failures += [(e.file_name, "" if e.row is None else str(e.row), e.reason)
                 for e in result.errors]
    return rows_to_csv(result.rows), failures, len(result.rows)


def scorer(storage: Storage, model: dict[str, Any],
           scoring: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(session, ScoringConfig, ModelSignature) for a model document and a stored scoring
    configuration: the process's cached session, the parsed configuration cached too."""
    from scoring.sessions import get_session

    session = get_session(model["sha256"], lambda: models.read_bytes(storage, model))
    return (session, *_config(json.dumps(scoring, sort_keys=True),
                              json.dumps(model["signature"], sort_keys=True)))


@functools.lru_cache(maxsize=64)
def _config(scoring_json: str, signature_json: str) -> tuple[Any, Any]:
    from scoring.config import ScoringConfig
    from scoring.signature import ModelSignature

    return (ScoringConfig.from_dict(json.loads(scoring_json)),
            ModelSignature.from_dict(json.loads(signature_json)))


def _download(container: Any, name: str) -> tuple[str, bytes, str]:
    blob = container.get_blob_client(name)
    try:
        stream = blob.download_blob(max_concurrency=1)
    except ResourceNotFoundError:
        return name, b"", "file not found (deleted after the job was planned?)"
    if stream.size > config.MAX_INPUT_FILE_BYTES:
        return name, b"", f"file is larger than {config.MAX_INPUT_FILE_BYTES} bytes"
    return name, stream.readall(), ""


def _errors_csv(failures: list[tuple[str, str, str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(failures)
    return buf.getvalue().encode()
