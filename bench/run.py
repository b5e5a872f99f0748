"""`python -m bench.run`: the service end to end against a hand-written script, side by side.

For each workload the same files go through
- the script: one process reading them from local disk (bench/baseline.py), run first, then
  again just before and just after each service run, with the host and its workers paused
  (SIGSTOP) meanwhile: each service run is compared with the mean of the two around it, as
  the machine's speed drifts over minutes (`--repeats` service runs, each between two
  script runs; the ratio reported is their median, and every one is printed);
- the engine: our scoring engine called in this process on the same bytes, in mini-batches;
- the service: invoke → Completed through the local host, once per worker count (the upload
  to Azurite is done before the clock starts);
- for the tiny model, Azurite alone: a bare concurrent GET loop over the same blobs, with the
  SDK's download_blob and with the lean GET the scoring step uses (shared/storage/
  blobreads.py): the ceilings of a service reading them from this storage each way,
  measured right after the service's runs with as many workers, once their host has
  stopped: Azurite alone, holding the blobs the service's run saw (its GETs get slower with
  every blob it holds).
All are measured in the same run. Then, per service run, where a mini-batch's time went (the
`batch.timing` lines the scoring step logs) and how busy the compute slots were.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

from client import BatchClient, Model, load_batch_deployment, load_batch_endpoint
from devhost import azurite
from devhost.testing import HostProcess, make_project
from samples import data, models
from shared.jobs.minibatch import DOWNLOAD_THREADS
from shared.storage.clients import Storage

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("queued", "read_state", "download", "decode", "slot_wait", "inference",
          "score_other", "write", "commit_dispatch")


@dataclass(frozen=True)
class Workload:
    key: str
    label: str
    model: bytes
    scoring: dict
    files: list[tuple[str, bytes]]
    mini_batch: int


def workloads(args: argparse.Namespace) -> list[Workload]:
    build: dict[str, Callable[[], Workload]] = {
        "mid": lambda: Workload("mid", "mid ResNet-18 (224x224, ~1.8 GFLOPs/image)",
                                models.resnet18(), models.heavy_scoring(224),
                                data.photos(args.mid_files, size=224), 16),
        "heavy": lambda: Workload("heavy", "heavy CNN (640x640, ~8.6 GFLOPs/image)",
                                  models.heavy_cnn(), models.heavy_scoring(),
                                  data.photos(args.heavy_files, size=models.HEAVY_SIZE), 8),
        "light": lambda: Workload("light", "tiny (digits logistic regression, 8x8 PNGs)",
                                  models.digits_classifier(), models.DIGITS_SCORING,
                                  [(n, b) for n, b, _ in data.digit_pngs(args.light_files)],
                                  100),
    }
    return [build[k]() for k in args.only.split(",")]


def script(w: Workload, tmp: Path) -> tuple[float, float]:
    """Wall and CPU seconds of the script's scoring loop (after its session loaded, like a
    warm service)."""
    folder, model = tmp / f"in-{w.key}", tmp / f"script-{w.key}.onnx"
    if not folder.exists():  # written once per workload: the script runs around every run
        folder.mkdir()
        for name, blob in w.files:
            (folder / name).write_bytes(blob)
        model.write_bytes(w.model)
    done = subprocess.run([sys.executable, "-m", "bench.baseline", str(model),
                           str(folder), str(tmp / "out.csv"), json.dumps(w.scoring["input"]),
                           str(w.mini_batch)], check=True, cwd=ROOT, capture_output=True,
                          text=True)
    wall, cpu = done.stdout.split()[-2:]
    return float(wall), float(cpu)


def engine(w: Workload) -> float:
    """Our engine on bytes in memory: decode + ONNX Runtime, mini-batch by mini-batch."""
    import hashlib

    from scoring.config import parse_scoring_config
    from scoring.scorer import InputFile, Scorer
    from scoring.signature import read_signature

    signature = read_signature(w.model)
    model = {"sha256": hashlib.sha256(w.model).hexdigest(), "signature": signature.to_dict()}
    scoring = parse_scoring_config(w.scoring, signature).to_dict()
    scorer = Scorer.from_snapshot(scoring, model, lambda: w.model)
    scorer.score([InputFile(*w.files[0])])  # the session loads outside the clock
    started = time.perf_counter()
    for i in range(0, len(w.files), w.mini_batch):
        scorer.score([InputFile(n, b) for n, b in w.files[i:i + w.mini_batch]])
    return time.perf_counter() - started


def upload(store: Storage, files: list[tuple[str, bytes]]) -> str:
    folder = f"bench/{uuid.uuid4().hex[:8]}"
    container = store.container("workspaceblobstore")
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda f: container.upload_blob(f"{folder}/{f[0]}", f[1]), files))
    return folder


CEILINGS = ("sdk", "lean")


def azurite_ceiling(conn: str, azurite_pid: int, folder: str, names: list[str],
                    processes: int, how: str) -> tuple[float, float, float]:
    """A bare concurrent GET loop over the same blobs, `how` = "sdk" (download_blob) or
    "lean" (the scoring step's reader): `processes` processes (as many as the host has
    workers) of DOWNLOAD_THREADS threads each, as the scoring step downloads. Wall seconds,
    and the CPU seconds of the loop and of Azurite."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=spawn) as pool:
        before = cpu_seconds([azurite_pid])
        spans = list(pool.map(_get_all, [conn] * processes, [folder] * processes,
                              [names[i::processes] for i in range(processes)],
                              [how] * processes))
        azurite_cpu = cpu_seconds([azurite_pid]) - before
    return (max(end for _, end, _ in spans) - min(start for start, _, _ in spans),
            sum(cpu for _, _, cpu in spans), azurite_cpu)


