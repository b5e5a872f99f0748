"""The findings of "exactly once under every fault", each reproduced with the in-process
host over real Azurite: every input file ends in predictions.csv or errors.csv exactly
once, and the final state, the counters, the outputs and job_summary.json agree."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from azure.core.exceptions import ServiceRequestError

from shared.errors import ConflictError
from shared.events import drops, outbound
from shared.jobs import aggregate, errorsfile, fanin, jobindex, minibatch, records, steps
from shared.jobs.lifecycle import JobStatus
from shared.messages import (
    AGGREGATE_QUEUE,
    EVENTS_QUEUE,
    PLAN_QUEUE,
    SCORE_QUEUE,
    AggregateJob,
    ScoreMiniBatch,
    encode,
    poison,
)
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


@pytest.fixture
def endpoint(storage):
    return digits_endpoint(storage)


def digits_with_corrupt(count: int, every: int = 4) -> list[tuple[str, bytes]]:
    files = [(name, data) for name, data, _ in builders.digit_pngs(count)]
    return [(f"bad{i:03d}.png", b"not an image") if i % every == every - 1 else f
            for i, f in enumerate(files)]


def run_to_finalizing(host: InProcessHost, storage, job_name: str) -> None:
    """Plan and score (other tests' leftovers too), but do not aggregate yet."""
    while records.load(storage, job_name).status != JobStatus.FINALIZING:
        assert host.step(PLAN_QUEUE) or host.step(SCORE_QUEUE)


def test_1_poisoned_copy_of_a_finished_minibatch_changes_nothing(storage, endpoint):
    folder = uuid.uuid4().hex
    files = digits_with_corrupt(8)
    upload(storage, folder, files)
    job_name = start(storage, endpoint, folder)
    host = InProcessHost(storage)
    run_to_finalizing(host, storage, job_name)
    for index in range(2):  # the host gave up on a redelivery of each finished mini-batch
        host.handle(poison(SCORE_QUEUE), encode(ScoreMiniBatch(job_name, index)))
    host.run_until_idle()
    job = records.load(storage, job_name)
    assert (job.status, job.mb_done, job.mb_failed) == (JobStatus.COMPLETED, 2, 0)
    assert_consistent(storage, job_name, [n for n, _ in files])
    assert [e["file_name"] for e in errors(storage, job_name)] == ["bad003.png", "bad007.png"]


@pytest.mark.parametrize("lost", ["result", "errors"])
def test_2_a_lost_result_part_is_scored_again(storage, endpoint, lost):
    """Storage lost a part after its mini-batch was scored (an emulator killed before it
    saved): its files are still there, so the aggregator scores them again instead of
    failing items that had succeeded."""
    folder = uuid.uuid4().hex
    files = digits_with_corrupt(12)
    upload(storage, folder, files)
    job_name = start(storage, endpoint, folder)
    host = InProcessHost(storage)
    run_to_finalizing(host, storage, job_name)
    index = 1 if lost == "result" else 0  # mini-batch 0 holds the corrupt files
    row, _ = records.get_minibatch(storage, job_name, index)
    path = (minibatch.result_path if lost == "result" else minibatch.errors_path)
    storage.container("batch-jobs").delete_blob(path(job_name, index, row["part"]))
    host.run_until_idle()
    job = records.load(storage, job_name)
    assert job.status == JobStatus.COMPLETED
    assert_consistent(storage, job_name, [n for n, _ in files])
    assert [e["file_name"] for e in errors(storage, job_name)] == [
        "bad003.png", "bad007.png", "bad011.png"]
    assert {e["kind"] for e in errors(storage, job_name)} == {"item"}
    assert records.get_minibatch(storage, job_name, index)[0]["rescored"] == 1
    assert len(predictions(storage, job_name)) == 9


def test_2b_a_part_lost_again_after_the_retries_fails_its_files_as_lost(storage):
    endpoint = digits_endpoint(storage, retry_settings={"max_retries": 0})
    folder = uuid.uuid4().hex
    files = digits_with_corrupt(12)
    upload(storage, folder, files)
    job_name = start(storage, endpoint, folder)
    host = InProcessHost(storage)
    run_to_finalizing(host, storage, job_name)
    row, _ = records.get_minibatch(storage, job_name, 1)
    storage.container("batch-jobs").delete_blob(
        minibatch.result_path(job_name, 1, row["part"]))
    host.run_until_idle()
    job = records.load(storage, job_name)
    assert job.status == JobStatus.COMPLETED
    assert_consistent(storage, job_name, [n for n, _ in files])
    lost = [e for e in errors(storage, job_name) if e["kind"] == "lost"]
    listed = sorted(n for n, _ in files)  # listing order
    assert [e["file_name"] for e in lost] == listed[4:8]
    assert {e["reason"] for e in lost} == {aggregate.LOST_PART}
    good = {n for n, _ in files if not n.startswith("bad")}
    assert {r["file_name"] for r in predictions(storage, job_name)} == good - set(listed[4:8])


def test_3_aggregation_poisoned_while_a_run_goes_on_ends_in_one_agreeing_state(
        storage, endpoint):
    folder = uuid.uuid4().hex
    files = digits_with_corrupt(8)
    upload(storage, folder, files)
    job_name = start(storage, endpoint, folder)
    host = InProcessHost(storage)
    run_to_finalizing(host, storage, job_name)
    # the poisoned copy is handled first; the earlier delivery then finishes its run
    host.handle(poison(AGGREGATE_QUEUE), encode(AggregateJob(job_name)))
    assert records.load(storage, job_name).status == JobStatus.FINALIZING
    aggregate.aggregate(storage, AggregateJob(job_name))
    host.run_until_idle()
    job = records.load(storage, job_name)
    assert job.status == JobStatus.COMPLETED and job.aggregate_failures == 1
    assert_consistent(storage, job_name, [n for n, _ in files])
    aggregate.aggregate(storage, AggregateJob(job_name))  # a late redelivery: same result
    assert summary(storage, job_name)["status"] == "Completed"


def test_4_what_a_running_job_pinned_cannot_be_deleted(storage, endpoint):
    version = uuid.uuid4().hex[:8]
    models.register(storage, "digits", version, builders.digits_model())
    deployments.create_or_update(storage, endpoint, "green", {
        "model": f"digits:{version}", "scoring": builders.DIGITS_SCORING})
    folder = uuid.uuid4().hex
    upload(storage, folder, digits_with_corrupt(4))
    job_name = start(storage, endpoint, folder, deployment_name="green")
    with pytest.raises(ConflictError, match=job_name):
        deployments.delete(storage, endpoint, "green")
    with pytest.raises(ConflictError, match=job_name):
        models.delete(storage, "digits", version, [])
    InProcessHost(storage).run_until_idle()
    assert records.load(storage, job_name).status == JobStatus.COMPLETED
    deployments.delete(storage, endpoint, "green")
    models.delete(storage, "digits", version, [])


def test_5a_a_blob_arriving_in_two_versions_is_in_the_job_once(storage, monkeypatch):
    monkeypatch.setenv("BATCH_DROP_QUIET_SECONDS", "3600")
    endpoint = digits_endpoint(storage)
    (name, first, _), (_, second, _) = builders.digit_pngs(2)
    path = f"{endpoint}/twice/{name}"
    for data in (first, second):  # overwritten during the quiet window: two BlobCreated
        blob = storage.container("inbox").upload_blob(path, data, overwrite=True)
        drops.on_blob_created(storage, drops.BlobCreated(
            "inbox", path, blob.get_blob_properties().etag, "eventgrid"))
    storage.container("inbox").upload_blob(f"{endpoint}/twice/_READY", b"", overwrite=True)
    drops.on_blob_created(storage, drops.BlobCreated("inbox", f"{endpoint}/twice/_READY",
                                                     "marker-etag", "eventgrid"))
    InProcessHost(storage).run_until_idle()
    (job,) = jobindex.all_jobs(storage, endpoint=endpoint)
    assert (job.status, job.files_total) == (JobStatus.COMPLETED, 1)
    assert [r["file_name"] for r in predictions(storage, job.name)] == [name]


def test_5b_a_file_overwritten_after_planning_fails_with_its_version(storage, endpoint):
    folder = uuid.uuid4().hex
    files = digits_with_corrupt(4, every=99)
    upload(storage, folder, files)
    job_name = start(storage, endpoint, folder)
    host = InProcessHost(storage)
    host.step(PLAN_QUEUE)
    upload(storage, folder, files[:1])  # a new version of the first file
    host.run_until_idle()
    assert_consistent(storage, job_name, [n for n, _ in files])
    (changed,) = errors(storage, job_name)
    assert changed["file_name"] == files[0][0] and "changed after" in changed["reason"]


def test_6_canceled_items_are_listed_as_canceled(storage, endpoint):
    folder = uuid.uuid4().hex
    files = digits_with_corrupt(20, every=99)
    upload(storage, folder, files)
    job_name = start(storage, endpoint, folder, mini_batch_size=2, instance_count=1)
    host = InProcessHost(storage)
    host.step(PLAN_QUEUE)
    host.step(SCORE_QUEUE)
    fanin.request_cancel(storage, job_name)
    host.run_until_idle()
    job = records.load(storage, job_name)
    assert job.status == JobStatus.CANCELED
    assert_consistent(storage, job_name, [n for n, _ in files])
    assert len(predictions(storage, job_name)) == 2
    assert {e["reason"] for e in errors(storage, job_name)} == {"canceled"}
    assert job.items_canceled == 18


def test_7a_a_storage_fault_reading_the_endpoint_is_retried(storage, endpoint, monkeypatch):
    folder = uuid.uuid4().hex
    upload(storage, folder, digits_with_corrupt(2, every=99))
    job_name = start(storage, endpoint, folder)
    InProcessHost(storage).run_until_idle()
    records.update_job(storage, job_name, lambda job: {"events_state": ""})  # not sent yet

    def unreachable(*args, **kwargs):
        raise ServiceRequestError("connection refused")

    monkeypatch.setattr(endpoints, "get", unreachable)
    with pytest.raises(ServiceRequestError):
        outbound.publish(storage, job_name)
    assert records.load(storage, job_name).events_state != "delivered"


def test_7b_errors_csv_reasons_are_escaped_and_cut(storage, endpoint, monkeypatch):
    folder = uuid.uuid4().hex
    files = [(f'odd, "name" {i}.png', data) for i, (_, data) in
             enumerate(digits_with_corrupt(3, every=99))]
    upload(storage, folder, files)
    job_name = start(storage, endpoint, folder, retry_settings={"max_retries": 0})

    def broken(*args, **kwargs):
        raise OSError('boom, "quoted"\nsecond line \x00\xff' + "x" * 5000)

    monkeypatch.setattr(minibatch, "score_refs", broken)
    InProcessHost(storage).run_until_idle()
    assert_consistent(storage, job_name, [n for n, _ in files])
    for e in errors(storage, job_name):
        assert len(e["reason"]) <= errorsfile.REASON_LIMIT and "\n" not in e["reason"]
        assert e["reason"].startswith('mini-batch failed after 1 attempts: OSError: boom, "')
    raw = list(csv.reader(io.StringIO(errorsfile.lines([("a,b", "", 'x"\r\ny')]).decode())))
    assert raw == [["a,b", "", 'x" y', "item"]]


def test_7c_a_failing_poison_handler_never_feeds_poison_poison(storage, monkeypatch):
    body = encode(ScoreMiniBatch("no-such-job", 0))
    steps.handle_poison(storage, SCORE_QUEUE, body)  # permanent: logged and dropped

    def outage(*args):
        raise ServiceRequestError("storage down")

    monkeypatch.setattr(records, "load", outage)
    monkeypatch.setattr(steps, "BACKOFF_SECONDS", 0.01)
    with pytest.raises(ServiceRequestError):  # retryable: the host tries again ...
        steps.handle_poison(storage, SCORE_QUEUE, body, dequeue_count=1)
    with pytest.raises(ServiceRequestError):
        steps.handle_poison(storage, SCORE_QUEUE, body, dequeue_count=2)
    storage.ensure_queues((poison(SCORE_QUEUE),))
    parked = storage.queue(poison(SCORE_QUEUE))
    parked.clear_messages()
    steps.handle_poison(storage, SCORE_QUEUE, body, dequeue_count=steps.POISON_ATTEMPTS)
    props = parked.get_queue_properties()  # ... and on its last try it parks the message
    assert props.approximate_message_count == 1


def test_every_queue_trigger_of_the_app_is_a_step_of_the_one_table():
    from function_app import app
    from tests import inprocess

    triggered = {b.queue_name for f in app.get_functions() for b in f.get_bindings()
                 if b.type == "queueTrigger"}
    assert triggered == set(steps.STEPS) | {poison(q) for q in steps.queues_with_poison()} | {
        poison(EVENTS_QUEUE)}  # undeliverable events are logged (blueprints/events.py)
    assert set(inprocess.QUEUES) == set(steps.STEPS)
