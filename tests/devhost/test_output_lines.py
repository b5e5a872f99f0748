"""The supervisor's stdout carries each worker's ready line (`devhost worker N pid P`) that
tests and bench.chaos read pids from: lines written from several threads at once never
merge, and a reader finds the pid even when the line is not at the start."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

from devhost.supervisor import PACKAGE_ROOT

THREADS, LINES = 8, 3000


def test_lines_from_many_threads_at_once_stay_whole():
    script = textwrap.dedent(f"""
        import threading
        from devhost.supervisor import say
        start = threading.Barrier({THREADS})
        def run(i):
            start.wait()
            for n in range({LINES}):
                say(f"devhost worker {{i}} pid {{n}}")
        threads = [threading.Thread(target=run, args=(i,)) for i in range({THREADS})]
        for t in threads: t.start()
        for t in threads: t.join()
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=PACKAGE_ROOT, timeout=120).stdout
    lines = out.splitlines()
    assert len(lines) == THREADS * LINES
    merged = [line for line in lines if not re.fullmatch(r"devhost worker \d pid \d+", line)]
    assert not merged, merged[:5]


def test_the_host_reader_finds_a_pid_anywhere_in_a_line(tmp_path):
    from devhost.testing import HostProcess

    host = HostProcess(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-c", "print('2026 [w1] WARNING x: retrying devhost worker 1 pid 42');"
                               "print('devhost worker 0 pid 41')"],
        stdout=subprocess.PIPE, text=True)
    host._pump(process)
    process.wait()
    assert host.worker_pids() == {0: 41, 1: 42}
