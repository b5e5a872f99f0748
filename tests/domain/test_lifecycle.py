"""The job state machine, pure: every (state, event) pair, the illegal ones included."""

from __future__ import annotations

import pytest

from shared.conflicts import retry_on_conflict
from shared.errors import ConcurrentUpdate, ContentionError, IllegalTransition
from shared.jobs import lifecycle as lc
from shared.jobs.lifecycle import JobStatus as S
from shared.jobs.lifecycle import Outcome, StopReason
from shared.jobs.records import JobRecord
from shared.jobs.shards import Shard

NOW = "2026-01-01T00:00:00+00:00"
ACTIVE = (S.QUEUED, S.PREPARING, S.RUNNING, S.CANCEL_REQUESTED)
ENDED = (S.COMPLETED, S.FAILED, S.CANCELED)
IGNORED, ILLEGAL = "ignored", "illegal"


def record(status: S, **fields) -> JobRecord:
    """A job of 2 mini-batches: still planning while active, all in once finalizing/ended."""
    settled = status == S.FINALIZING or status.terminal
    base = dict(
        name="j", endpoint_name="e", deployment_name="d", model_id="m",
        input={"uri": "azureml://datastores/ws/paths/in"}, output={}, deployment={},
        settings={"error_threshold": -1, "instance_count": 1,
                  "max_concurrency_per_instance": 1},
        status=status, plan_pages=1, mb_planned=2, planning_done=settled,
        mb_total=2 if settled else -1, mb_done=2 if settled else 0,
        stop_reason=StopReason.CANCELED if status == S.CANCEL_REQUESTED else StopReason.NONE,
        started_at="" if status == S.QUEUED else NOW)
    return JobRecord(**{**base, **fields})


def row(ignored_from=(S.FINALIZING, *ENDED), **by_status):
    """Expected outcome per state: given ones, IGNORED for `ignored_from`, else ILLEGAL."""
    return {s: by_status.get(s.name, IGNORED if s in ignored_from else ILLEGAL) for s in S}


TABLE = {
    "next page": (lc.PagePlanned(1, 1, 3, "token"), row(
        QUEUED=S.RUNNING, PREPARING=S.RUNNING, RUNNING=S.RUNNING,
        CANCEL_REQUESTED=S.CANCEL_REQUESTED)),
    "last page, work in flight": (lc.PagePlanned(1, 0, 0), row(
        QUEUED=S.PREPARING, PREPARING=S.PREPARING, RUNNING=S.RUNNING,
        CANCEL_REQUESTED=S.CANCEL_REQUESTED)),
    "repeated page": (lc.PagePlanned(0, 1, 3, "token"), row(ignored_from=tuple(S))),
    # while planning goes on (every active state here) the counts cannot all be in
    "all counted": (lc.AllCounted(2, 0, 0, 8, 0), row(ignored_from=tuple(S))),
    "failures counted, no threshold": (lc.FailuresCounted(3), row(ignored_from=tuple(S))),
    "cancel": (lc.CancelRequested(), row(
        QUEUED=S.CANCEL_REQUESTED, PREPARING=S.CANCEL_REQUESTED, RUNNING=S.CANCEL_REQUESTED,
        CANCEL_REQUESTED=IGNORED)),
    "planning poisoned": (lc.PlanningFailed("x"), row(
        QUEUED=S.QUEUED, PREPARING=S.PREPARING, RUNNING=S.RUNNING,
        CANCEL_REQUESTED=S.CANCEL_REQUESTED)),
    "aggregation poisoned": (lc.AggregationFailed("x"), row(ignored_from=ENDED,
                                                            FINALIZING=S.FINALIZING)),
    "outputs written": (lc.OutputsWritten(8, 0, 0), row(ignored_from=ENDED,
                                                       FINALIZING=S.COMPLETED)),
    "retried by": (lc.Linked(retried_by="r"), row(
        ignored_from=(), COMPLETED=S.COMPLETED, FAILED=S.FAILED, CANCELED=S.CANCELED)),
    "retry of": (lc.Linked(retry_of="o"), row(ignored_from=(), **{s.name: s for s in S})),
}


