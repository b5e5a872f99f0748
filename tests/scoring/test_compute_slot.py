"""A process runs as many mini-batches through ONNX Runtime at once as the deployment's
max_concurrency_per_instance, its cores split between them (the others download
meanwhile); each mini-batch says where its time went."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from devhost.supervisor import Supervisor
from samples import data, models
from scoring import sessions
from scoring.config import parse_scoring_config
from scoring.engine import InputFile, score_files
from scoring.signature import read_signature


class CountingSession:
    """A real session that records how many runs overlap."""

    def __init__(self, session):
        self.session = session
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0

    def run(self, *args, **kwargs):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            return self.session.run(*args, **kwargs)
        finally:
            with self.lock:
                self.running -= 1


def most_at_once(concurrency: int, key: str) -> int:
    """Runs overlapping in one process while 4 threads score mini-batches."""
    model = models.digits_classifier()
    signature = read_signature(model)
    config = parse_scoring_config(models.DIGITS_SCORING, signature)
    session = CountingSession(sessions.get_session(key, lambda: model, concurrency))
    files = [InputFile(n, b) for n, b, _ in data.digit_pngs(40)]
    results = []

    def score(chunk):
        for _ in range(5):
            results.append(score_files(session, config, signature, chunk,
                                       concurrency=concurrency))

    threads = [threading.Thread(target=score, args=(files[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 20 and all(len(r.rows) == 10 and not r.errors for r in results)
    for r in results:
        assert set(r.timings) == {"decode", "slot_wait", "inference"}
        assert all(v >= 0 for v in r.timings.values())
    return session.most


def test_runs_at_once_follow_max_concurrency_per_instance():
    assert most_at_once(1, "slot-1") == 1
    assert most_at_once(2, "slot-2") <= 2
    slot = sessions.compute_slot(3)  # three mini-batches of such a deployment, not four
    taken = [slot.acquire(blocking=False) for _ in range(4)]
    for _ in range(sum(taken)):
        slot.release()
    assert taken == [True, True, True, False]


def test_concurrent_runs_share_the_cores(monkeypatch):
    monkeypatch.setenv("BATCH_SCORING_THREADS", "4")
    model = models.digits_classifier()
    assert sessions.get_session("share", lambda: model, 1).get_session_options(
    ).intra_op_num_threads == 4
    assert sessions.get_session("share", lambda: model, 2).get_session_options(
    ).intra_op_num_threads == 2
    assert sessions.get_session("share", lambda: model, 8).get_session_options(
    ).intra_op_num_threads == 1


def test_scoring_threads_follow_the_setting(monkeypatch):
    monkeypatch.setenv("BATCH_SCORING_THREADS", "1")
    assert sessions.session_options().intra_op_num_threads == 1
    monkeypatch.delenv("BATCH_SCORING_THREADS")
    assert sessions.session_options().intra_op_num_threads == sessions.usable_cpus()


def test_local_workers_share_the_cores(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("BATCH_SCORING_THREADS", raising=False)
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    cpus = len(os.sched_getaffinity(0))
    two = Supervisor(tmp_path, "function_app", 0, 2, use_azurite=False).env()
    assert two["BATCH_SCORING_THREADS"] == str(max(1, cpus // 2))
    monkeypatch.setenv("BATCH_SCORING_THREADS", "3")  # the user's setting wins
    assert Supervisor(tmp_path, "function_app", 0, 2, use_azurite=False).env()[
        "BATCH_SCORING_THREADS"] == "3"
