"""How a job looks from outside: the JSON resource (Azure ML's names) and the progress log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args

from shared.errors import ValidationError
from shared.jobs import jobindex, records, shards, watchdog
from shared.jobs.lifecycle import Outcome
from shared.jobs.records import JobRecord
from shared.resources import endpoints, paging
from shared.resources.schemas import responses
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
        "endpoint_incarnation": job.endpoint_incarnation or None,
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
    """The job as its resource shows it: with live counters while it runs. A job whose
    watchdog check is long overdue (lost with an emulator's unsaved writes) gets a new one:
    whoever follows a job also keeps it recoverable."""
    job = records.load(storage, name)
    watchdog.revive_if_overdue(storage, job)
    return shards.live(storage, job)


def status_filter(value: str | None) -> str | None:
    """A `?status=` filter: one of the states the API documents (Azure ML's, NotStarted
    included, which no job here is in); an unknown one would silently match nothing."""
    states = get_args(responses.JobStatus)
    if value and value not in states:
        raise ValidationError("status", "must be one of: " + ", ".join(states))
    return value or None


def list_page(storage: Storage, page: paging.PageRequest, *, endpoint: str | None = None,
              deployment: str | None = None, status: str | None = None,
              name: str | None = None) -> paging.Page:
    """A page of jobs, newest first (jobindex.py): all jobs, or those of the endpoint now
    under that name (not of a deleted one's), of one deployment, in one state, or whose
    name contains `name` (case-insensitive)."""
    partition = jobindex.ALL
    if endpoint:
        doc = endpoints.get(storage, endpoint)
        partition = jobindex.endpoint_partition(endpoint, doc.get("incarnation", ""))
    search = (name or "").lower()

    def keep(job: JobRecord) -> bool:
        return (not status or job.status == status) and search in job.name.lower()

    return jobindex.page(storage, page, partition=partition, deployment=deployment, keep=keep)


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


TIMELINE_POINTS = 120
_TIMELINE_NAMES = {Outcome.DONE: "succeeded", Outcome.FAILED: "failed",
                   Outcome.CANCELED: "canceled"}


def timeline(storage: Storage, job: JobRecord, points: int = TIMELINE_POINTS
             ) -> dict[str, Any]:
    """The job's real progress over time, from its mini-batch rows' `finished_at`: cumulative
    succeeded / failed / canceled mini-batches at up to `points` moments (the last mini-batch
    of each time slice), so a chart of a job that ended before the page opened is its own."""
    finished = sorted(
        (row["finished_at"], row["state"]) for row in records.table(storage).query_entities(
            "PartitionKey eq @pk and RowKey ge 'mb-' and RowKey lt 'mb.'",
            parameters={"pk": job.name}, select=["finished_at", "state"])
        if row.get("finished_at"))
    start = job.started_at or job.created_at
    counts = {"succeeded": 0, "failed": 0, "canceled": 0}
    out = [{"at": start, **counts}]
    step = max(1, len(finished) // points)
    for i, (at, state) in enumerate(finished):
        counts[_TIMELINE_NAMES.get(state, "failed")] += 1
        if (i + 1) % step == 0 or i + 1 == len(finished):
            out.append({"at": at, **counts})
    return {"started_at": start, "ended_at": job.ended_at or None,
            "total": job.mb_total if job.planning_done else None, "points": out}


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
