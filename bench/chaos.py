"""`python -m bench.chaos`: one job under every fault at once, then check exactly-once.

A job of N files (every 10th corrupt) runs on the local host with 2 workers over its own
Azurite with a data folder, with a short queue lease so deliveries overlap. While it runs:
`kill -9` of a random worker every few seconds, one `kill -9` of Azurite restarted on the
same data folder, finished mini-batches' messages injected into the score and poison
queues, and an attempt to delete the job's deployment and model. At the end it checks:
the job reached a final state; prediction rows + error rows == N with every file exactly
once; counters == outputs; job state == job_summary.json; no `*-poison-poison` queue holds
anything; the deletes were refused. Time is compared with an undisturbed run of the same
files on the same host.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devhost import azurite
from devhost.testing import HostProcess, make_project, wait_for
from samples import data, models
from shared.messages import ALL_QUEUES, SCORE_QUEUE, ScoreMiniBatch, encode, poison
from shared.storage.clients import Storage

ROOT = Path(__file__).resolve().parent.parent
TERMINAL = ("Completed", "Failed", "Canceled")
# Azurite saves its state every few seconds: a kill -9 sooner after invoke can lose the job
# row itself (a durability Azure Storage has and the emulator lacks), so the crash waits.
EMULATOR_SAVE_SECONDS = 6.0
FIRST_KILL = 2.0  # seconds after invoke: the job is planned and scoring by then
SUMMARY_WAIT = 60.0  # seconds: past a queue lease and a watchdog check (BATCH_WATCHDOG_SECONDS)


@dataclass
class Faults:
    """What to do to the run (all on by default; the test suite's run uses fewer)."""

    kill_every: float = 4.0  # seconds between worker kills (0: none)
    storage_crash: bool = True
    storage_down: float = 5.0
    inject: bool = True
    delete_attempt: bool = True
    lease: int = 5  # queue lease seconds (the real host: 600): slow deliveries overlap


@dataclass
class Report:
    files: int
    final_state: str = ""
    seconds: float = 0.0
    undisturbed: float = 0.0
    predictions: int = 0
    errors: int = 0
    lost: int = 0
    duplicated: int = 0
    counters_agree: bool = False
    summary_agrees: bool = False
    poison_poison: dict[str, int] = field(default_factory=dict)
    deletes_refused: bool | None = None
    faults: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)  # errors.csv rows by kind of reason

    @property
    def ok(self) -> bool:
        return (self.final_state in TERMINAL and self.lost == 0 and self.duplicated == 0
                and self.predictions + self.errors == self.files and self.counters_agree
                and self.summary_agrees and not self.poison_poison
                and self.deletes_refused is not False)

    def line(self) -> str:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) or "none"
        return (f"{self.files:>6} {self.final_state:>10} {self.predictions:>6} {self.errors:>6} "
                f"{self.lost:>5} {self.duplicated:>5} {str(self.counters_agree):>8} "
                f"{str(self.summary_agrees):>8} {sum(self.poison_poison.values()):>5} "
                f"{self.seconds:>8.1f} {self.undisturbed:>8.1f} "
                f"{'OK' if self.ok else 'FAIL':>5}  {faults}")


HEADER = (f"{'files':>6} {'state':>10} {'preds':>6} {'errors':>6} {'lost':>5} {'dupl':>5} "
          f"{'counters':>8} {'summary':>8} {'pp':>5} {'chaos/s':>8} {'calm/s':>8} "
          f"{'check':>5}  faults")


class Rig:
    """Azurite on a data folder + the local host with N workers, over the real app."""

    def __init__(self, folder: Path, workers: int, faults: Faults,
                 watchdog_seconds: int | None = 10):
        """`watchdog_seconds` None: the app's default period (bench.recovery)."""
        self.folder = folder
        self.server = azurite.start(location=folder / "azurite")
        self.ports = dict(self.server.ports)
        project = make_project(folder / "app", ROOT / "function_app.py",
                               self.server.connection_string, host_json=ROOT / "host.json")
        env = {"DEVHOST_QUEUE_LEASE_SECONDS": str(faults.lease),
               "AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:00.5"}
        if watchdog_seconds is not None:
            env["BATCH_WATCHDOG_SECONDS"] = str(watchdog_seconds)
        self.host = HostProcess(project, workers=workers, env=env)
        self.host.start()
        # plain HTTP: while storage is down an answer may be a 503, asked again by the caller
        self.api = httpx.Client(base_url=self.host.api, timeout=30,
                                headers={"x-functions-key": self.host.function_key})
        self.store = Storage.from_connection_string(self.server.connection_string)

    def crash_storage(self, down: float) -> None:
        """kill -9 Azurite, then start it again on the same data folder and ports."""
        self.server.process.kill()
        self.server.process.wait()
        time.sleep(down)
        self.server = azurite.start(location=self.folder / "azurite", ports=self.ports)

    def close(self, host_log: Path | None = None) -> None:
        self.api.close()
        self.host.stop()
        self.server.stop()
        if host_log:
            host_log.write_text("\n".join(self.host.lines) + "\n")


