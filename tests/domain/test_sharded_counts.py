"""Counting at concurrency, over real Azurite: many completers of one job, duplicates among
them, planning that ends after the completions — every mini-batch counted exactly once,
and the job moved to Finalizing once, with the right counters."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from shared.jobs import fanin, lifecycle, planning, records, shards, views
from shared.jobs.lifecycle import JobStatus, Outcome
from shared.jobs.planning import InputRef
from shared.messages import PlanPage
from tests.domain.support import digits_endpoint, plan_all, start, upload

THREADS = 16


def job_of(storage, files: int, **settings) -> str:
    """A job of `files` one-file mini-batches whose window is THREADS (so THREADS shards)."""
    endpoint = digits_endpoint(storage, mini_batch_size=1,  # 2 instances, PREFETCH per slot
                               max_concurrency_per_instance=THREADS // (2 * records.PREFETCH),
                               **settings)
    folder = uuid.uuid4().hex
    upload(storage, folder, [(f"{i:04d}.png", b"never scored") for i in range(files)])
    return start(storage, endpoint, folder)


def outcome_of(index: int) -> tuple[Outcome, int, int]:
    """Every 5th mini-batch failed whole, every 3rd has one failed item of its two."""
    if index % 5 == 4:
        return Outcome.FAILED, 0, 2
    return (Outcome.DONE, 1, 1) if index % 3 == 2 else (Outcome.DONE, 2, 0)


def complete(storage, job: str, index: int) -> None:
    outcome, ok, failed = outcome_of(index)
    fanin.complete(storage, job, index, outcome, ok, failed, part="p")


def test_concurrent_completions_with_duplicates_finish_the_job_exactly_once(storage):
    total = 96
    job_name = job_of(storage, total)
    job = plan_all(storage, job_name)  # the first page holds two windows, the second the rest
    assert job.plan_pages == 2
    assert (job.mb_total, job.shards, job.status) == (total, THREADS, JobStatus.RUNNING)

    def chain(slot: int) -> None:  # as dispatch hands them out: slot, slot+window, ...
        for index in range(slot, total, THREADS):
            complete(storage, job_name, index)
            if index % 4 == 0:  # a redelivery, run by another completer meanwhile
                complete(storage, job_name, (index + 1) % total)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(chain, range(THREADS // 2)))
        running = views.load(storage, job_name)
        assert running.status == JobStatus.RUNNING
        list(pool.map(chain, range(THREADS // 2, THREADS)))

    half = [outcome_of(i) for i in range(total)
            if i % THREADS < THREADS // 2 or (i - 1) % THREADS < THREADS // 2 and i % 4 == 1]
    assert running.accounted >= len(half)  # live counts while running, from the shards
    job = records.load(storage, job_name)
    outcomes = [outcome_of(i) for i in range(total)]
    assert job.status == JobStatus.FINALIZING
    assert (job.mb_done, job.mb_failed, job.mb_canceled) == (
        sum(o == Outcome.DONE for o, _, _ in outcomes),
        sum(o == Outcome.FAILED for o, _, _ in outcomes), 0)
    assert (job.items_ok, job.items_failed) == (sum(ok for _, ok, _ in outcomes),
                                                sum(failed for _, _, failed in outcomes))
    counted = shards.read_all(storage, job)
    assert len(counted) == THREADS and all(s.full for s in counted)
    assert shards.sums(counted)["items_ok"] == job.items_ok
    assert views.load(storage, job_name).items_ok == job.items_ok  # the job row's, now


def test_completions_before_planning_ends_are_settled_by_planning(storage):
    """Every mini-batch finishes while the job still looks unplanned: no shard can know
    it is full, so the last page's follow-up must count them."""
    total = 20
    job_name = job_of(storage, total)
    job = records.load(storage, job_name)
    batches = [[InputRef(f"f{i}")] for i in range(total)]
    planning.write_minibatches(storage, job_name, 0, batches)
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda i: complete(storage, job_name, i), range(total)))
    assert records.load(storage, job_name).status == JobStatus.QUEUED
    job, _ = records.update_job(storage, job_name, lifecycle.PagePlanned(0, total, total))
    assert job.status == JobStatus.RUNNING  # counted in shards not known to be full
    planning.follow_up(storage, job)
    job = records.load(storage, job_name)
    assert (job.status, job.accounted, job.items_ok) == (
        JobStatus.FINALIZING, total, sum(ok for _, ok, _ in map(outcome_of, range(total))))


def test_failures_past_the_threshold_stop_the_job(storage):
    job_name = job_of(storage, 8, error_threshold=2)
    planning.plan_page(storage, PlanPage(job_name))
    for index in range(3):
        fanin.complete(storage, job_name, index * 2, Outcome.DONE, 1, 1, part="p")
    job = records.load(storage, job_name)
    assert job.stop_reason == lifecycle.StopReason.ERROR_THRESHOLD
    assert "3 items failed" in job.error


def test_a_cancel_skips_a_transaction_full_of_one_shard_at_a_time(storage):
    job_name = job_of(storage, 1)  # only planned below, with more mini-batches
    records.update_job(storage, job_name, lambda job: {"settings": {
        **job.settings, "instance_count": 1, "max_concurrency_per_instance": 1},
        "shards": 2})  # window 2: one slot, PREFETCH 2
    total = 240
    planning.write_minibatches(storage, job_name, 0, [[InputRef(f"f{i}")] for i in range(total)])
    records.update_job(storage, job_name, lifecycle.PagePlanned(0, total, total))
    fanin.request_cancel(storage, job_name)
    fanin.skip(storage, job_name, 0, "canceled")  # 0, 2, ..., 196 and shard 0: 100 rows
    assert shards.get(storage, records.load(storage, job_name), 0).mb_canceled == 99
    for index in (198, 1, 199):  # what each skip's dispatch would deliver next
        fanin.skip(storage, job_name, index, "canceled")
    job = records.load(storage, job_name)
    assert (job.status, job.mb_canceled, job.mb_done) == (JobStatus.FINALIZING, total, 0)


def test_a_completion_from_a_stale_read_counts_nothing_twice(storage):
    """The scoring step hands fanin.complete the job and mini-batch row it read before
    scoring. If another delivery finished the mini-batch meanwhile, that row's ETag makes the
    commit a conflict, and the retry reads again and finds it done."""
    job_name = job_of(storage, 4)
    planning.plan_page(storage, PlanPage(job_name))
    stale = (records.load(storage, job_name), records.get_minibatch(storage, job_name, 0))
    fanin.complete(storage, job_name, 0, Outcome.DONE, 2, 0, part="first")
    fanin.complete(storage, job_name, 0, Outcome.DONE, 2, 0, part="second", read=stale)
    row, _ = records.get_minibatch(storage, job_name, 0)
    assert row["part"] == "first"
    counted = shards.sums(shards.read_all(storage, records.load(storage, job_name)))
    assert (counted["mb_done"], counted["items_ok"]) == (1, 2)