@pytest.mark.parametrize("status", list(S), ids=lambda s: s.value)
@pytest.mark.parametrize("name", list(TABLE))
def test_every_state_and_event(name, status):
    event, expected = TABLE[name]
    job = record(status)
    if expected[status] == ILLEGAL:
        with pytest.raises(IllegalTransition):
            lc.apply(job, event, NOW)
        return
    changes = lc.apply(job, event, NOW)
    if expected[status] == IGNORED:
        assert changes is None
    else:
        assert changes is not None
        assert job.with_changes(changes).status == expected[status]


def shard(key: int = 0, **counts) -> Shard:
    return Shard(key, **counts, etag="e")


def test_a_completion_moves_its_shard_not_the_job():
    job = record(S.RUNNING, shards=4)
    changes = lc.tally(job, shard(1), lc.MiniBatchFinished(5, Outcome.DONE, 4, 1))
    assert changes == {"mb_done": 1, "items_ok": 4, "items_failed": 1}
    assert lc.tally(job, shard(1, mb_done=1), lc.MiniBatchFinished(9, Outcome.CANCELED)) == {
        "mb_canceled": 1, "items_ok": 0, "items_failed": 0}


def test_the_last_minibatch_of_a_shard_marks_it_full_once_planning_is_done():
    job = record(S.RUNNING, shards=4, planning_done=True, mb_total=10)  # shard 1: 1, 5, 9
    assert job.shard_size(1) == 3 and job.shard_size(3) == 2
    full = lc.tally(job, shard(1, mb_done=2), lc.MiniBatchFinished(9, Outcome.FAILED, 0, 4))
    assert full == {"mb_failed": 1, "items_ok": 0, "items_failed": 4, "full": True}
    assert "full" not in lc.tally(job, shard(1, mb_done=1),
                                  lc.MiniBatchFinished(9, Outcome.DONE, 1))
    planning = record(S.RUNNING, shards=4)  # the same counts, total unknown: not full
    assert "full" not in lc.tally(planning, shard(1, mb_done=2),
                                  lc.MiniBatchFinished(9, Outcome.DONE, 1))


@pytest.mark.parametrize("status", list(S), ids=lambda s: s.value)
def test_a_completion_counts_only_while_the_job_is_active(status):
    changes = lc.tally(record(status), shard(), lc.MiniBatchFinished(0, Outcome.DONE, 1))
    assert (changes is not None) == status.active


def test_a_completion_beyond_the_planned_total_is_ignored():
    job = record(S.RUNNING, planning_done=True, mb_total=2, shards=2)
    assert lc.tally(job, shard(1), lc.MiniBatchFinished(5, Outcome.DONE, 1, 0)) is None


def test_a_completion_is_counted_in_its_own_shard_and_never_as_pending():
    job = record(S.RUNNING, shards=4)
    with pytest.raises(IllegalTransition):
        lc.tally(job, shard(2), lc.MiniBatchFinished(5, Outcome.DONE))
    with pytest.raises(IllegalTransition):
        lc.tally(job, shard(1), lc.MiniBatchFinished(5, Outcome.PENDING))


@pytest.mark.parametrize("status", [S.RUNNING, S.CANCEL_REQUESTED], ids=lambda s: s.value)
def test_all_counted_moves_the_job_to_finalizing_with_the_counts(status):
    job = record(status, planning_done=True, mb_total=5, mb_done=0)
    changes = lc.apply(job, lc.AllCounted(3, 1, 1, 30, 12), NOW)
    after = job.with_changes(changes)
    assert after.status == S.FINALIZING and after.all_accounted
    assert (after.mb_done, after.mb_failed, after.mb_canceled, after.items_ok,
            after.items_failed) == (3, 1, 1, 30, 12)


def test_all_counted_short_of_the_total_changes_nothing():
    job = record(S.RUNNING, planning_done=True, mb_total=5, mb_done=0)
    assert lc.apply(job, lc.AllCounted(3, 1, 0, 30, 12), NOW) is None


