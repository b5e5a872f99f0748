"""`python -m bench.chaos`: one job under every fault at once, then check exactly-once.

A job of N files (every 10th corrupt) runs on the local host with 2 workers over its own
Azurite with a data folder, with a short queue lease so deliveries overlap, the app talking
to storage through bench/faultproxy.py. While it runs: a share of storage requests (5 %)
answered late, with 503 ServerBusy + Retry-After or 500, stalled, or carried out with
their answer lost; `kill -9` of a random worker every few seconds; one `kill -9` of Azurite
at a random moment (from right after invoke's 202 on: before the emulator's save too),
restarted on the same data folder; finished mini-batches' messages injected into the
score and poison queues; an attempt to delete the job's deployment and model. At the end
it checks: the job reached a final state; prediction rows + error rows == N with every file
exactly once; counters == outputs; job state == job_summary.json; no `*-poison-poison`
queue holds anything; the deletes were refused. Time is compared with an undisturbed run
of the same files on the same host.

Azurite saves its state every few seconds, so a kill -9 can lose writes it had
acknowledged (Azure Storage does not): the job row after invoke answered 202, a mini-batch
row that was done. The check reads the state just before the kill and again after the
restart and counts what went missing apart ("emulator lost an acknowledged write"); the
rest must hold all the same, and a job whose row the emulator lost is not waited for.
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
from azure.core.exceptions import AzureError, ResourceNotFoundError

from bench.faultproxy import FaultProxy, FaultRates
from devhost import azurite
from devhost.testing import HostProcess, make_project, wait_for
from samples import data, models
from shared.messages import ALL_QUEUES, SCORE_QUEUE, ScoreMiniBatch, encode, poison
from shared.storage.clients import Storage

ROOT = Path(__file__).resolve().parent.parent
TERMINAL = ("Completed", "Failed", "Canceled")
LOST = "lost by the emulator"  # final state of a job whose row Azurite lost in a kill -9
STUCK = "stuck: the emulator lost its messages"  # and nothing moved for STILL_AFTER_LOSS
STILL_AFTER_LOSS = 60.0  # seconds: several watchdog periods (10 s here) and leases (5 s)
CRASH_WITHIN = 8.0  # seconds after invoke, when no undisturbed time says how long it runs
FIRST_KILL = 2.0  # seconds after invoke: the job is planned and scoring by then
SUMMARY_WAIT = 60.0  # seconds: past a queue lease and a watchdog check (BATCH_WATCHDOG_SECONDS)


@dataclass
class Faults:
    """What to do to the run (all on by default; the test suite's run uses fewer)."""

    kill_every: float = 4.0  # seconds between worker kills (0: none)
    storage_crash: bool = True
    storage_down: float = 5.0
    crash_at: float | None = None  # seconds after invoke's answer (None: a random moment)
    inject: bool = True
    delete_attempt: bool = True
    lease: int = 5  # queue lease seconds (the real host: 600): slow deliveries overlap
    storage_faults: float = 0.05  # share of the app's storage requests faulted (0: no proxy)
    partition: str = ""  # blob, queue or table: cut off once, at a random moment
    partition_seconds: float = 5.0


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
    # acknowledged writes missing after the emulator's kill -9 (its durability, not ours)
    emulator_lost: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        if self.final_state in (LOST, STUCK):  # nothing of ours left to check; counted apart
            return bool(self.emulator_lost) and not self.poison_poison
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
    """Azurite on a data folder + the local host with N workers, over the real app; with
    `faults.storage_faults`, the app's storage goes through a fault proxy (no faults until
    `faulty(True)`). The rig's own reads and checks go to Azurite directly."""

    def __init__(self, folder: Path, workers: int, faults: Faults,
                 watchdog_seconds: int | None = 10):
        """`watchdog_seconds` None: the app's default period (bench.recovery)."""
        self.folder = folder
        self.server = azurite.start(location=folder / "azurite")
        self.ports = dict(self.server.ports)
        self.rates = FaultRates.uniform(faults.storage_faults)
        self.proxy = (FaultProxy(self.ports, FaultRates()).start()
                      if faults.storage_faults or faults.partition else None)
        app_storage = self.proxy.connection_string if self.proxy else (
            self.server.connection_string)
        project = make_project(folder / "app", ROOT / "function_app.py", app_storage,
                               host_json=ROOT / "host.json")
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

    def faulty(self, on: bool) -> None:
        """Faults on (counted from now) or off."""
        if self.proxy:
            if on:
                self.proxy.clear()
            self.proxy.set_rates(self.rates if on else FaultRates())

    def crash_storage(self, down: float, job: str) -> list[str]:
        """kill -9 Azurite, then start it again on the same data folder and ports; returns
        the acknowledged writes of `job` it lost (read just before, and again after)."""
        before, queued = _snapshot(self.store, job), _queued(self.store)
        self.server.process.kill()
        self.server.process.wait()
        time.sleep(down)
        self.server = azurite.start(location=self.folder / "azurite", ports=self.ports)
        return (_lost_writes(before, _snapshot(self.store, job))
                + _lost_messages(queued, _queued(self.store)))

    def close(self, host_log: Path | None = None) -> None:
        self.api.close()
        self.host.stop()
        if self.proxy:
            self.proxy.stop()
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


def _get(api: httpx.Client, job: str) -> tuple[int, dict | None]:
    """The job as the API shows it: (status code, body); (0, None) when no answer."""
    try:
        got = api.get(f"/jobs/{job}")
    except httpx.HTTPError:  # a worker restarting: ask again
        return 0, None
    return got.status_code, (got.json() if got.status_code == 200 else None)  # 503: storage down


def _snapshot(store: Storage, job: str) -> dict[str, str] | None:
    """The job's rows (its status, each mini-batch's state) as stored; {} when the table
    itself is gone (the emulator can lose it too); None if unreadable."""
    for _ in range(5):
        try:
            rows = store.table("jobs").query_entities("PartitionKey eq @pk",
                                                      parameters={"pk": job})
            return {r["RowKey"]: str(r.get("status") or r.get("state") or "") for r in rows}
        except ResourceNotFoundError:
            return {}
        except AzureError:  # the emulator just started: ask again
            time.sleep(1.0)
    return None


def _lost_writes(before: dict[str, str] | None, after: dict[str, str] | None) -> list[str]:
    """What was stored before the crash and is gone or back to an earlier state after."""
    if before is None or after is None:
        return []
    lost = []
    for key, state in before.items():
        if key not in after:
            lost.append(f"{key} row ({state})")
        elif state != after[key] and (state in TERMINAL or after[key] in ("", "pending")):
            lost.append(f"{key} {state} → {after[key] or 'nothing'}")
    return lost


def _queued(store: Storage) -> dict[str, int]:
    """Messages in each of the app's queues (visible or not), as stored."""
    return {q: _length(store, q) for q in ALL_QUEUES + tuple(poison(q) for q in ALL_QUEUES)}


def _lost_messages(before: dict[str, int], after: dict[str, int]) -> list[str]:
    """Fewer messages in a queue after the crash than just before it: no worker could take
    one while the emulator was down, so the emulator lost them."""
    return [f"{before[q] - after.get(q, 0)} message(s) of {q}" for q in before
            if after.get(q, 0) < before[q]]


def _inject(store: Storage, job: str, faults: Counter) -> None:
    """Messages of mini-batches that already finished, back into score and poison."""
    try:
        done = [int(r["RowKey"][3:]) for r in store.table("jobs").query_entities(
            "PartitionKey eq @pk and RowKey ge 'mb-' and RowKey lt 'mb.' and state ne 'pending'",
            parameters={"pk": job})]
        for index in random.sample(done, min(3, len(done))):
            body = encode(ScoreMiniBatch(job=job, index=index))
            store.send(random.choice((SCORE_QUEUE, poison(SCORE_QUEUE))), body)
            faults["injected"] += 1
    except AzureError:  # Azurite restarting: inject next time
        pass


def _delete_attempt(rig: Rig, endpoint: str, version: str) -> bool | None:
    """True when both deletes were refused with 409 (the job still needs them); None when
    an answer did not come (a worker killed, storage down: asked again later)."""
    headers = {"x-functions-key": rig.host.function_key}
    urls = (f"{rig.host.api}/endpoints/{endpoint}/deployments/green",
            f"{rig.host.api}/models/chaos-digits/versions/{version}")
    statuses = []
    for url in urls:
        try:
            statuses.append(httpx.delete(url, headers=headers, timeout=30).status_code)
        except httpx.HTTPError:
            return None
    if any(code in (0, 503) or code >= 500 for code in statuses) and 200 not in statuses:
        return None
    return all(code == 409 for code in statuses)


def _invoke(api: httpx.Client, endpoint: str, folder: str) -> str:
    """Invoke on `green`, asked again (same Repeatability-Request-ID: the same job) while
    the answer is a 5xx or does not come."""
    request = uuid.uuid4().hex
    body = {"inputs": {"images": {"type": "uri_folder",
                                  "path": f"azureml://datastores/workspaceblobstore/paths/{folder}"}},
            "deployment_name": "green"}

    def attempt() -> httpx.Response | None:
        try:
            got = api.post(f"/endpoints/{endpoint}/jobs", json=body,
                           headers={"Repeatability-Request-ID": request})
        except httpx.HTTPError:
            return None
        return None if got.status_code >= 500 else got

    invoked = wait_for(attempt, 120, 0.5, message="invoke to answer")
    invoked.raise_for_status()
    return invoked.json()["name"]


@dataclass
class Run:
    job: str
    seconds: float
    faults: Counter
    deletes_refused: bool | None
    emulator_lost: list[str]
    stuck: bool = False  # still after the emulator lost messages: not waited for


def run_job(rig: Rig, endpoint: str, folder: str, faults: Faults | None,
            timeout: float, version: str, expected: float = 0.0) -> Run:
    """Invoke a job on `green`; with `faults`, disturb it while it runs. `expected` (the
    undisturbed time, if known) bounds the moment of the emulator's crash."""
    counts: Counter = Counter()
    refused = None
    lost: list[str] = []
    if faults:
        rig.faulty(True)
    started = time.monotonic()
    job = _invoke(rig.api, endpoint, folder)
    # The first kill comes early (a small job can end within kill_every): at FIRST_KILL, or
    # as soon as a mini-batch has finished if that is sooner; then every ~kill_every.
    next_kill = started + (min(FIRST_KILL, faults.kill_every) if faults and faults.kill_every
                           else 1e9)
    # The emulator's crash: any moment from invoke's answer to about the job's end.
    within = max(expected, CRASH_WITHIN)
    crash_at = (time.monotonic() + (random.uniform(0, within) if faults.crash_at is None
                                    else faults.crash_at)
                if faults and faults.storage_crash else None)
    cut_at = (time.monotonic() + random.uniform(0, within)
              if faults and faults.partition and rig.proxy else None)
    heal_at = None
    deadline = started + timeout
    last_seen, moved = None, time.monotonic()
    stuck = False
    while time.monotonic() < deadline:
        if cut_at is not None and time.monotonic() >= cut_at:
            rig.proxy.partition(faults.partition)
            counts[f"{faults.partition} partitioned"] += 1
            cut_at, heal_at = None, time.monotonic() + faults.partition_seconds
        if heal_at is not None and time.monotonic() >= heal_at:
            rig.proxy.heal(faults.partition)
            heal_at = None
        code, seen = _get(rig.api, job)
        if seen and seen["status"] in TERMINAL and heal_at is None:
            break
        if code == 404 and lost and any(item.startswith("job row") for item in lost):
            break  # the emulator lost the job row: no job to wait for
        if seen and (seen["status"], seen["progress"]) != last_seen:
            last_seen, moved = (seen["status"], seen["progress"]), time.monotonic()
        if (any(" message(s) of " in item for item in lost)
                and time.monotonic() - moved > STILL_AFTER_LOSS):
            stuck = True  # its messages are gone: nothing will move it (Azure keeps them)
            break
        if crash_at is not None and time.monotonic() >= crash_at:
            lost = rig.crash_storage(faults.storage_down, job)
            counts["storage kill -9"] += 1
            crash_at, moved = None, time.monotonic()
            continue
        if faults and seen:
            done = seen["progress"]["mini_batches"]
            finished = done["succeeded"] + done["failed"] + done["canceled"]
            if faults.delete_attempt and refused is None and finished:
                refused = _delete_attempt(rig, endpoint, version)
            if faults.inject and finished:
                _inject(rig.store, job, counts)
            if faults.kill_every and finished and not counts["worker kill -9"]:
                next_kill = min(next_kill, time.monotonic())  # scoring: kill now, not later
        if time.monotonic() >= next_kill:
            try:
                rig.host.kill_worker(random.randrange(rig.host.workers))
                counts["worker kill -9"] += 1
            except ProcessLookupError:
                pass  # that worker is dead already and not restarted yet
            next_kill = time.monotonic() + random.uniform(0.5, 1.5) * faults.kill_every
        time.sleep(0.5)
    seconds = time.monotonic() - started
    if faults and faults.partition and rig.proxy:
        rig.proxy.heal(faults.partition)
    rig.faulty(False)
    if rig.proxy and faults:
        counts.update({f"storage {k}": n for k, n in rig.proxy.faults().items()})
        counts["storage requests"] = sum(rig.proxy.counts.values())
    return Run(job, seconds, counts, refused, lost, stuck)


def check(rig: Rig, job_name: str, names: list[str], report: Report,
          stuck: bool = False) -> None:
    store = rig.store
    try:
        entity = store.table("jobs").get_entity(job_name, "job")
    except ResourceNotFoundError:
        if not any(item.startswith("job row") for item in report.emulator_lost):
            raise  # a job row lost by anything but the emulator's crash is ours
        report.final_state = LOST
        _check_poison(store, report)
        return
    report.final_state = entity["status"]
    if stuck and report.final_state not in TERMINAL:
        report.final_state = STUCK
        _check_poison(store, report)
        return
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
    _check_poison(store, report)


def _check_poison(store: Storage, report: Report) -> None:
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
                report.undisturbed = run_job(rig, endpoint, folder, None, timeout,
                                             version).seconds
            disturbed = run_job(rig, endpoint, folder, faults, timeout, version,
                                expected=report.undisturbed)
            report.seconds, report.faults = disturbed.seconds, disturbed.faults
            report.deletes_refused = disturbed.deletes_refused
            report.emulator_lost = disturbed.emulator_lost
            check(rig, disturbed.job, names, report, disturbed.stuck)
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
        if report.emulator_lost:
            print(f"       emulator lost an acknowledged write ({len(report.emulator_lost)}): "
                  f"{', '.join(report.emulator_lost[:10])}", flush=True)
        if report.poison_poison:
            print(f"       poison-poison: {report.poison_poison}", flush=True)
    print("pp = messages in *-poison-poison queues; calm = the same job undisturbed")
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
