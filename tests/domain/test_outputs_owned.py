"""A job's predictions, errors.csv and job_summary.json are one unit owned by that job: the
collisions of issue 30 reproduced over real Azurite (reserved names, two jobs sharing a
folder, a job writing into the inbox that would start another job)."""

from __future__ import annotations

import json
import uuid

import pytest

from shared.errors import ConflictError, ValidationError
from shared.jobs import records
from shared.jobs.lifecycle import JobStatus
from shared.resources import deployments
from tests import builders
from tests.domain.support import (
    assert_consistent,
    digits_endpoint,
    errors,
    start,
    summary,
    upload,
)
from tests.inprocess import InProcessHost


@pytest.fixture
def endpoint(storage):
    return digits_endpoint(storage)


INPUTS = [(n, d) for n, d, _ in builders.digit_pngs(6)] + [("bad.png", b"not an image")]
FILES = [n for n, _ in INPUTS]


@pytest.fixture
def folder(storage):
    name = uuid.uuid4().hex
    upload(storage, name, INPUTS)
    return name


def out(path: str, **kw) -> dict:
    return {"outputs": {"score": {"path": f"azureml://datastores/workspaceblobstore/paths/"
                                          f"{path}", **kw}}}


def blob_text(storage, path: str) -> bytes:
    return storage.container("workspaceblobstore").download_blob(path).readall()


@pytest.mark.parametrize("name", ["errors.csv", "job_summary.json", "Errors.CSV"])
def test_a_reserved_output_file_name_is_refused_naming_the_field(storage, endpoint, folder,
                                                                  name):
    with pytest.raises(ValidationError) as e:
        start(storage, endpoint, folder, output_file_name=name)
    assert e.value.field == "output_file_name" and "written beside" in str(e.value)
    with pytest.raises(ValidationError) as e:
        deployments.create_or_update(storage, endpoint, "blue", {
            "model": deployments.get(storage, endpoint, "blue")["model"],
            "scoring": builders.DIGITS_SCORING, "settings": {"output_file_name": name}})
    assert e.value.field.endswith("output_file_name")


@pytest.mark.parametrize("name", ["errors.csv", "job_summary.json"])
def test_a_uri_file_output_named_like_a_side_file_is_refused(storage, endpoint, folder, name):
    with pytest.raises(ValidationError) as e:
        start(storage, endpoint, folder, **out(f"{uuid.uuid4().hex}/{name}", type="uri_file"))
    assert e.value.field == "outputs.score.path" and name in str(e.value)


def test_a_folder_holding_another_jobs_outputs_is_refused_with_409(storage, endpoint, folder):
    target = f"shared-{uuid.uuid4().hex}"
    first = start(storage, endpoint, folder, **out(target))
    InProcessHost(storage).run_until_idle()
    assert records.load(storage, first).status == JobStatus.COMPLETED
    with pytest.raises(ConflictError) as e:  # the case: another file name
        start(storage, endpoint, folder, output_file_name="other.csv", **out(target))
    assert e.value.status == 409 and f"written by job {first}" in str(e.value)
    assert "outputs.score.overwrite" in str(e.value)
    assert_consistent(storage, first, FILES)
    assert summary(storage, first)["job_name"] == first
    assert [e["file_name"] for e in errors(storage, first)] == ["bad.png"]


def test_overwrite_true_takes_the_folder_over(storage, endpoint, folder):
    target = f"shared-{uuid.uuid4().hex}"
    first = start(storage, endpoint, folder, **out(target))
    InProcessHost(storage).run_until_idle()
    second = start(storage, endpoint, folder, **out(target, overwrite=True))
    InProcessHost(storage).run_until_idle()
    job = records.load(storage, second)
    assert job.status == JobStatus.COMPLETED, job.error
    assert job.output["overwrite"] is True and first != second
    assert json.loads(blob_text(storage, f"{target}/job_summary.json"))["job_name"] == second
    props = storage.container("workspaceblobstore").get_blob_client(
        f"{target}/errors.csv").get_blob_properties()
    assert props.metadata["batch_job"] == second


def test_two_jobs_invoked_on_one_folder_at_once_the_second_fails_and_leaves_the_first_whole(
        storage, endpoint, folder):
    """Both pass invoke's check (nothing is there yet); the aggregator checks every write
    against the owner, errors.csv and job_summary.json as well as the predictions."""
    target = f"race-{uuid.uuid4().hex}"
    first = start(storage, endpoint, folder, **out(target))
    second = start(storage, endpoint, folder, output_file_name="other.csv", **out(target))
    InProcessHost(storage).run_until_idle()
    jobs = {name: records.load(storage, name) for name in (first, second)}
    winner = next(n for n, j in jobs.items() if j.status == JobStatus.COMPLETED)
    loser = next(n for n in jobs if n != winner)
    assert jobs[loser].status == JobStatus.FAILED
    assert f"written by job {winner}" in jobs[loser].error
    assert json.loads(blob_text(storage, f"{target}/job_summary.json"))["job_name"] == winner
    container = storage.container("workspaceblobstore")
    for name in ("errors.csv", jobs[winner].output["predictions"].rsplit("/", 1)[1]):
        props = container.get_blob_client(f"{target}/{name}").get_blob_properties()
        assert props.metadata["batch_job"] == winner
    loser_file = jobs[loser].output["predictions"]
    assert not container.get_blob_client(loser_file).exists()
    assert [e["file_name"] for e in errors(storage, winner)] == ["bad.png"]
    assert_consistent(storage, winner, FILES)


def test_an_output_in_the_inbox_is_refused(storage, endpoint, folder):
    with pytest.raises(ValidationError) as e:
        start(storage, endpoint, folder, outputs={"score": {
            "path": f"azureml://datastores/inbox/paths/{endpoint}/loop"}})
    assert e.value.field == "outputs.score.path" and "start" in str(e.value)
