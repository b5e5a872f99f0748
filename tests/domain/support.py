"""Shared steps of the in-process job tests: a digits endpoint, uploads, invoke, outputs."""

from __future__ import annotations

import csv
import io
import json
import uuid

from shared.jobs import invoke, records
from shared.resources import deployments, endpoints, models
from tests import builders


def digits_endpoint(storage, **settings) -> str:
    name = "ep-" + uuid.uuid4().hex[:8]
    version = uuid.uuid4().hex[:8]
    models.register(storage, "digits", version, builders.digits_model())
    endpoints.create_or_update(storage, name, {})
    deployments.create_or_update(storage, name, "blue", {
        "model": f"azureml:digits:{version}", "scoring": builders.DIGITS_SCORING,
        "settings": {"mini_batch_size": 4, **settings}, "resources": {"instance_count": 2}})
    return name


def upload(storage, folder: str, files) -> None:
    container = storage.container("workspaceblobstore")
    for name, data, *_ in files:
        container.upload_blob(f"{folder}/{name}", data, overwrite=True)


def start(storage, endpoint, folder, **kw) -> str:
    request = invoke.parse_request(
        {"inputs": {"images": {"type": "uri_folder",
                               "path": f"azureml://datastores/workspaceblobstore/paths/{folder}"}},
         **kw})
    job, created = invoke.invoke(storage, endpoint, request)
    assert created
    return job.name


def plan_all(storage, job_name) -> records.JobRecord:
    """Run every planning page in turn, as the plan queue would deliver them."""
    from shared.jobs import planning
    from shared.messages import PlanPage

    page = 0
    while not (job := records.load(storage, job_name)).planning_done:
        planning.plan_page(storage, PlanPage(job_name, page, job.plan_continuation or None))
        page += 1
    return job


def _output(storage, job_name, key) -> bytes | None:
    job = records.load(storage, job_name)
    blob = storage.container(job.output["container"]).get_blob_client(job.output[key])
    return blob.download_blob().readall() if blob.exists() else None


def predictions(storage, job_name) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_output(storage, job_name, "predictions").decode())))


def errors(storage, job_name) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_output(storage, job_name, "errors").decode())))


def summary(storage, job_name) -> dict | None:
    data = _output(storage, job_name, "summary")
    return json.loads(data) if data else None


def assert_consistent(storage, job_name, expected_files: list[str]) -> None:
    """Every file once in predictions or errors; counters, outputs and summary agree."""
    job = records.load(storage, job_name)
    assert job.status.terminal, job.status
    rows, failed = predictions(storage, job_name), errors(storage, job_name)
    seen = [r["file_name"] for r in rows] + [e["file_name"] for e in failed]
    assert sorted(seen) == sorted(expected_files)
    canceled = sum(1 for e in failed if e["reason"] == "canceled")
    assert (job.items_ok, job.items_failed, job.items_canceled) == (
        len(rows), len(failed) - canceled, canceled)
    doc = summary(storage, job_name)
    assert doc is not None and doc["status"] == job.status
    assert doc["items"] == {"succeeded": job.items_ok, "failed": job.items_failed,
                            "canceled": job.items_canceled}