def ceilings(results: dict[str, float], server: azurite.Azurite, folder: str, w: Workload,
             processes: int, repeats: int) -> None:
    """Both ceilings for `processes` processes, measured once the host of the service's runs
    with as many workers has stopped: Azurite alone, holding the blobs those runs saw (its
    GETs get slower with every blob it holds, so measuring it earlier would flatter it)."""
    for how in CEILINGS:
        (results[f"{how}{processes}"], results[f"{how}{processes}_cpu"],
         results[f"{how}{processes}_server_cpu"]) = min(
            azurite_ceiling(server.connection_string, server.process.pid, folder,
                            [name for name, _ in w.files], processes, how)
            for _ in range(repeats))


def _get_all(conn: str, folder: str, names: list[str], how: str) -> tuple[float, float, float]:
    store = Storage.from_connection_string(conn)
    container = store.container("workspaceblobstore")

    def get(name: str) -> bytes:
        if how == "lean":
            return store.reads.get(container.container_name, f"{folder}/{name}", limit=1 << 30)
        return container.download_blob(f"{folder}/{name}").readall()

    get(names[0])  # connected, outside the clock
    started, cpu = time.time(), time.process_time()
    with ThreadPoolExecutor(DOWNLOAD_THREADS) as pool:
        list(pool.map(get, names))
    return started, time.time(), time.process_time() - cpu


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (Linux /proc)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Run:
    """One job by the service's own record: created and ended (epoch seconds), so how often
    this client polls does not change the figure; `polls` is how often it read the job (each
    read costs the instances a few table reads: bench/README.md)."""
    job: str
    created: float
    ended: float
    polls: int

    @property
    def seconds(self) -> float:
        return self.ended - self.created


@dataclass(frozen=True)
class Pair:
    """One service run, the CPU seconds it cost (its workers, its host, Azurite), and the
    script's (wall, CPU) seconds just before and just after it."""
    run: Run
    cpu: dict[str, float]
    before: tuple[float, float]
    after: tuple[float, float]

    def script(self, cpu: bool = False) -> float:
        """The script's seconds around the run (wall, or CPU): the mean of before and after."""
        return (self.before[int(cpu)] + self.after[int(cpu)]) / 2

    @property
    def ratio(self) -> float:
        return self.script() / self.run.seconds


