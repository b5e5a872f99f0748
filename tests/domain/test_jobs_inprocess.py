"""The job pipeline end to end through the plain functions the triggers call, with real
Azurite and real ONNX Runtime, driven by an in-process queue loop so deliveries can be
repeated, reordered and interrupted deterministically. (tests/e2e runs the same through the
real local host.)"""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from shared.errors import ConflictError, ValidationError
from shared.jobs import records
from shared.jobs.lifecycle import JobStatus
from shared.messages import (
    AGGREGATE_QUEUE,
    PLAN_QUEUE,
    SCORE_QUEUE,
    ScoreMiniBatch,
    decode,
    encode,
)
from shared.resources import deployments, endpoints, models
from tests import builders
from tests.domain.support import digits_endpoint, errors, predictions, start, upload
from tests.inprocess import InProcessHost


@pytest.fixture
def setup(storage):
    return storage, digits_endpoint(storage)


def test_happy_path_rows_in_input_order_match_onnxruntime(setup):
    storage, endpoint = setup
    folder = uuid.uuid4().hex
    files = builders.digit_pngs(10)
    upload(storage, folder, files)
    job_name = start(storage, endpoint, folder)
    assert records.load(storage, job_name).status == JobStatus.QUEUED
    InProcessHost(storage).run_until_idle()
    job = records.load(storage, job_name)
    assert job.status == JobStatus.COMPLETED, job.error
    assert (job.mb_total, job.mb_done, job.items_ok, job.items_failed) == (3, 3, 10, 0)
    rows = predictions(storage, job_name)
    assert [r["file_name"] for r in rows] == [f for f, _, _ in files]
    want = builders.expected_labels(builders.digits_model(), [x for _, _, x in files])
    assert [int(r["prediction"]) for r in rows] == want
    assert errors(storage, job_name) == []


def test_corrupt_file_goes_to_errors_and_job_completes(setup):
    storage, endpoint = setup
    folder = uuid.uuid4().hex
    files = builders.digit_pngs(5)
    files.insert(2, ("broken.png", b"not a png at all", None))
    upload(storage, folder, files)
    job_name = start(storage, endpoint, folder)
    InProcessHost(storage).run_until_idle()
    job = records.load(storage, job_name)
    assert job.status == JobStatus.COMPLETED
    assert (job.items_ok, job.items_failed) == (5, 1)
    assert [e["file_name"] for e in errors(storage, job_name)] == ["broken.png"]
    assert "broken.png" not in [r["file_name"] for r in predictions(storage, job_name)]


def test_error_threshold_exceeded_fails_with_reason(setup):
    storage, endpoint = setup
    folder = uuid.uuid4().hex
    upload(storage, folder, [(f"bad{i}.png", b"junk", None) for i in range(3)])
    job_name = start(storage, endpoint, folder, error_threshold=1, mini_batch_size=1)
    InProcessHost(storage).run_until_idle()
    job = records.load(storage, job_name)
    assert job.status == JobStatus.FAILED
    assert "error_threshold" in job.error


def test_duplicate_score_delivery_adds_no_rows(setup):
    storage, endpoint = setup
    folder = uuid.uuid4().hex
    files = builders.digit_pngs(8)
    upload(storage, folder, files)
    job_name = start(storage, endpoint, folder)
    host = InProcessHost(storage)
    host.run_until_idle()
    # the host delivers the same scoring messages again after the job ended
    for index in range(2):
        host.handle(SCORE_QUEUE, encode(ScoreMiniBatch(job=job_name, index=index)), 2)
    host.run_until_idle()
    job = records.load(storage, job_name)
    assert (job.mb_done, job.items_ok) == (2, 8)
    assert len(predictions(storage, job_name)) == 8


