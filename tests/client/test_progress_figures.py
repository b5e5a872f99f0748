"""The progress bar's figures: the job's own `throughput`/`eta` when the service gives them,
worked out from its counts and start time otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

from client import BatchJob
from client.cli._progress import job_figures

STARTED = "2026-01-01T00:00:00+00:00"
NOW = datetime.fromisoformat(STARTED).replace(tzinfo=UTC).timestamp() + 10


def _job(**extra) -> BatchJob:
    return BatchJob(name="j", status="Running", started_at=STARTED, progress={
        "mini_batches": {"total": 8, "succeeded": 1, "failed": 1, "canceled": 0},
        "items": {"succeeded": 15, "failed": 5}}, **extra)


def test_rate_and_eta_worked_out_from_counts():
    f = job_figures(_job(), now=NOW)
    assert (f["done"], f["total"], f["ok"], f["failed"]) == (2, 8, 15, 5)
    assert f["rate"] == 2.0  # 20 items in 10 s
    assert f["eta"] == 30.0  # 6 mini-batches left at 5 s each


def test_the_services_throughput_and_eta_win():
    f = job_figures(_job(throughput=7.5, eta=12), now=NOW)
    assert (f["rate"], f["eta"]) == (7.5, 12.0)
    f = job_figures(_job(throughput={"items_per_second": 3.0}), now=NOW)
    assert f["rate"] == 3.0


def test_planning_job_has_no_eta_yet():
    job = BatchJob(name="j", status="Preparing", progress={"mini_batches": {"total": None}})
    assert job_figures(job)["eta"] is None
