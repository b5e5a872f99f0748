"""A smoke run of bench.plan at a tiny size: the seeded folder is listed and planned whole
by the real code, and so is the simulated listing (figures are printed, never asserted)."""

from __future__ import annotations

from bench import plan


def test_bench_plan_plans_the_seeded_folder_and_the_listing(capsys, monkeypatch):
    # main() points AzureWebJobsStorage at its own Azurites; later hosts must not inherit it
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    assert plan.main(["--files", "40", "--synthetic", "5001", "--mini-batch-size", "100"]) == 0
    out = capsys.readouterr().out
    assert "Folder in Azurite: 40 files, 1 pages" in out
    assert "Simulated listing: 5001 files, 2 pages" in out
