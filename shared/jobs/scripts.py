"""A mini-batch scored by a scoring script (scoring/scripts): the files the script wrote to
`AZUREML_BI_OUTPUT_PATH` uploaded to the job's output folder, and what it logged (and a
traceback when it failed) written to the job's log with the mini-batch it belongs to.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from azure.storage.blob import ContentSettings

from shared.errors import ValidationError
from shared.jobs import ownership, records
from shared.jobs.records import JobRecord
from shared.storage.clients import Storage

if TYPE_CHECKING:
    from scoring.engine import InputFile
    from scoring.scorer import ScriptScorer

MAX_LOG_LINES = 50  # per mini-batch attempt: the rest is counted, not written
SCRIPT_OUTPUT = "script"  # the metadata `batch_output` of files a script wrote


def score(storage: Storage, job: JobRecord, index: int | None, scorer: ScriptScorer,
          inputs: list[InputFile], deadline: float | None
          ) -> tuple[bytes, list[tuple[str, str, str]], int]:
    """The mini-batch's rows, failed items and succeeded count, as score_refs answers; the
    script's files published and its logs written on the way."""
    label = f"mini-batch {index}" if index is not None else "the mini-batch"
    result = scorer.score(inputs, deadline, publish=lambda folder: publish(storage, job, folder),
                          label=label)
    write_logs(storage, job.name, label, result.logs)
    failures = [(e.file_name, "", e.reason) for e in result.errors]
    return scorer.rows_csv(result.rows), failures, min(len(result.rows), len(inputs))


def publish(storage: Storage, job: JobRecord, folder: Path) -> None:
    """Upload what the script wrote into the job's output folder (its score output with
    summary_only), refusing the service's own output names and, as for every output,
    another job's files (shared/jobs/ownership.py)."""
    out = job.output
    reserved = {out["errors"], out["summary"]}
    if job.settings["output_action"] == "append_row":
        reserved.add(out["predictions"])
    container = storage.blobs.get_container_client(out["container"])
    prefix = f"{out['folder']}/" if out["folder"] else ""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    targets = [(p, container.get_blob_client(prefix + p.relative_to(folder).as_posix()))
               for p in files]
    writes = []
    for path, blob in targets:  # every file is checked before any is written
        if blob.blob_name in reserved:
            raise ValidationError("AZUREML_BI_OUTPUT_PATH", f"the script wrote "
                                  f"{blob.blob_name.rsplit('/', 1)[-1]}, a name the job's own "
                                  "outputs use; write your files under other names")
        conditions = ownership.write_conditions(blob, job.name, bool(out.get("overwrite")))
        if conditions is None:
            raise ValidationError("AZUREML_BI_OUTPUT_PATH",
                                  f"{ownership.taken_message(out['container'], blob)}; choose "
                                  "another output path")
        writes.append((path, blob, conditions))
    for path, blob, conditions in writes:
        with ownership.guarded(blob), path.open("rb") as f:
            blob.upload_blob(f, overwrite=True, **conditions,
                             metadata={ownership.OWNER: job.name, "batch_output": SCRIPT_OUTPUT},
                             content_settings=ContentSettings(content_type=_content_type(path)))


def _content_type(path: Path) -> str:
    return {".csv": "text/csv", ".json": "application/json", ".jsonl": "application/jsonl",
            ".txt": "text/plain", ".parquet": "application/vnd.apache.parquet"}.get(
                path.suffix.lower(), "application/octet-stream")


def write_logs(storage: Storage, job_name: str, label: str, logs: Any) -> None:
    logs = list(logs)
    for entry in logs[:MAX_LOG_LINES]:
        records.log(storage, job_name, f"{label}: script {entry.get('level', 'INFO')} "
                    f"{entry.get('logger', 'root')}: {entry.get('message', '')}")
    if len(logs) > MAX_LOG_LINES:
        records.log(storage, job_name, f"{label}: script logged {len(logs) - MAX_LOG_LINES} "
                    "more lines (not kept)")


def log_failure(storage: Storage, job_name: str, index: int, error: BaseException) -> None:
    """A failed attempt's script logs and traceback, if the failure came from a script."""
    logs = getattr(error, "logs", None)
    traceback = getattr(error, "traceback", "")
    if logs is None and not traceback:
        return
    label = f"mini-batch {index}"
    write_logs(storage, job_name, label, logs or [])
    if traceback:
        records.log(storage, job_name, f"{label}: {error}\n{traceback.rstrip()}")


def outputs_zip(storage: Storage, job: JobRecord) -> bytes | None:
    """The files the job's script wrote (its score output with summary_only) as one zip of
    their paths under the output folder; None when it wrote none."""
    import io
    import zipfile

    out = job.output
    prefix = f"{out['folder']}/" if out["folder"] else ""
    container = storage.blobs.get_container_client(out["container"])
    buf = io.BytesIO()
    found = 0
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for blob in container.list_blobs(name_starts_with=prefix, include=["metadata"]):
            meta = blob.metadata or {}
            if meta.get(ownership.OWNER) == job.name and meta.get("batch_output") == SCRIPT_OUTPUT:
                data = container.get_blob_client(blob.name).download_blob().readall()
                archive.writestr(blob.name[len(prefix):], data)
                found += 1
    return buf.getvalue() if found else None