def test_an_empty_input_fails_through_the_aggregator():
    changes = lc.apply(record(S.QUEUED, mb_planned=0, plan_pages=0), lc.PagePlanned(0, 0, 0),
                       NOW)
    assert changes["status"] == S.FINALIZING and changes["stop_reason"] == StopReason.FAILED
    job = record(S.QUEUED).with_changes(changes)
    assert job.with_changes(lc.apply(job, lc.OutputsWritten(0, 0, 0), NOW)).status == S.FAILED


@pytest.mark.parametrize(("stop", "failed", "final"), [
    (StopReason.NONE, 3, S.COMPLETED),
    (StopReason.CANCELED, 0, S.CANCELED),
    (StopReason.ERROR_THRESHOLD, 3, S.FAILED),
    (StopReason.FAILED, 0, S.FAILED),
    (StopReason.NONE, 6, S.FAILED),  # the outputs show more failures than allowed
])
def test_the_final_state_follows_the_stop_reason_and_the_outputs(stop, failed, final):
    settings = {"error_threshold": 5, "instance_count": 1, "max_concurrency_per_instance": 1}
    job = record(S.FINALIZING, stop_reason=stop, settings=settings)
    changes = lc.apply(job, lc.OutputsWritten(10, failed, 0), NOW)
    assert changes["status"] == final
    assert (changes["items_ok"], changes["items_failed"], changes["ended_at"]) == (10, failed,
                                                                                  NOW)


def test_error_threshold_stops_the_remaining_work():
    settings = {"error_threshold": 1, "instance_count": 1, "max_concurrency_per_instance": 1}
    job = record(S.RUNNING, settings=settings)
    assert lc.apply(job, lc.FailuresCounted(1), NOW) is None
    changes = lc.apply(job, lc.FailuresCounted(2), NOW)
    assert changes["stop_reason"] == StopReason.ERROR_THRESHOLD
    assert "error_threshold exceeded" in changes["error"]
    assert lc.apply(job.with_changes(changes), lc.FailuresCounted(3), NOW) is None


def test_planning_poisoned_counts_the_rows_its_last_page_wrote():
    changes = lc.apply(record(S.RUNNING, mb_planned=4), lc.PlanningFailed("x", written=3), NOW)
    assert (changes["mb_total"], changes["stop_reason"]) == (7, StopReason.FAILED)
    assert "status" not in changes  # the shards' settle moves it on
    empty = lc.apply(record(S.PREPARING, mb_planned=0), lc.PlanningFailed("x"), NOW)
    assert empty["status"] == S.FINALIZING


def test_conflicts_are_retried_then_raise():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConcurrentUpdate("412")
        return "written"

    assert retry_on_conflict(flaky, "row") == "written" and len(calls) == 3

    def always():
        raise ConcurrentUpdate("412")

    with pytest.raises(ContentionError, match="4 attempts"):
        retry_on_conflict(always, "row", attempts=4)


def test_a_job_in_which_no_item_succeeded_fails_with_its_first_reasons():
    job = record(S.FINALIZING)  # error_threshold -1: failures alone would be allowed
    changes = lc.apply(job, lc.OutputsWritten(0, 5, 0, first_reasons=("not an image", "x")),
                       NOW)
    assert changes["status"] == S.FAILED
    assert changes["error"] == ("no item succeeded: all 5 failed; first reasons: "
                                "not an image; x")
    assert lc.apply(record(S.FINALIZING, stop_reason=StopReason.CANCELED),
                    lc.OutputsWritten(0, 0, 4), NOW)["status"] == S.CANCELED


def test_the_error_threshold_message_gives_the_final_counts():
    settings = {"error_threshold": 1, "instance_count": 1, "max_concurrency_per_instance": 1}
    job = record(S.RUNNING, settings=settings)
    job = job.with_changes(lc.apply(job, lc.FailuresCounted(2), NOW))  # at the crossing
    job = job.with_changes({"status": S.FINALIZING, "planning_done": True, "mb_total": 2})
    changes = lc.apply(job, lc.OutputsWritten(3, 7, 5), NOW)
    assert changes["status"] == S.FAILED
    assert changes["error"] == ("error_threshold exceeded: 7 items failed, more than the 1 "
                                "allowed; 5 items were not scored")
