"""A process runs as many mini-batches through ONNX Runtime at once as the deployment's
max_concurrency_per_instance, its cores split between them (the others download
meanwhile); each mini-batch says where its time went."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
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


def _free_slots(folder: Path, slots: int) -> int:
    """Of `slots`, those another process could take now (each tried without waiting)."""
    free = 0
    for i in range(slots):
        with (folder / f"slot-{i}.lock").open("a+b") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                free += 1
            except BlockingIOError:
                pass
    return free


def test_runs_of_processes_sharing_the_cores_take_the_machines_slots(tmp_path, monkeypatch):
    monkeypatch.setenv("BATCH_COMPUTE_LOCKS", str(tmp_path))
    monkeypatch.setattr(sessions, "usable_cpus", lambda: 2)
    with sessions.machine_slot(1):  # 2 cores, runs of 1 thread: 2 slots
        assert _free_slots(tmp_path, 2) == 1
        with sessions.machine_slot(1):
            assert _free_slots(tmp_path, 2) == 0
        assert _free_slots(tmp_path, 2) == 1
    assert _free_slots(tmp_path, 2) == 2
    wide = tmp_path / "wide"
    wide.mkdir()
    monkeypatch.setenv("BATCH_COMPUTE_LOCKS", str(wide))
    with sessions.machine_slot(2):  # runs of both cores: one slot
        assert _free_slots(wide, 1) == 0


def test_a_waiting_run_goes_on_when_the_slot_frees_and_a_dead_holder_frees_it(
        tmp_path, monkeypatch):
    monkeypatch.setenv("BATCH_COMPUTE_LOCKS", str(tmp_path))
    monkeypatch.setattr(sessions, "usable_cpus", lambda: 1)
    holder = subprocess.Popen(  # another worker process, in a run
        [sys.executable, "-c", "import sys; from scoring import sessions\n"
         "with sessions.machine_slot(sessions.usable_cpus()):  # its one slot\n"
         "    print('in', flush=True); sys.stdin.read()"],
        cwd=Path(__file__).resolve().parents[2], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True,
        env={**os.environ, "BATCH_COMPUTE_LOCKS": str(tmp_path)})
    try:
        assert holder.stdout.readline() == "in\n"
        entered = threading.Event()

        def run() -> None:
            with sessions.machine_slot(1):
                entered.set()

        waiting = threading.Thread(target=run)
        waiting.start()
        assert _free_slots(tmp_path, 1) == 0 and not entered.is_set()
        holder.kill()  # dies mid-run: its lock goes with it
        assert entered.wait(30)
        waiting.join(30)
    finally:
        holder.kill()
        holder.wait()
    assert _free_slots(tmp_path, 1) == 1


def test_without_the_setting_runs_take_no_machine_slot(monkeypatch, tmp_path):
    monkeypatch.delenv("BATCH_COMPUTE_LOCKS", raising=False)
    with sessions.machine_slot(1):
        assert list(tmp_path.iterdir()) == []
