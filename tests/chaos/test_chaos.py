"""The chaos run of bench/chaos.py, small: a job on the real local host with 2 workers over
its own Azurite on a data folder, with worker kill -9s, an Azurite kill -9 and restart (once
the job has run a few seconds), injected duplicate and poison messages, a short lease and a
refused delete — and still every file exactly once, with state, counters, outputs and
summary agreeing."""

from __future__ import annotations

from bench import chaos


def test_a_small_job_under_every_fault_ends_exactly_once():
    # A kill every ~5 s: sooner, and a restarted worker (about 2 s to its first mini-batch,
    # then a 5 s lease before a killed delivery comes back) hardly scores before the next.
    faults = chaos.Faults(kill_every=5.0, storage_down=2.0)
    report = chaos.run(files=300, faults=faults, timeout=240.0, undisturbed=False)
    assert report.ok, f"{chaos.HEADER}\n{report.line()}\n{report.poison_poison}"
    # The faults land while the job runs; on an idle machine this small job may end before
    # the Azurite crash point (EMULATOR_SAVE_SECONDS) — the full `python -m bench.chaos` has it.
    assert report.deletes_refused is not False
    assert report.faults["worker kill -9"] and report.faults["injected"], report.faults
