"""A plan message redelivered after the input folder changed (issue 30: a crash between
writing a page's mini-batch rows and moving the job row on, while files keep arriving)
plans the listing its first run recorded: no file twice, no new file half in, counts that
agree with the outputs."""

from __future__ import annotations

import uuid

import pytest

from shared.jobs import planning, records
from shared.jobs.lifecycle import JobStatus
from shared.messages import PlanPage
from tests import builders
from tests.domain.support import assert_consistent, digits_endpoint, start, upload
from tests.inprocess import InProcessHost


class Crash(Exception):
    """The worker died here."""


@pytest.fixture
def endpoint(storage):
    return digits_endpoint(storage)


def pngs(names: list[str]) -> list[tuple[str, bytes]]:
    return [(n, data) for n, (_, data, _) in zip(names, builders.digit_pngs(len(names)),
                                                  strict=True)]


@pytest.mark.parametrize("crash_at", ["dispatch_new", "write_minibatches"])
def test_a_redelivered_plan_page_reuses_its_first_listing(storage, endpoint, monkeypatch,
                                                         crash_at):
    folder = uuid.uuid4().hex
    first = pngs([f"f{i:02d}.png" for i in range(0, 20, 2)])  # 10 files, 3 mini-batches
    upload(storage, folder, first)
    job_name = start(storage, endpoint, folder)
    real = getattr(planning, crash_at)

    def crashes(*args, **kwargs):
        if crash_at == "dispatch_new":
            real(*args, **kwargs)  # the rows are written and sent; the job row not moved on
        raise Crash(crash_at)

    monkeypatch.setattr(planning, crash_at, crashes)
    with pytest.raises(Crash):
        planning.plan_page(storage, PlanPage(job_name, 0))
    monkeypatch.setattr(planning, crash_at, real)
    assert records.load(storage, job_name).plan_pages == 0
    # files keep arriving, sorting between and after the listed ones
    upload(storage, folder, pngs([f"f{i:02d}.png" for i in range(1, 20, 2)] + ["g.png"]))
    planning.plan_page(storage, PlanPage(job_name, 0))  # the redelivery
    InProcessHost(storage).run_until_idle()
    job = records.load(storage, job_name)
    assert job.status == JobStatus.COMPLETED, job.error
    assert (job.files_total, job.mb_total, job.items_ok) == (10, 3, 10)
    assert_consistent(storage, job_name, [n for n, _ in first])


def test_every_page_of_a_many_page_folder_is_recorded_once(storage, endpoint):
    folder = uuid.uuid4().hex
    files = pngs([f"f{i:03d}.png" for i in range(40)])  # a first page of 32, then the rest
    upload(storage, folder, files)
    job_name = start(storage, endpoint, folder)
    planning.plan_page(storage, PlanPage(job_name, 0))
    job = records.load(storage, job_name)
    assert job.plan_pages == 1 and job.files_total == 32
    upload(storage, folder, pngs(["f0000.png", "f999.png"]))  # arrives after page 0's listing
    planning.plan_page(storage, PlanPage(job_name, 0))  # a late duplicate: changes nothing
    InProcessHost(storage).run_until_idle()
    job = records.load(storage, job_name)
    assert job.status == JobStatus.COMPLETED
    # page 1 lists from page 0's continuation, whatever arrived: f999.png sorts after it
    assert job.files_total == 41
    assert_consistent(storage, job_name, [n for n, _ in files] + ["f999.png"])
    pages = [b.name for b in storage.container("batch-jobs").list_blobs(
        name_starts_with=f"{job_name}/plan/pages/")]
    assert pages == [planning.page_path(job_name, 0), planning.page_path(job_name, 1)]
