"""The job state machine, pure: every (state, event) pair, the illegal ones included."""

from __future__ import annotations

import pytest

from shared.conflicts import retry_on_conflict
from shared.errors import ConcurrentUpdate, ContentionError, IllegalTransition
from shared.jobs import lifecycle as lc
from shared.jobs.lifecycle import JobStatus as S
from shared.jobs.lifecycle import Outcome, StopReason
from shared.jobs.records import JobRecord

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
    "mini-batch done": (lc.MiniBatchFinished(0, Outcome.DONE, 4, 0), row(
        QUEUED=S.RUNNING, PREPARING=S.RUNNING, RUNNING=S.RUNNING,
        CANCEL_REQUESTED=S.CANCEL_REQUESTED)),
    "mini-batch 'pending'": (lc.MiniBatchFinished(0, Outcome.PENDING), row()),
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


def test_the_last_minibatch_moves_the_job_to_finalizing():
    job = record(S.RUNNING, planning_done=True, mb_total=2, mb_done=1)
    assert lc.apply(job, lc.MiniBatchFinished(1, Outcome.FAILED, 0, 4), NOW)["status"] == \
        S.FINALIZING


def test_a_completion_beyond_the_planned_total_is_ignored():
    job = record(S.RUNNING, planning_done=True, mb_total=2, mb_done=1)
    assert lc.apply(job, lc.MiniBatchFinished(5, Outcome.DONE, 1, 0), NOW) is None


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
    changes = lc.apply(record(S.RUNNING, settings=settings),
                       lc.MiniBatchFinished(0, Outcome.DONE, 2, 2), NOW)
    assert changes["stop_reason"] == StopReason.ERROR_THRESHOLD
    assert "error_threshold exceeded" in changes["error"]


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