def test_crash_between_commit_and_send_is_recovered_by_redelivery(setup, monkeypatch):
    storage, endpoint = setup
    folder = uuid.uuid4().hex
    upload(storage, folder, builders.digit_pngs(4))
    job_name = start(storage, endpoint, folder)
    host = InProcessHost(storage)
    host.step("batch-plan")
    real_send = type(storage).send

    def crash_on_aggregate(self, queue, message, **kw):
        if queue == AGGREGATE_QUEUE:
            raise RuntimeError("worker died before sending the aggregation")
        return real_send(self, queue, message, **kw)

    monkeypatch.setattr(type(storage), "send", crash_on_aggregate)
    assert host.step(SCORE_QUEUE)  # commits the count, then "dies"
    monkeypatch.undo()
    assert records.load(storage, job_name).status == JobStatus.FINALIZING
    host.run_until_idle()  # the scoring message reappears and finishes what followed
    assert records.load(storage, job_name).status == JobStatus.COMPLETED
    assert len(predictions(storage, job_name)) == 4


def test_a_minibatch_poisoned_by_crashes_is_retried_beyond_max_dequeue_count(setup,
                                                                           monkeypatch):
    """Deliveries that die (here: raising before the attempt starts, as a killed worker
    never reports back) are the host's to repeat up to maxDequeueCount; a copy it gave up
    on is one retry of the service's, and only when max_retries are used up are the
    mini-batch's files failed, as `crashes`."""
    storage, endpoint = setup
    folder = uuid.uuid4().hex
    upload(storage, folder, builders.digit_pngs(3))
    job_name = start(storage, endpoint, folder, mini_batch_size=1,
                     retry_settings={"max_retries": 2})
    from types import SimpleNamespace

    from shared.jobs import minibatch, planning

    monkeypatch.setattr(minibatch, "RETRY_PAUSE_MAX", 0)
    deliveries = []

    def dies_on_the_second(row):
        if row["RowKey"] == records.mb_row(1):
            deliveries.append(1)
            raise OSError("worker killed")
        return planning.files_of(storage, row)

    monkeypatch.setattr(minibatch, "planning",
                        SimpleNamespace(files_of=lambda _, row: dies_on_the_second(row)))
    InProcessHost(storage, max_dequeue_count=3).run_until_idle()
    job = records.load(storage, job_name)
    assert job.status == JobStatus.COMPLETED
    assert (job.mb_done, job.mb_failed, job.items_failed) == (2, 1, 1)
    assert len(deliveries) == 9  # 3 copies (the first + max_retries), 3 deliveries each
    (failed,) = errors(storage, job_name)
    assert "poisoned" in failed["reason"] and failed["kind"] == "crashes"


def test_a_minibatch_that_crashed_a_few_times_is_scored(setup, monkeypatch):
    storage, endpoint = setup
    folder = uuid.uuid4().hex
    upload(storage, folder, builders.digit_pngs(3))
    job_name = start(storage, endpoint, folder, mini_batch_size=1,
                     retry_settings={"max_retries": 2})
    from types import SimpleNamespace

    from shared.jobs import minibatch, planning

    monkeypatch.setattr(minibatch, "RETRY_PAUSE_MAX", 0)
    crashes = []

    def dies_four_times(row):
        if row["RowKey"] == records.mb_row(1) and len(crashes) < 4:
            crashes.append(1)
            raise OSError("worker killed")
        return planning.files_of(storage, row)

    monkeypatch.setattr(minibatch, "planning",
                        SimpleNamespace(files_of=lambda _, row: dies_four_times(row)))
    InProcessHost(storage, max_dequeue_count=3).run_until_idle()  # 4 > maxDequeueCount
    job = records.load(storage, job_name)
    assert (job.status, job.items_ok, job.items_failed) == (JobStatus.COMPLETED, 3, 0)
    assert errors(storage, job_name) == []


def test_retry_settings_fail_the_minibatch_after_max_retries(setup, monkeypatch):
    """Counted by the service: 7 attempts, beyond the host's maxDequeueCount of 5."""
    storage, endpoint = setup
    folder = uuid.uuid4().hex
    upload(storage, folder, builders.digit_pngs(2))
    job_name = start(storage, endpoint, folder, retry_settings={"max_retries": 6})
    from shared.jobs import minibatch

    monkeypatch.setattr(minibatch, "RETRY_PAUSE_MAX", 0)
    calls = []

    def always_fails(*args, **kwargs):
        calls.append(1)
        raise TimeoutError("too slow")

    monkeypatch.setattr(minibatch, "score_refs", always_fails)
    InProcessHost(storage).run_until_idle()
    job = records.load(storage, job_name)
    assert len(calls) == 7  # first attempt + max_retries
    assert (job.status, job.items_failed) == (JobStatus.FAILED, 2)  # nothing succeeded
    first = errors(storage, job_name)[0]
    assert "after 7 attempts" in first["reason"] and first["kind"] == "attempts"