def upload(store: Storage, folder: str, count: int) -> list[str]:
    """`count` digit PNGs under `folder`, every 10th one corrupt; returns the file names."""
    pngs = data.digit_pngs(count)
    files = [(f"bad-{i:05d}.png", b"\x89PNG but not really") if i % 10 == 9 else (name, blob)
             for i, (name, blob, _) in enumerate(pngs)]
    container = store.container("workspaceblobstore")
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda f: container.upload_blob(f"{folder}/{f[0]}", f[1],
                                                      overwrite=True), files))
    return [name for name, _ in files]


def deploy(api: httpx.Client) -> tuple[str, str]:
    """An endpoint whose default is 'blue', and a non-default 'green' the job runs on."""
    version = uuid.uuid4().hex[:8]
    endpoint = f"chaos-{version[:6]}"
    api.put(f"/models/chaos-digits/versions/{version}", content=models.digits_classifier(),
            headers={"content-type": "application/octet-stream"}).raise_for_status()
    api.put(f"/endpoints/{endpoint}", json={}).raise_for_status()
    for name in ("blue", "green"):
        api.put(f"/endpoints/{endpoint}/deployments/{name}", json={
            "model": f"azureml:chaos-digits:{version}", "scoring": models.DIGITS_SCORING,
            "settings": {"mini_batch_size": 10, "max_concurrency_per_instance": 2},
            "resources": {"instance_count": 2}}).raise_for_status()
    return endpoint, version


def _get(api: httpx.Client, job: str) -> dict | None:
    try:
        got = api.get(f"/jobs/{job}")
    except httpx.HTTPError:  # a worker restarting: ask again
        return None
    return got.json() if got.status_code == 200 else None  # a 503 while storage is down


def _inject(store: Storage, job: str, faults: Counter) -> None:
    """Messages of mini-batches that already finished, back into score and poison."""
    done = [int(r["RowKey"][3:]) for r in store.table("jobs").query_entities(
        "PartitionKey eq @pk and RowKey ge 'mb-' and RowKey lt 'mb.' and state ne 'pending'",
        parameters={"pk": job})]
    for index in random.sample(done, min(3, len(done))):
        body = encode(ScoreMiniBatch(job=job, index=index))
        store.send(random.choice((SCORE_QUEUE, poison(SCORE_QUEUE))), body)
        faults["injected"] += 1


def _delete_attempt(rig: Rig, endpoint: str, version: str) -> bool:
    """True when both deletes were refused with 409 (the job still needs them)."""
    headers = {"x-functions-key": rig.host.function_key}
    urls = (f"{rig.host.api}/endpoints/{endpoint}/deployments/green",
            f"{rig.host.api}/models/chaos-digits/versions/{version}")
    return all(httpx.delete(url, headers=headers, timeout=30).status_code == 409
               for url in urls)


def run_job(rig: Rig, endpoint: str, folder: str, faults: Faults | None,
            timeout: float, version: str) -> tuple[str, float, Counter, bool | None]:
    """Invoke a job on `green`; with `faults`, disturb it while it runs."""
    counts: Counter = Counter()
    refused = None
    started = time.monotonic()
    invoked = rig.api.post(f"/endpoints/{endpoint}/jobs", json={
        "inputs": {"images": {"type": "uri_folder",
                              "path": f"azureml://datastores/workspaceblobstore/paths/{folder}"}},
        "deployment_name": "green"})
    invoked.raise_for_status()
    job = invoked.json()["name"]
    # The first kill comes early (a small job can end within kill_every): at FIRST_KILL, or
    # as soon as a mini-batch has finished if that is sooner; then every ~kill_every.
    next_kill = started + (min(FIRST_KILL, faults.kill_every) if faults and faults.kill_every
                           else 1e9)
    crashed = not (faults and faults.storage_crash)
    deadline = started + timeout
    while time.monotonic() < deadline:
        seen = _get(rig.api, job)
        if seen and seen["status"] in TERMINAL:
            break
        if faults and seen:
            done = seen["progress"]["mini_batches"]
            finished = done["succeeded"] + done["failed"] + done["canceled"]
            if faults.delete_attempt and refused is None and finished:
                refused = _delete_attempt(rig, endpoint, version)
            if faults.inject and finished:
                _inject(rig.store, job, counts)
            if faults.kill_every and finished and not counts["worker kill -9"]:
                next_kill = min(next_kill, time.monotonic())  # scoring: kill now, not later
            if (not crashed and done["total"] and finished >= done["total"] * 0.3
                    and time.monotonic() - started > EMULATOR_SAVE_SECONDS):
                rig.crash_storage(faults.storage_down)
                counts["storage kill -9"] += 1
                crashed = True
        if time.monotonic() >= next_kill:
            try:
                rig.host.kill_worker(random.randrange(rig.host.workers))
                counts["worker kill -9"] += 1
            except ProcessLookupError:
                pass  # that worker is dead already and not restarted yet
            next_kill = time.monotonic() + random.uniform(0.5, 1.5) * faults.kill_every
        time.sleep(0.5)
    return job, time.monotonic() - started, counts, refused


