"""How a job looks from outside: the JSON resource (Azure ML's names) and the progress log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared import config
from shared.jobs import records, shards
from shared.jobs.records import JobRecord
from shared.resources import paging
from shared.storage.clients import Storage

_REST_INPUT = {"uri_folder": "UriFolder", "uri_file": "UriFile"}
_LITERAL_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


def job_resource(job: JobRecord, api_base: str) -> dict[str, Any]:
    out = job.output
    predictions = f"azureml://datastores/{out['datastore']}/paths/{out['predictions']}"
    scored = job.input.get("name", "input_data")
    inputs: dict[str, Any] = {scored: {"type": job.input["type"], "path": job.input["uri"]}}
    if job.input.get("data_asset"):  # as Azure ML shows it, with what it resolved to
        inputs[scored] |= {"path": job.input["data_asset"], "resolved_path": job.input["uri"]}
    inputs |= {name: {"type": _LITERAL_TYPES[type(value)], "value": value}
               for name, value in job.literals.items()}
    outputs = {"score": {"type": "uri_file", "path": predictions}}
    link = f"{api_base}/jobs/{job.name}"
    return {
        "name": job.name,
        "id": f"/jobs/{job.name}",
        "type": "batch_job",
        "status": job.status,
        "endpoint_name": job.endpoint_name,
        "deployment_name": job.deployment_name,
        "model": job.model_id,
        "started_by": job.started_by,
        "inputs": inputs,
        "outputs": outputs,
        "settings": job.settings,
        "progress": progress(job),
        "throughput": throughput(job),
        "eta": eta(job),
        "retry_of": job.retry_of or None,
        "retried_by": job.retried_by or None,
        "creation_context": {"created_at": job.created_at},
        "started_at": job.started_at or None,
        "ended_at": job.ended_at or None,
        "error": {"message": job.error} if job.error else None,
        "links": {"self": link, "score": f"{link}/outputs/score", "errors": f"{link}/errors",
                  "logs": f"{link}/logs", "cancel": f"{link}/cancel",
                  "retry": f"{link}/retry"},
        # The shape Azure ML's REST API answers with, so scripts polling
        # `.properties.status` keep working.
        "properties": {
            "status": job.status,
            "endpointName": job.endpoint_name,
            "deploymentName": job.deployment_name,
            "InputData": {
                scored: {"JobInputType": _REST_INPUT[job.input["type"]],
                         "Uri": job.input["uri"]},
                **{name: {"JobInputType": "Literal", "Value": str(value)}
                   for name, value in job.literals.items()}},
            "OutputData": {"score": {"JobOutputType": "UriFile", "Uri": predictions}},
        },
    }


def load(storage: Storage, name: str) -> JobRecord:
    """The job as its resource shows it: with live counters while it runs."""
    return shards.live(storage, records.load(storage, name))


def list_page(storage: Storage, page: paging.PageRequest, *, endpoint: str | None = None,
              deployment: str | None = None, status: str | None = None) -> paging.Page:
    """A page of jobs, in name order, filtered by the table query (not in Python): only
    the job rows of the jobs table, of one endpoint, deployment or state."""
    clauses, params = [f"RowKey eq '{records.JOB_ROW}'"], {}
    for column, value in (("endpoint_name", endpoint), ("deployment_name", deployment),
                          ("status", status)):
        if value:
            clauses.append(f"{column} eq @{column}")
            params[column] = value
    found = paging.entities(storage.table(config.TABLE_JOBS), page, " and ".join(clauses),
                            params, select=["PartitionKey"])
    jobs = [shards.live(storage, job) for row in found.items
            if (job := records.find(storage, row["PartitionKey"])) is not None]
    return paging.Page(jobs, found.next_token)


def without_nulls(value: Any) -> Any:
    """The resource without null fields, as Azure ML's answers leave them out."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def progress(job: JobRecord) -> dict[str, Any]:
    total = job.mb_total if job.planning_done else None
    return {
        "planning_done": bool(job.planning_done),
        "files": job.files_total,
        "mini_batches": {
            "total": total, "planned": job.mb_planned, "succeeded": job.mb_done,
            "failed": job.mb_failed, "canceled": job.mb_canceled,
            "pending": job.mb_planned - job.accounted,
        },
        "items": {"succeeded": job.items_ok, "failed": job.items_failed,
                  "canceled": job.items_canceled},
    }


def _elapsed(job: JobRecord, now: datetime | None = None) -> float | None:
    if not job.started_at:
        return None
    end = datetime.fromisoformat(job.ended_at) if job.ended_at else now or datetime.now(UTC)
    return max(0.0, (end - datetime.fromisoformat(job.started_at)).total_seconds())


def throughput(job: JobRecord, now: datetime | None = None) -> float | None:
    """Items finished per second since the job started (None before it starts)."""
    elapsed = _elapsed(job, now)
    if not elapsed:
        return None
    return round((job.items_ok + job.items_failed) / elapsed, 2)


def eta(job: JobRecord, now: datetime | None = None) -> float | None:
    """Seconds left at the pace so far: mini-batches left / mini-batches per second. None
    while the total is unknown or nothing finished yet; 0 once the job ended."""
    if job.status.terminal:
        return 0.0
    elapsed = _elapsed(job, now)
    if not job.planning_done or not job.accounted or not elapsed:
        return None
    return round((job.mb_total - job.accounted) * elapsed / job.accounted, 1)


def progress_log(storage: Storage, job: JobRecord) -> str:
    """Like Azure ML's logs/job_progress_overview.txt, followed by the job's event lines."""
    job = shards.live(storage, job)
    p = progress(job)
    mb = p["mini_batches"]
    lines = [
        f"Job {job.name} ({job.endpoint_name}/{job.deployment_name}, model {job.model_id})",
        f"Status: {job.status}",
        f"Mini-batches: {mb['total'] if mb['total'] is not None else '?'} total, "
        f"{mb['planned']} scheduled, {mb['succeeded']} succeeded, {mb['failed']} failed, "
        f"{mb['canceled']} canceled, {mb['pending']} pending",
        f"Items: {job.items_ok} succeeded, {job.items_failed} failed, "
        f"{job.items_canceled} canceled "
        f"(error_threshold {job.settings['error_threshold']})",
        "",
    ]
    lines += [f"{at}  {message}" for at, message in records.log_lines(storage, job.name)]
    if job.error:
        lines.append(f"Error: {job.error}")
    return "\n".join(lines) + "\n"
