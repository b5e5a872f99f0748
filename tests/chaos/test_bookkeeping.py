"""bench.chaos's own bookkeeping, without a host: it must never be what fails a chaos run."""

from __future__ import annotations

import pytest

from bench import chaos
from devhost.testing import HostProcess


def test_a_worker_without_a_known_pid_is_a_lookup_error_the_killer_skips(tmp_path):
    host = HostProcess(tmp_path, workers=2)
    host.pids[0] = 999_999_999  # no such process
    with pytest.raises(ProcessLookupError):
        host.kill_worker(0)
    with pytest.raises(ProcessLookupError, match="worker 1 has not reported a pid"):
        host.kill_worker(1)  # was KeyError: 1, which crashed bench.chaos


def test_writes_the_emulator_lost_are_told_apart():
    before = {"job": "Running", "mb-00000000": "done", "mb-00000001": "pending",
              "mb-00000002": "done", "cnt-0000": ""}
    after = {"job": "Running", "mb-00000000": "pending", "mb-00000002": "done"}
    assert chaos._lost_writes(before, after) == [
        "mb-00000000 done → pending", "mb-00000001 row (pending)", "cnt-0000 row ()"]
    assert chaos._lost_writes({"job": "Completed"}, {"job": "Finalizing"}) == [
        "job Completed → Finalizing"]
    assert chaos._lost_writes({"mb-00000000": "pending"}, {"mb-00000000": "done"}) == []
    assert chaos._lost_writes(None, after) == []  # unreadable before: nothing claimed


def test_messages_the_emulator_lost_are_told_apart():
    before = {"batch-plan": 1, "batch-check": 1, "batch-score": 0}
    assert chaos._lost_messages(before, {"batch-plan": 0, "batch-check": 1, "batch-score": 3}) \
        == ["1 message(s) of batch-plan"]


def test_a_job_row_lost_by_the_emulator_is_counted_apart_not_failed():
    report = chaos.Report(files=10, final_state=chaos.LOST,
                          emulator_lost=["job row (Preparing)"])
    assert report.ok
    assert not chaos.Report(files=10, final_state=chaos.LOST).ok  # lost, but not by a crash
    assert chaos.Report(files=10, final_state=chaos.STUCK,
                        emulator_lost=["1 message(s) of batch-plan"]).ok
    assert not chaos.Report(files=10, final_state="Running").ok
