"""The chaos run of bench/chaos.py, small: a job on the real local host with 2 workers over
its own Azurite on a data folder, with a worker kill -9, an Azurite kill -9 and restart,
injected duplicate and poison messages, a short lease and a refused delete — and still every
file exactly once, with state, counters, outputs and summary agreeing."""

from __future__ import annotations

from bench import chaos


def test_a_small_job_under_every_fault_ends_exactly_once():
    faults = chaos.Faults(kill_every=8.0, storage_down=2.0)
    report = chaos.run(files=120, faults=faults, timeout=240.0, undisturbed=False)
    assert report.ok, f"{chaos.HEADER}\n{report.line()}\n{report.poison_poison}"
    assert report.faults["storage kill -9"] == 1 and report.deletes_refused
