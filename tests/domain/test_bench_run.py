"""bench.run at a tiny size: the real script, host and Azurite, each service run between two
script runs with the host paused (figures are printed, never asserted), and the pause itself."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from bench import run
from devhost.testing import wait_for


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_paused_stops_the_host_and_its_workers_and_resumes_them():
    # a "host" in its own session with a "worker" child, as HostProcess starts the devhost
    code = ("import subprocess, sys, time; "
            "c = subprocess.Popen([sys.executable, '-c', 'while True: pass']); "
            "print(c.pid, flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        assert parent.stdout
        child = int(parent.stdout.readline())
        host = SimpleNamespace(process=parent)
        with run.paused(host):  # type: ignore[arg-type]
            wait_for(lambda: _state(child) == "T" and _state(parent.pid) == "T", 10)
            spent = run.cpu_seconds([child])
            time.sleep(0.3)  # a span in which a running child would have spent CPU
            assert run.cpu_seconds([child]) == spent
        wait_for(lambda: run.cpu_seconds([child]) > spent, 10, message="the child to resume")
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()


def test_bench_run_compares_every_service_run_with_the_script_around_it(capsys, monkeypatch):
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    assert run.main(["--only", "light", "--light-files", "300", "--workers", "1",
                     "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    every = [line for line in out.splitlines() if "1w, every run:" in line]
    assert len(every) == 1
    assert len(re.findall(r"\d\.\d\d \([\d.]+ -> [\d.]+\)", every[0])) == 2
    rows = [line for line in out.splitlines() if re.match(r"light\s+1\s+\d+\s", line)]
    assert len(rows) == 2 and all(int(r.split()[2]) == 3 for r in rows)  # 300 files / 100
    assert "the service with 1 worker(s) reaches" in out