def test_cancel_keeps_finished_work(setup):
    storage, endpoint = setup
    folder = uuid.uuid4().hex
    upload(storage, folder, builders.digit_pngs(8))
    job_name = start(storage, endpoint, folder, mini_batch_size=2, instance_count=1)
    host = InProcessHost(storage)
    host.step("batch-plan")
    host.step(SCORE_QUEUE)
    from shared.jobs import fanin

    assert fanin.request_cancel(storage, job_name).status == JobStatus.CANCEL_REQUESTED
    host.run_until_idle()
    job = records.load(storage, job_name)
    assert job.status == JobStatus.CANCELED
    assert (job.mb_done, job.mb_canceled) == (1, 3)
    assert len(predictions(storage, job_name)) == 2


def test_multi_page_planning_with_window(setup, monkeypatch):
    from shared.jobs import planning

    monkeypatch.setattr(planning, "LIST_PAGE_LIMIT", 4)
    storage, endpoint = setup
    folder = uuid.uuid4().hex
    files = builders.digit_pngs(11)
    upload(storage, folder, files)
    job_name = start(storage, endpoint, folder, mini_batch_size=2)
    InProcessHost(storage).run_until_idle()
    job = records.load(storage, job_name)
    assert job.status == JobStatus.COMPLETED
    assert job.plan_pages == 3 and job.mb_total == 6
    assert [r["file_name"] for r in predictions(storage, job_name)] == [f for f, _, _ in files]


def test_the_first_page_lists_two_windows_and_they_are_scored_while_the_rest_is_listed(setup):
    """A folder's first listing page is short, so the first mini-batches start after a
    short listing; the rest is listed by the next page while they run."""
    storage, endpoint = setup
    folder = uuid.uuid4().hex
    files = builders.digit_pngs(20)
    upload(storage, folder, files)
    job_name = start(storage, endpoint, folder, mini_batch_size=2)
    host = InProcessHost(storage)
    assert host.step(PLAN_QUEUE)
    job = records.load(storage, job_name)
    window = job.window
    assert 2 * window * 2 < len(files)  # the test needs a second page
    assert (job.plan_pages, job.mb_planned, job.planning_done) == (1, 2 * window, False)
    queued = [decode(ScoreMiniBatch, m.content).index
              for m in storage.queue(SCORE_QUEUE).peek_messages(max_messages=32)]
    assert sorted(queued) == list(range(window))
    assert host.step(SCORE_QUEUE)  # mini-batch 0, before the second page is planned
    assert records.load(storage, job_name).mb_planned == 2 * window
    host.run_until_idle()
    job = records.load(storage, job_name)
    assert job.status == JobStatus.COMPLETED, job.error
    assert (job.plan_pages, job.mb_total, job.items_ok) == (2, 10, 20)
    assert [r["file_name"] for r in predictions(storage, job_name)] == [f for f, _, _ in files]


def test_default_switched_mid_job_changes_nothing_for_it(setup):
    storage, endpoint = setup
    folder = uuid.uuid4().hex
    upload(storage, folder, builders.digit_pngs(2))
    job_name = start(storage, endpoint, folder)
    version = uuid.uuid4().hex[:8]
    models.register(storage, "digits", version, builders.digits_model())
    deployments.create_or_update(storage, endpoint, "green", {
        "model": f"digits:{version}", "scoring": builders.DIGITS_SCORING})
    endpoints.create_or_update(storage, endpoint, {"defaults": {"deployment_name": "green"}})
    InProcessHost(storage).run_until_idle()
    job = records.load(storage, job_name)
    assert job.deployment_name == "blue" and job.status == JobStatus.COMPLETED


