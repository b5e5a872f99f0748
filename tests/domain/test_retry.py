"""Retry only the failed items: a new job over exactly what the original listed as failed or
canceled (whole files, or rows of tabular files), linked both ways."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from samples import data
from samples import models as sample_models
from shared.errors import ConflictError
from shared.jobs import records, retry, views
from shared.jobs.lifecycle import JobStatus
from shared.resources import deployments, endpoints, models
from tests import builders
from tests.domain.support import (
    assert_consistent,
    digits_endpoint,
    errors,
    predictions,
    start,
    summary,
    upload,
)
from tests.inprocess import InProcessHost


def test_retry_scores_exactly_the_failed_files_and_links_both_jobs(storage):
    endpoint = digits_endpoint(storage)
    version = uuid.uuid4().hex[:8]
    models.register(storage, "digits", version, builders.digits_model())
    deployments.create_or_update(storage, endpoint, "green", {
        "model": f"digits:{version}", "scoring": builders.DIGITS_SCORING})
    folder = uuid.uuid4().hex
    good = builders.digit_pngs(6)
    upload(storage, folder, good[:4] + [("bad-a.png", b"junk"), ("bad-b.png", b"junk")])
    first = start(storage, endpoint, folder)
    host = InProcessHost(storage)
    with pytest.raises(ConflictError, match="retry it once it ends"):
        retry.retry(storage, first)
    host.run_until_idle()
    upload(storage, folder, [("bad-a.png", good[4][1])])  # the user fixes one file
    again = retry.retry(storage, first, "green")
    assert (again.retry_of, again.deployment_name) == (first, "green")
    assert records.load(storage, first).retried_by == again.name
    with pytest.raises(ConflictError, match="retried already"):
        retry.retry(storage, first)
    host.run_until_idle()
    assert_consistent(storage, again.name, ["bad-a.png", "bad-b.png"])
    assert [r["file_name"] for r in predictions(storage, again.name)] == ["bad-a.png"]
    assert [e["file_name"] for e in errors(storage, again.name)] == ["bad-b.png"]
    assert summary(storage, again.name)["retry_of"] == first


def test_nothing_failed_is_a_conflict(storage):
    endpoint = digits_endpoint(storage)
    folder = uuid.uuid4().hex
    upload(storage, folder, builders.digit_pngs(2))
    job_name = start(storage, endpoint, folder)
    InProcessHost(storage).run_until_idle()
    with pytest.raises(ConflictError, match="no failed or canceled items"):
        retry.retry(storage, job_name)


def test_retry_of_a_table_scores_only_its_failed_rows(storage):
    name = "tab-" + uuid.uuid4().hex[:8]
    version = uuid.uuid4().hex[:8]
    models.register(storage, "diabetes", version, sample_models.diabetes_regressor())
    endpoints.create_or_update(storage, name, {})
    deployments.create_or_update(storage, name, "blue", {
        "model": f"diabetes:{version}", "scoring": sample_models.DIABETES_SCORING})
    good = data.diabetes_csv(5).decode().splitlines()
    broken = good.copy()
    cells = broken[3].split(",")
    broken[3] = ",".join(["not-a-number", *cells[1:]])  # data row 2
    folder = uuid.uuid4().hex
    upload(storage, folder, [("t.csv", "\n".join(broken).encode())])
    first = start(storage, name, folder)
    host = InProcessHost(storage)
    host.run_until_idle()
    assert [(e["file_name"], e["row"]) for e in errors(storage, first)] == [("t.csv", "2")]
    upload(storage, folder, [("t.csv", "\n".join(good).encode())])
    again = retry.retry(storage, first)
    host.run_until_idle()
    assert records.load(storage, again.name).status == JobStatus.COMPLETED
    assert [(r["file_name"], r["row"]) for r in predictions(storage, again.name)] == [
        ("t.csv", "2")]


def test_throughput_and_eta_come_from_the_live_counters():
    job = records.JobRecord(
        name="j", endpoint_name="e", deployment_name="d", model_id="m", input={}, output={},
        deployment={}, settings={}, status=JobStatus.RUNNING, planning_done=True,
        mb_total=10, mb_done=4, items_ok=40, started_at="2026-01-01T00:00:00+00:00")
    at = datetime.fromisoformat("2026-01-01T00:00:20+00:00")
    assert views.throughput(job, at) == 2.0
    assert views.eta(job, at) == 30.0
    assert views.eta(job.with_changes({"planning_done": False}), at) is None
