"""Versioned messages: during a rolling update an old worker leaves a newer message alone (it
goes back on its queue, undamaged, for an up-to-date worker), over real Azurite."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from shared import messages
from shared.jobs import records, steps
from shared.messages import (
    PLAN_QUEUE,
    JobEnded,
    NewerFormat,
    PlanPage,
    ScoreMiniBatch,
    decode,
    encode,
)
from tests import builders
from tests.domain.support import digits_endpoint, start, upload


def test_messages_carry_their_format_and_older_bodies_still_decode():
    body = encode(PlanPage("job-1", 2, "token"))
    assert "v" not in json.loads(body)  # format 1: as the code before versioning wrote it
    assert decode(PlanPage, body) == PlanPage("job-1", 2, "token")
    ended = encode(JobEnded("job-1", 3))
    assert json.loads(ended) == {"v": 2, "job": "job-1", "attempt": 3}
    assert decode(JobEnded, ended) == JobEnded("job-1", 3)
    assert decode(JobEnded, '{"job":"job-1"}') == JobEnded("job-1", 0)  # written by format 1
    with pytest.raises(NewerFormat, match="format 2; this worker reads up to 1"):
        decode(PlanPage, json.dumps({"v": 2, "job": "j", "page": 0}))
    assert decode(ScoreMiniBatch, '{"job":"j","index":4}') == ScoreMiniBatch("j", 4)
    with pytest.raises(NewerFormat, match="format 3; this worker reads up to 2"):
        decode(JobEnded, json.dumps({"v": 3, "job": "j", "attempt": 0, "why": "new"}))
    for bad in ('{"v":"2","job":"j"}', '{"v":0,"job":"j"}'):
        with pytest.raises(ValueError, match="'v' must be a format number"):
            decode(PlanPage, bad)


def _find(storage, queue: str, body: str, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(m.content == body for m in storage.queue(queue).peek_messages(max_messages=32)):
            return True
        time.sleep(0.2)
    return False


def test_an_old_worker_puts_a_newer_message_back_and_a_new_worker_runs_it(storage,
                                                                          monkeypatch):
    endpoint = digits_endpoint(storage)
    folder = uuid.uuid4().hex
    upload(storage, folder, builders.digit_pngs(3))
    job_name = start(storage, endpoint, folder)
    newer = json.dumps({"v": 2, "job": job_name, "page": 0, "continuation": None},
                       separators=(",", ":"))
    monkeypatch.setattr(steps, "NEWER_DELAY", 0)  # visible again at once, for the test

    steps.handle(storage, PLAN_QUEUE, newer, 1)  # the old worker: no error, no retry used up
    assert records.load(storage, job_name).mb_planned == 0
    assert _find(storage, PLAN_QUEUE, newer), "the newer message was not put back as it was"

    monkeypatch.setitem(messages.FORMATS, PlanPage, 2)  # the new worker reads it
    steps.handle(storage, PLAN_QUEUE, newer, 1)
    job = records.load(storage, job_name)
    assert job.planning_done and job.mb_planned == 1


def test_a_message_carries_the_trace_context_of_the_span_that_sent_it():
    from opentelemetry.sdk.trace import TracerProvider

    with TracerProvider().get_tracer("test").start_as_current_span("sender") as sender:
        body = encode(ScoreMiniBatch("job-1", 3))
    context = sender.get_span_context()
    version, trace_id, span_id, flags = json.loads(body)["traceparent"].split("-")
    assert version == "00" and int(flags, 16) & 1  # sampled
    assert (trace_id, span_id) == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    assert decode(ScoreMiniBatch, body) == ScoreMiniBatch("job-1", 3)  # envelope, not field
    assert "traceparent" not in encode(ScoreMiniBatch("job-1", 3))  # no span: nothing