def median_pair(pairs: list[Pair]) -> Pair:
    """The run whose ratio is the median (the lower of the two middle ones if even)."""
    ranked = sorted(pairs, key=lambda p: p.ratio)
    return ranked[(len(ranked) - 1) // 2]


@contextlib.contextmanager
def paused(host: HostProcess) -> Iterator[None]:
    """The host and its workers stopped (SIGSTOP to its process group) while the script runs:
    an idle host still polls its queues, and the script should not pay for that."""
    os.killpg(host.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(host.process.pid, signal.SIGCONT)


def service(api: BatchClient, endpoint: str, folder: str) -> Run:
    """Invoke, then follow the job as a user of the client does (its default polling)."""
    job = api.batch_endpoints.invoke(
        endpoint, input=f"azureml://datastores/workspaceblobstore/paths/{folder}")
    seen: list[object] = []
    done = api.jobs.stream(job.name, timeout=1800, on_progress=seen.append)
    assert done.ended_at, done
    return Run(job.name, datetime.fromisoformat(done.extra["creation_context"]["created_at"])
               .timestamp(), datetime.fromisoformat(done.ended_at).timestamp(), len(seen))


def deploy(api: BatchClient, w: Workload, instances: int, tmp: Path, concurrency: int = 1
           ) -> str:
    version = uuid.uuid4().hex[:8]
    (tmp / f"{w.key}.onnx").write_bytes(w.model)
    api.models.create_or_update(Model(name=w.key, version=version,
                                      path=str(tmp / f"{w.key}.onnx")))
    endpoint = f"{w.key}-{version[:4]}"
    api.batch_endpoints.begin_create_or_update(
        load_batch_endpoint(params_override=[{"name": endpoint}])).result()
    api.batch_deployments.begin_create_or_update(load_batch_deployment(params_override=[{
        "name": "bench", "endpoint_name": endpoint, "model": f"{w.key}:{version}",
        "scoring": w.scoring, "settings": {"mini_batch_size": w.mini_batch,
                     "max_concurrency_per_instance": concurrency},
        "resources": {"instance_count": instances}}])).result()
    return endpoint


def queue_settings(concurrency: int) -> dict[str, str]:
    """App settings (over host.json, as in Azure) letting an instance hold a mini-batch
    ahead of each of its `concurrency` computing ones: at most batchSize +
    newBatchThreshold messages of a queue are in flight per instance."""
    if concurrency == 1:
        return {}  # host.json's 1 + 1 already
    prefix = "AzureFunctionsJobHost__extensions__queues__"
    return {f"{prefix}batchSize": str(concurrency),
            f"{prefix}newBatchThreshold": str(concurrency)}


def start_storage(isolate: bool) -> azurite.Azurite:
    """Azurite; isolated, it runs on the last CPU this process may use and everything started
    afterwards (the script, the host and its workers) on the others (processes and threads
    inherit the CPUs of the thread that starts them)."""
    cpus = sorted(os.sched_getaffinity(0))
    if not isolate:
        print(f"CPUs: {len(cpus)}, shared by the script or the service and Azurite")
        return azurite.start(in_memory=True)
    if len(cpus) < 2:
        raise SystemExit("--isolate-storage needs at least 2 CPUs")
    os.sched_setaffinity(0, cpus[-1:])
    try:
        server = azurite.start(in_memory=True)
    finally:
        os.sched_setaffinity(0, cpus[:-1])
    print(f"CPUs: Azurite on CPU {cpus[-1]}; the script and the service on {cpus[:-1]}")
    return server


def warm(host: HostProcess, workers: int, job: Callable[[], Run], tries: int = 8) -> None:
    """Run warm-up jobs until every worker has scored a mini-batch of one: a worker that
    sat one out would load its session in the measured job (a second or more of one core's
    time, which is cold start: bench.coldstart)."""
    seen: set[str] = set()
    for _ in range(tries):
        done = job()
        seen |= {span["worker"] for span in timings(host, done.job)} - {"?"}
        if len(seen) >= workers:
            return
    raise SystemExit(f"after {tries} warm-up jobs only workers {sorted(seen)} had scored")


def warm_files(w: Workload, workers: int) -> list[tuple[str, bytes]]:
    """Two mini-batches per worker (each worker's listener holds two messages), from the
    workload's files repeated under new names if it has fewer."""
    count = w.mini_batch * 2 * workers
    return [(f"warm-{i:05d}-{w.files[i % len(w.files)][0]}", w.files[i % len(w.files)][1])
            for i in range(count)]


def timings(host: HostProcess, job: str) -> list[dict]:
    """The job's `batch.timing` lines, each with the worker that logged it ("w0", ...)."""
    marker = "mini-batch timing "
    spans = []
    for line in host.logs().splitlines():
        if marker in line:
            span = json.loads(line.split(marker, 1)[1])
            if span.get("job") == job:
                span["worker"] = line.split("[", 1)[1].split("]", 1)[0] if "[w" in line else "?"
                spans.append(span)
    return spans


def breakdown(label: str, workers: int, run: Run, spans: list[dict]) -> str:
    """A row of the mini-batch table: the mean phase times, how busy the compute slots
    were, and the job's own start and end: from its creation to the first mini-batch's
    start (invoke, planning, dispatch, pickup) and from the last mini-batch's end to
    Completed (the aggregation)."""
    if not spans:
        return f"{label:<12} {workers:>2}  (no timing lines)"
    mean = {p: 1000 * statistics.fmean(s.get(p, 0.0) for s in spans) for p in PHASES}
    busy = sum(s.get("inference", 0.0) for s in spans) / (run.seconds * workers)
    cells = " ".join(f"{mean[p]:>9.1f}" for p in PHASES)
    start = 1000 * (min(s["began"] for s in spans) - run.created)
    end = 1000 * (run.ended - max(s["ended"] for s in spans))
    firsts = {}  # each worker's first mini-batch: how long after the job's creation it began
    for s in spans:
        firsts[s["worker"]] = min(firsts.get(s["worker"], s["began"]), s["began"])
    each = "/".join(f"{1000 * (t - run.created):.0f}" for _, t in sorted(firsts.items()))
    return (f"{label:<12} {workers:>2} {len(spans):>5} {cells} {busy:>8.0%} {start:>8.0f} "
            f"{end:>8.0f} {run.polls:>6} {each:>11}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mid-files", type=int, default=480)
    parser.add_argument("--heavy-files", type=int, default=48)
    parser.add_argument("--light-files", type=int, default=2000)
    parser.add_argument("--workers", default="1,2", help="worker counts, e.g. 1,2")
    parser.add_argument("--only", default="mid,heavy,light", help="workloads to run")
    parser.add_argument("--repeats", type=int, default=1,
                        help="service runs per workload and worker count, each between two "
                             "script runs (the median ratio is reported, every one printed)")
    parser.add_argument("--max-concurrency", type=int, default=0,
                        help="the deployments' max_concurrency_per_instance (default: the "
                             "service's CPUs per worker, as one would set it in Azure ML for "
                             "a CPU-bound model)")
    parser.add_argument("--isolate-storage", action="store_true",
                        help="Azurite on a CPU of its own, the script and the service on the "
                             "others: in Azure, storage does not run on the instance's cores")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.workers.split(",")]
    loads = workloads(args)
    server = start_storage(args.isolate_storage)
    results: dict[str, dict[str, float]] = {w.key: {} for w in loads}
    pairs: dict[tuple[str, int], list[Pair]] = {(w.key, n): [] for w in loads for n in counts}
    spans: list[str] = []
    latencies: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            store = Storage.from_connection_string(server.connection_string)
            store.blobs.create_container("workspaceblobstore")
            folders = {w.key: upload(store, w.files) for w in loads}
            for w in loads:
                results[w.key]["script"], results[w.key]["script_cpu"] = min(
                    script(w, tmp) for _ in range(args.repeats))
                results[w.key]["engine"] = min(engine(w) for _ in range(args.repeats))
            for n in counts:
                project = make_project(tmp / f"app{n}", ROOT / "function_app.py",
                                       server.connection_string, host_json=ROOT / "host.json")
                concurrency = args.max_concurrency or max(1, len(os.sched_getaffinity(0)) // n)
                with HostProcess(project, workers=n, env=queue_settings(concurrency)) as host, \
                        BatchClient(host.api, host.function_key) as api:
                    print(f"{n} worker(s): max_concurrency_per_instance {concurrency}")
                    endpoints = {w.key: deploy(api, w, n, tmp, concurrency) for w in loads}
                    for w in loads:  # warm: every worker's session loaded, connections open
                        warm(host, n, partial(service, api, endpoints[w.key],
                                              upload(store, warm_files(w, n))))
                    for w in loads:
                        pids = {"workers": list(host.worker_pids().values()),
                                "host": [host.process.pid], "Azurite": [server.process.pid]}
                        with paused(host):
                            before = script(w, tmp)
                        for _ in range(args.repeats):
                            used = {k: cpu_seconds(v) for k, v in pids.items()}
                            took = service(api, endpoints[w.key], folders[w.key])
                            used = {k: cpu_seconds(v) - used[k] for k, v in pids.items()}
                            with paused(host):
                                after = script(w, tmp)
                            pairs[w.key, n].append(Pair(took, used, before, after))
                            spans.append(breakdown(w.key, n, took, timings(host, took.job))
                                         + "".join(f" {1000 * v / len(w.files):>8.1f}"
                                                   for v in used.values()))
                            before = after
                    if n == counts[-1]:
                        small = upload(store, loads[-1].files[:10])
                        latencies += [service(api, endpoints[loads[-1].key], small).seconds
                                      for _ in range(5)]
                for w in loads:
                    results[w.key][f"service{n}"] = median_pair(pairs[w.key, n]).run.seconds
                    if w.key == "light":
                        ceilings(results[w.key], server, folders[w.key], w, n, args.repeats)
    finally:
        server.stop()
    report(loads, counts, results, pairs, spans, latencies, args.isolate_storage)
    return 0


def report(loads: list[Workload], counts: list[int], results: dict[str, dict[str, float]],
           pairs: dict[tuple[str, int], list[Pair]], spans: list[str], latencies: list[float],
           isolated: bool) -> None:
    print("\nfiles/s (and ratio to the script, 1.00 = as fast as the script; the engine's to "
          "the script run just before it, each service run's to the mean of the script runs "
          "just before and just after it, the host paused meanwhile; with --repeats, the run "
          "of the median ratio)")
    heads = ["script", "engine"] + [f"service {n}w" for n in counts]
    print(f"{'workload':<46} {'files':>6} " + " ".join(f"{h:>16}" for h in heads))
    for w in loads:
        r = results[w.key]
        cells = [f"{len(w.files) / r[key]:>8.1f} ({r['script'] / r[key]:.2f})"
                 for key in ("script", "engine")]
        cells += [f"{len(w.files) / median_pair(pairs[w.key, n]).run.seconds:>8.1f} "
                  f"({median_pair(pairs[w.key, n]).ratio:.2f})" for n in counts]
        print(f"{w.label:<46} {len(w.files):>6} " + " ".join(f"{c:>16}" for c in cells))
        for n in counts:
            print(f"{'':<46} {n}w, every run: ratio (script before -> after, files/s): "
                  + ", ".join(f"{p.ratio:.2f} ({len(w.files) / p.before[0]:.1f} -> "
                              f"{len(w.files) / p.after[0]:.1f})" for p in pairs[w.key, n]))
        for n, how in ((n, how) for n in counts for how in CEILINGS):
            if f"{how}{n}" in r:
                print(f"{'':<46} Azurite alone, {n} process(es) x {DOWNLOAD_THREADS} "
                      f"concurrent {how} GETs: "
                      f"{len(w.files) / r[f'{how}{n}']:.0f} files/s (CPU ms per file: loop "
                      f"{1000 * r[f'{how}{n}_cpu'] / len(w.files):.1f}, Azurite "
                      f"{1000 * r[f'{how}{n}_server_cpu'] / len(w.files):.1f}); the service "
                      f"with {n} worker(s) reaches {r[f'{how}{n}'] / r[f'service{n}']:.0%}")

    def script_ms(w: Workload, n: int) -> str:
        return f"{n}w {1000 * median_pair(pairs[w.key, n]).script(cpu=True) / len(w.files):.1f}"

    print("\nCPU ms per file of the script's loop (around the median run): " + ", ".join(
        f"{w.key} " + " / ".join(script_ms(w, n) for n in counts) for w in loads)
        + " (the service's, its workers, its host and Azurite apart, are the last three "
        "columns below)")
    if not isolated:
        print(storage_bound(loads, counts, pairs))
    print("\nwhere a mini-batch's time went, every run (mean ms per mini-batch; busy = inference "
          "time / (wall x workers); start = the job's creation to its first mini-batch's start, "
          "end = its last mini-batch's end to Completed; polls = the client's reads of the job; "
          "firsts = when each worker began its first mini-batch, ms after the job's creation, "
          "w0/w1/...); CPU ms per file used by the host's workers, by the host itself and by "
          "Azurite")
    print(f"{'workload':<12} {'w':>2} {'mbs':>5} " + " ".join(f"{p[:9]:>9}" for p in PHASES)
          + f" {'busy':>8} {'start':>8} {'end':>8} {'polls':>6} {'firsts':>11} {'cpu wkrs':>8}"
          f" {'cpu host':>8} {'cpu Azur':>8}")
    for line in spans:
        print(line)
    if latencies:
        print(f"\n10-file job, warm host, created -> Completed by the service's record: median "
              f"{statistics.median(latencies):.2f} s (min {min(latencies):.2f}, "
              f"max {max(latencies):.2f}) over {len(latencies)} jobs")


def storage_bound(loads: list[Workload], counts: list[int],
                  pairs: dict[tuple[str, int], list[Pair]]) -> str:
    """On cores shared with Azurite, a CPU-bound service can go no faster than the script's
    CPU per file over (the script's CPU + Azurite's) per file, even if the service itself
    cost no more than the script: the best ratio this emulator leaves on these cores."""
    cells = []
    for w in loads:
        for n in counts:
            pair = median_pair(pairs[w.key, n])
            script_cpu = pair.script(cpu=True)
            bound = script_cpu / (script_cpu + pair.cpu["Azurite"])
            cells.append(f"{w.key} {n}w {bound:.2f}")
    return ("best ratio a CPU-bound service could reach on these cores given Azurite's CPU "
            "per file (script CPU / (script CPU + Azurite CPU)), median runs: " + ", ".join(cells))


if __name__ == "__main__":
    sys.exit(main())