def check(rig: Rig, job_name: str, names: list[str], report: Report) -> None:
    store = rig.store
    entity = store.table("jobs").get_entity(job_name, "job")
    report.final_state = entity["status"]
    out = json.loads(entity["output"])
    container = store.container(out["container"])

    def rows(key: str) -> list[dict[str, str]]:
        blob = container.get_blob_client(out[key])
        if not blob.exists():
            return []
        return list(csv.DictReader(io.StringIO(blob.download_blob().readall().decode())))

    predictions, errors = rows("predictions"), rows("errors")
    report.predictions, report.errors = len(predictions), len(errors)
    seen = Counter(r["file_name"] for r in predictions + errors)
    report.lost = sum(1 for n in names if n not in seen)
    report.duplicated = sum(c - 1 for c in seen.values() if c > 1) + sum(
        1 for n in seen if n not in set(names))
    canceled = sum(1 for e in errors if e["reason"] == "canceled")
    report.reasons = Counter(e["reason"].split(":")[0][:60] for e in errors)
    report.counters_agree = (entity["items_ok"], entity["items_failed"],
                             entity.get("items_canceled", 0)) == (
        len(predictions), len(errors) - canceled, canceled)
    summary_blob = container.get_blob_client(out["summary"])

    def summary_agrees() -> bool:
        if not summary_blob.exists():
            return False
        summary = json.loads(summary_blob.download_blob().readall())
        return (summary["status"] == entity["status"] and summary["items"] == {
            "succeeded": entity["items_ok"], "failed": entity["items_failed"],
            "canceled": entity.get("items_canceled", 0)})

    # job_summary.json is written right after the final state commit, and again by any
    # redelivery of the aggregation; a worker killed between the two leaves it to that
    # redelivery (a lease, or the watchdog) — so it must agree within that time.
    try:
        wait_for(summary_agrees, SUMMARY_WAIT, 0.5, message="job_summary.json to agree")
        report.summary_agrees = True
    except TimeoutError:
        report.summary_agrees = False
    counts = {poison(poison(q)): _length(store, poison(poison(q))) for q in ALL_QUEUES}
    report.poison_poison = {q: n for q, n in counts.items() if n}


def _length(store: Storage, queue: str) -> int:
    try:
        return store.queue(queue).get_queue_properties().approximate_message_count
    except Exception:
        return 0


def run(files: int = 2000, workers: int = 2, faults: Faults | None = None,
        timeout: float = 900.0, undisturbed: bool = True,
        host_log: Path | None = None) -> Report:
    faults = faults or Faults()
    report = Report(files=files)
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        rig = Rig(Path(tmp), workers, faults)
        try:
            endpoint, version = deploy(rig.api)
            folder = f"chaos/{uuid.uuid4().hex[:8]}"
            names = upload(rig.store, folder, files)
            if undisturbed:
                _, report.undisturbed, _, _ = run_job(rig, endpoint, folder, None, timeout,
                                                      version)
            job, report.seconds, report.faults, report.deletes_refused = run_job(
                rig, endpoint, folder, faults, timeout, version)
            check(rig, job, names, report)
        finally:
            rig.close(host_log)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--host-log", type=Path, help="write the host's log here (last run)")
    args = parser.parse_args(argv)
    reports: list[Report] = []
    print(HEADER, flush=True)
    for _ in range(args.runs):  # the undisturbed time is measured on the first run only
        report = run(args.files, args.workers, Faults(), args.timeout,
                     undisturbed=not reports, host_log=args.host_log)
        if reports:
            report.undisturbed = reports[0].undisturbed
        reports.append(report)
        print(report.line(), flush=True)
        print(f"       errors.csv reasons: {dict(report.reasons)}", flush=True)
        if report.poison_poison:
            print(f"       poison-poison: {report.poison_poison}", flush=True)
    print("pp = messages in *-poison-poison queues; calm = the same job undisturbed")
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
