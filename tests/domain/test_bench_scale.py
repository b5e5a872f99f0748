"""Smoke runs of bench.scale and bench.plan at tiny sizes: they run the real code paths and
say whether the job was counted right (figures are printed, never asserted)."""

from __future__ import annotations

from bench import plan, scale


def test_bench_scale_finishes_the_job_with_the_right_counters(capsys):
    assert scale.main(["--n", "4", "--min", "8", "--cap", "8", "--processes", "1",
                       "--budget", "60"]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 4 |")]
    assert len(row) == 1 and "| yes |" in row[0]


def test_bench_plan_plans_every_page(capsys):
    assert plan.main(["--files", "12", "--synthetic", "10001", "--threads", "4"]) == 0
    out = capsys.readouterr().out
    assert "Folder in Azurite: 12 files, 1 pages" in out
    assert "Simulated listing: 10001 files, 3 pages" in out
