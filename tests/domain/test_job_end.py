"""How a job ends, over real Azurite: a job in which nothing succeeded is Failed whatever
error_threshold allows, the summary exists as soon as the job has ended (a crash right
after the end is committed cannot leave it missing), and invoke answers only after the job
row is stored."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import ServiceResponseError
from azure.data.tables import TableClient

from shared.jobs import records
from shared.jobs.lifecycle import JobStatus
from shared.messages import PLAN_QUEUE
from tests import builders
from tests.domain.support import assert_consistent, digits_endpoint, start, summary, upload
from tests.inprocess import InProcessHost


@pytest.fixture
def endpoint(storage):
    return digits_endpoint(storage)


def test_a_job_whose_every_item_failed_is_failed_with_the_first_reasons(storage, endpoint):
    folder = uuid.uuid4().hex
    files = [(f"bad{i}.png", b"junk") for i in range(5)]
    upload(storage, folder, files)
    job_name = start(storage, endpoint, folder)  # error_threshold -1
    InProcessHost(storage).run_until_idle()
    job = records.load(storage, job_name)
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("no item succeeded: all 5 failed; first reasons: ")
    assert "image" in job.error
    assert_consistent(storage, job_name, [n for n, _ in files])


def test_a_crash_right_after_the_end_is_committed_leaves_the_summary_written(
        storage, endpoint, monkeypatch):
    folder = uuid.uuid4().hex
    files = builders.digit_pngs(5)
    upload(storage, folder, files)
    job_name = start(storage, endpoint, folder)
    real_log = records.log

    def dies_after_the_end(storage_, job, message):
        if job == job_name and message.startswith("job Completed"):
            raise SystemExit("worker killed right after committing the job's end")
        real_log(storage_, job, message)

    monkeypatch.setattr(records, "log", dies_after_the_end)
    with pytest.raises(SystemExit):
        InProcessHost(storage).run_until_idle()
    job = records.load(storage, job_name)
    assert job.status == JobStatus.COMPLETED
    doc = summary(storage, job_name)  # no redelivery needed
    assert doc is not None and doc["status"] == "Completed"
    assert doc["finalized_at"] == job.ended_at and doc["items"]["succeeded"] == 5


def test_invoke_answers_only_after_the_job_row_write_returned(storage, endpoint, monkeypatch):
    folder = uuid.uuid4().hex
    upload(storage, folder, builders.digit_pngs(2))
    name = "job-" + uuid.uuid4().hex[:12]
    real_create = TableClient.create_entity

    def fails_for_the_job_row(self, entity, **kw):
        if entity.get("PartitionKey") == name and entity.get("RowKey") == records.JOB_ROW:
            raise ServiceResponseError("storage went away while the job row was written")
        return real_create(self, entity, **kw)

    sent = []
    monkeypatch.setattr(TableClient, "create_entity", fails_for_the_job_row)
    monkeypatch.setattr(storage, "send", lambda queue, msg, **kw: sent.append((queue, msg)))
    with pytest.raises(ServiceResponseError):
        start(storage, endpoint, folder, job_name=name)
    assert records.find(storage, name) is None and sent == []
    monkeypatch.setattr(TableClient, "create_entity", real_create)
    start(storage, endpoint, folder, job_name=name)  # the same request, storage back
    assert records.find(storage, name) is not None
    assert [(q, m.job) for q, m in sent] == [(PLAN_QUEUE, name)]
