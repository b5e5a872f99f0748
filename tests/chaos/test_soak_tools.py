"""bench.soak's measures and verdicts, without a host (a whole soak takes minutes:
`python -m bench.soak`): /proc figures of a real process, growth after warm-up."""

from __future__ import annotations

import os
import socket

from bench import soak


def test_a_process_s_memory_files_and_sockets_are_read_from_proc():
    rss, files, sockets = soak.sample_process(os.getpid())
    with socket.socket() as s, open(__file__) as f:
        assert f and s
        rss2, files2, sockets2 = soak.sample_process(os.getpid())
    assert rss > 10 and files2 == files + 2 and sockets2 == sockets + 1


def _sample(seconds, rss, files=40, sockets=30, pid=100):
    return soak.Sample(seconds, 0, 0, {0: (pid, rss, files, sockets)})


def test_growth_is_measured_from_the_first_sample_after_warm_up():
    run = soak.Soak(samples=[_sample(0, 80), _sample(30, 140), _sample(60, 150),
                             _sample(90, 151), _sample(600, 190, 41, 33)])
    assert run.baseline().seconds == 60
    assert run.growth() == {0: (40, 1, 3)}
    restarted = soak.Soak(samples=[_sample(60, 150), _sample(90, 150), _sample(600, 90, pid=7)])
    assert restarted.growth() == {}  # a new worker: nothing to compare


def test_jobs_not_ended_or_not_adding_up_are_named():
    jobs = [soak.Tracked("a", "small", 20, state="Completed", accounted=20),
            soak.Tracked("b", "large", 400, state="Canceled", accounted=399),
            soak.Tracked("c", "retry", None, state="Failed", accounted=2),
            soak.Tracked("d", "small", 20, state="Running", accounted=5)]
    run = soak.Soak(jobs=jobs)
    assert [j.name for j in run.unended] == ["d"]
    assert [j.name for j in run.unaccounted] == ["b"]
