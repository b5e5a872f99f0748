"""The watchdog over real Azurite: messages lost (as an emulator killed before it saved
loses them) are sent again within the stall bound, a lost check is replaced by whoever
reads the job, and a slow job's running mini-batches are not sent twice."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.jobs import records, views, watchdog
from shared.jobs.lifecycle import JobStatus
from shared.messages import CHECK_QUEUE, PLAN_QUEUE, SCORE_QUEUE, ScoreMiniBatch, decode
from tests import builders
from tests.domain.support import assert_consistent, digits_endpoint, start, upload
from tests.inprocess import QUEUES, InProcessHost


@pytest.fixture
def endpoint(storage, monkeypatch):
    monkeypatch.setenv("BATCH_WATCHDOG_SECONDS", "1")
    return digits_endpoint(storage, retry_settings={"timeout": 1})


def lose(storage, queue: str) -> None:
    storage.ensure_queues((queue,))
    storage.queue(queue).clear_messages()


def run_until_ended(host: InProcessHost, storage, job_name: str, seconds: float) -> float:
    started = time.monotonic()
    while not records.load(storage, job_name).status.terminal:
        assert time.monotonic() - started < seconds, records.load(storage, job_name).status
        if not any([host.step(q) for q in QUEUES]):
            time.sleep(0.1)  # the next check is a delayed message
    return time.monotonic() - started


def test_lost_minibatch_messages_are_sent_again_after_the_stall(storage, endpoint):
    folder = uuid.uuid4().hex
    files = builders.digit_pngs(10)
    upload(storage, folder, files)
    job_name = start(storage, endpoint, folder)
    host = InProcessHost(storage)
    assert host.step(PLAN_QUEUE)
    lose(storage, SCORE_QUEUE)  # every mini-batch message of the job, gone
    # nothing finished yet: the stall is a period and one attempt's timeout (1 + 1 s)
    took = run_until_ended(host, storage, job_name, 20)
    assert records.load(storage, job_name).status == JobStatus.COMPLETED
    assert took >= 2 and any(d.queue == CHECK_QUEUE for d in host.delivered)
    assert_consistent(storage, job_name, [n for n, _, _ in files])


def test_a_lost_check_is_replaced_when_the_job_is_read(storage, endpoint):
    folder = uuid.uuid4().hex
    files = builders.digit_pngs(6)
    upload(storage, folder, files)
    job_name = start(storage, endpoint, folder)
    host = InProcessHost(storage)
    assert host.step(PLAN_QUEUE)
    lose(storage, SCORE_QUEUE)
    lose(storage, CHECK_QUEUE)  # the chain's one message, gone too
    before = records.load(storage, job_name)
    views.load(storage, job_name)  # not overdue yet: nothing changes
    assert records.load(storage, job_name).watch_token == before.watch_token
    records.update_job(storage, job_name, lambda _: {"watch_due": time.time() - 10})
    views.load(storage, job_name)  # someone follows the job: a new chain
    assert records.load(storage, job_name).watch_token != before.watch_token
    run_until_ended(host, storage, job_name, 20)
    assert records.load(storage, job_name).status == JobStatus.COMPLETED
    assert_consistent(storage, job_name, [n for n, _, _ in files])


def test_the_stall_bound_follows_the_jobs_pace_up_to_an_attempts_timeout():
    started = (datetime.now(UTC) - timedelta(seconds=100)).isoformat()
    job = records.JobRecord(
        name="j", endpoint_name="e", deployment_name="d", model_id="m", input={},
        output={}, deployment={}, status=JobStatus.RUNNING, started_at=started,
        mb_planned=5000, settings={"instance_count": 2, "max_concurrency_per_instance": 1,
                                   "retry_settings": {"timeout": 300}})
    now, period = time.time(), watchdog.interval()
    assert watchdog.stall_seconds(job, now) == period + 300  # none finished yet
    slow = job.with_changes({"mb_done": 10})  # 4 in flight, 10 done in 100 s: 40 s each
    assert watchdog.stall_seconds(slow, now) == pytest.approx(120, abs=1)
    slower = job.with_changes({"mb_done": 1})  # 400 s each: an attempt's timeout caps it
    assert watchdog.stall_seconds(slower, now) == period + 300
    fast = job.with_changes({"mb_done": 4000})
    assert watchdog.stall_seconds(fast, now) == period
    idle = job.with_changes({"mb_done": 10, "mb_planned": 10})  # a planning page is missing
    assert watchdog.stall_seconds(idle, now) == period


def test_a_minibatch_waiting_for_its_retry_is_not_sent_again(storage, endpoint):
    folder = uuid.uuid4().hex
    upload(storage, folder, builders.digit_pngs(8))  # mini-batches of 4: 2, both in window
    job_name = start(storage, endpoint, folder)
    assert InProcessHost(storage).step(PLAN_QUEUE)
    lose(storage, SCORE_QUEUE)
    records.mark_minibatch(storage, job_name, 0, {"retry_until": time.time() + 60})
    watchdog.resend(storage, records.load(storage, job_name), 30)
    sent = [m.content for m in storage.queue(SCORE_QUEUE).peek_messages(max_messages=32)]
    indexes = [decode(ScoreMiniBatch, body).index for body in sent
               if decode(ScoreMiniBatch, body).job == job_name]
    assert indexes == [1]
