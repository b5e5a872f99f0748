"""A smoke run of bench.scale at a tiny size: it runs the real code paths and says whether
the job was counted right (figures are printed, never asserted)."""

from __future__ import annotations

from bench import scale


def test_bench_scale_finishes_the_job_with_the_right_counters(capsys, monkeypatch):
    # main() points AzureWebJobsStorage at its own Azurite; later hosts must not inherit it
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    assert scale.main(["--n", "4", "--min", "8", "--cap", "8", "--processes", "1",
                       "--budget", "60"]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 4 |")]
    assert len(row) == 1 and "| yes |" in row[0]
