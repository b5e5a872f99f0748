"""`python -m bench.recovery`: how long a job takes when storage crashes under it.

A job of N files (every 10th corrupt) runs undisturbed on the local host (2 workers, its own
Azurite on a data folder, the app's own settings: the watchdog's default period, the host's
10-minute lease); then the same files again, with Azurite `kill -9`ed `--crash-at` seconds
after invoke (once it has saved the job row) and started again `--down` seconds later on
the same data (it loses what it had not saved yet: up to 5 s of queue, table and blob
writes, each saved on its own). It
prints both times against the bound docs/architecture.md states (2 × undisturbed + 30 s),
the job's progress over time (where the time went), and errors.csv by kind: after a crash
of ours no item may fail while retries remain.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from bench.chaos import TERMINAL, Faults, Rig, _get, deploy, upload


def run_job(rig: Rig, endpoint: str, folder: str, crash_at: float | None,
            down: float, timeout: float) -> tuple[str, float, list[tuple[float, str]]]:
    """Invoke, optionally crash storage, follow until the end: (job, seconds, timeline)."""
    started = time.monotonic()
    invoked = rig.api.post(f"/endpoints/{endpoint}/jobs", json={
        "inputs": {"images": {"type": "uri_folder",
                              "path": f"azureml://datastores/workspaceblobstore/paths/{folder}"}},
        "deployment_name": "green"})
    invoked.raise_for_status()
    job = invoked.json()["name"]
    timeline: list[tuple[float, str]] = []
    last = ""
    invoked_at = time.time()
    while time.monotonic() < started + timeout:
        now = time.monotonic() - started
        if crash_at is not None and now >= crash_at and _saved_since(rig, invoked_at):
            timeline.append((now, "storage kill -9"))
            rig.crash_storage(down)
            timeline.append((time.monotonic() - started, "storage up again"))
            crash_at = None
            continue
        seen = _get(rig.api, job)
        if seen:
            done = seen["progress"]["mini_batches"]
            mark = (f"{seen['status']} {done['succeeded'] + done['failed'] + done['canceled']}"
                    f"/{done['total']}")
            if mark != last:
                timeline.append((now, mark))
                last = mark
            if seen["status"] in TERMINAL:
                break
        time.sleep(0.25)
    return job, time.monotonic() - started, timeline


def _saved_since(rig: Rig, moment: float) -> bool:
    """Whether Azurite saved its tables and queues after `moment` (it saves every 5 s): a
    kill -9 sooner can lose the job row invoke acknowledged — the emulator's durability, not
    Azure Storage's, and not what this measures (bench.chaos tells the two apart)."""
    folder = rig.folder / "azurite"
    return all((folder / f"__azurite_db_{kind}__.json").exists()
               and (folder / f"__azurite_db_{kind}__.json").stat().st_mtime > moment
               for kind in ("table", "queue"))


def kinds(rig: Rig, job: str) -> Counter:
    entity = rig.store.table("jobs").get_entity(job, "job")
    out = json.loads(entity["output"])
    blob = rig.store.container(out["container"]).get_blob_client(out["errors"])
    text = blob.download_blob().readall().decode() if blob.exists() else ""
    return Counter(f"{r.get('kind', '?')}: {r['reason'].split(':')[0][:50]}"
                   for r in csv.DictReader(io.StringIO(text)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--crash-at", type=float, default=3.0)
    parser.add_argument("--down", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--host-log", type=Path, help="write the host's log here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="recovery-") as tmp:
        rig = Rig(Path(tmp), args.workers, Faults(lease=600), watchdog_seconds=None)
        try:
            endpoint, _ = deploy(rig.api)
            folder = f"recovery/{uuid.uuid4().hex[:8]}"
            upload(rig.store, folder, args.files)
            _, calm, _ = run_job(rig, endpoint, folder, None, 0, args.timeout)
            job, seconds, timeline = run_job(rig, endpoint, folder, args.crash_at, args.down,
                                             args.timeout)
            state = rig.store.table("jobs").get_entity(job, "job")["status"]
            failures = kinds(rig, job)
        finally:
            rig.close(args.host_log)
    bound = 2 * calm + 30
    print(f"{args.files} files, {args.workers} workers: undisturbed {calm:.1f} s; storage "
          f"kill -9 at {args.crash_at:.0f} s, down {args.down:.0f} s: {state} in "
          f"{seconds:.1f} s (bound 2 x {calm:.1f} + 30 = {bound:.1f} s: "
          f"{'within' if seconds <= bound else 'OVER'})")
    for at, what in timeline:
        print(f"  {at:7.1f} s  {what}")
    print(f"errors.csv by kind: {dict(failures)}")
    return 0 if seconds <= bound and state in TERMINAL else 1


if __name__ == "__main__":
    sys.exit(main())