def test_resource_rules(setup):
    storage, endpoint = setup
    with pytest.raises(ConflictError, match="default deployment"):
        deployments.delete(storage, endpoint, "blue")
    with pytest.raises(ConflictError, match="used by"):
        doc = deployments.get(storage, endpoint, "blue")
        models.delete(storage, doc["model_name"], doc["model_version"],
                      deployments.users_of_model(storage, doc["model_name"],
                                                 doc["model_version"]))
    with pytest.raises(ValidationError):
        models.register(storage, "bad", "1", b"definitely not onnx")
    with pytest.raises(ValidationError, match="no files found"):
        start(storage, endpoint, "no-such-folder")


def score_queue_length(storage) -> int:
    return storage.queue("batch-score").get_queue_properties().approximate_message_count


def test_window_caps_minibatches_in_flight(setup):
    storage, endpoint = setup
    storage.queue("batch-score").clear_messages()
    folder = uuid.uuid4().hex
    upload(storage, folder, builders.digit_pngs(6))
    job_name = start(storage, endpoint, folder, mini_batch_size=1, instance_count=1,
                     max_concurrency_per_instance=2)
    host = InProcessHost(storage)
    host.step("batch-plan")
    assert records.load(storage, job_name).mb_total == 6
    # window = 1 instance x 2 processes, each with one mini-batch scored and one ahead
    assert score_queue_length(storage) == 4
    host.step(SCORE_QUEUE)
    assert score_queue_length(storage) == 4  # one finished, the next one took its place
    host.run_until_idle()
    assert records.load(storage, job_name).status == JobStatus.COMPLETED


def test_summary_only_writes_no_predictions(setup):
    storage, endpoint = setup
    folder = uuid.uuid4().hex
    upload(storage, folder, builders.digit_pngs(3))
    job_name = start(storage, endpoint, folder, output_action="summary_only")
    InProcessHost(storage).run_until_idle()
    job = records.load(storage, job_name)
    assert job.status == JobStatus.COMPLETED
    container = storage.container(job.output["container"])
    assert not container.get_blob_client(job.output["predictions"]).exists()
    summary = container.download_blob(job.output["summary"]).readall()
    assert b'"succeeded": 3' in summary


def test_model_versions_latest_and_conflict(storage):
    name = "m-" + uuid.uuid4().hex[:6]
    models.register(storage, name, "1", builders.digits_model())
    models.register(storage, name, "10", builders.digits_model())
    models.register(storage, name, "2", builders.digits_model())
    assert models.resolve_reference(storage, f"{name}@latest")["version"] == "10"
    assert models.resolve_reference(storage, f"azureml:{name}:2")["version"] == "2"
    with pytest.raises(ConflictError):
        models.register(storage, name, "2", builders.digits_model())
    with pytest.raises(ValidationError, match="names no version"):
        models.resolve_reference(storage, name)


def test_a_deployment_document_can_be_sent_back_as_is(setup):
    """GET → edit → PUT, as users do with `az ml batch-deployment show/update`."""
    storage, endpoint = setup
    doc = deployments.get(storage, endpoint, "blue")
    body = {k: v for k, v in doc.items() if k not in ("model_name", "model_version")}
    body["description"] = "edited"
    deployments.create_or_update(storage, endpoint, "blue", body)
    again = deployments.get(storage, endpoint, "blue")
    assert again["scoring"] == doc["scoring"] and again["description"] == "edited"


def test_each_minibatch_logs_where_its_time_went(setup, caplog):
    storage, endpoint = setup
    folder = uuid.uuid4().hex
    upload(storage, folder, builders.digit_pngs(5))
    job_name = start(storage, endpoint, folder, mini_batch_size=2)
    with caplog.at_level(logging.INFO, logger="batch.timing"):
        InProcessHost(storage).run_until_idle()
    lines = [json.loads(r.getMessage().split("mini-batch timing ", 1)[1])
             for r in caplog.records if r.name == "batch.timing"]
    assert sorted(t["index"] for t in lines if t["job"] == job_name) == [0, 1, 2]
    phases = {"queued", "read_state", "download", "decode", "slot_wait", "inference",
              "score_other", "write", "commit_dispatch"}
    for t in lines:
        assert phases <= set(t) and all(t[p] >= 0 for p in phases)
        # the wall clock it began and ended at: bench.run places the job's start and end
        assert t["ended"] - t["began"] >= sum(t[p] for p in phases - {"queued"}) - 0.01
    assert sum(t["items"] for t in lines if t["job"] == job_name) == 5
