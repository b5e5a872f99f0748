"""`python -m bench.scale`: how mini-batch completions of one job scale with concurrency.

Only coordination is measured: the model is stubbed out. The job is made by the real code
(invoke, then planning in-process: M files, one per mini-batch); then N completers —
processes × threads, as instances × concurrent executions would be — finish its
mini-batches through the real `fanin.complete` (with a result part name, as scoring would
give) over their own Azurite. Completer c finishes c, c+N, c+2N, ...: the job's window is
N, so this is the order dispatch hands them out in (mini-batch j is sent when j-N is in);
`--shuffled` hands them out in random order instead.

Per N it prints completions/s, conflicts retried per completion (shared/conflicts.py counts
them), p50/p99 of one completion's latency, ContentionErrors (a redelivery is modelled:
up to 5 deliveries per mini-batch) and whether the job reached Finalizing with every
mini-batch counted exactly once ("other errors": deliveries that failed otherwise, e.g. the
emulator dropping connections under load; also redelivered). Beside it, the bare ceiling:
the same N threads doing as many unconditional single-entity upserts to distinct rows of
one partition.
"""

from __future__ import annotations

import argparse
import logging
import math
import multiprocessing
import os
import random
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from devhost import azurite
from shared.storage.clients import Storage

DELIVERIES = 5  # the host's maxDequeueCount
INSTANCES_MAX = 64  # resources.instance_count's limit: the rest is per-instance concurrency


@dataclass
class Share:
    """What one process's threads did."""

    latencies: list[float] = field(default_factory=list)
    retried: int = 0
    contention_errors: int = 0
    other_errors: int = 0
    given_up: int = 0
    start: float = math.inf
    end: float = 0.0


@dataclass
class Row:
    n: int
    m: int
    rate: float
    retries: float
    p50: float
    p99: float
    contention_errors: int
    other_errors: int
    finished: str
    ceiling: float


def minibatches_for(n: int, per: int, low: int, cap: int) -> int:
    return max(low, min(cap, per * n))


def deploy(storage: Storage, window: int, mini_batch_size: int) -> str:
    """An endpoint whose deployment runs `window` mini-batches of a job at once (its model
    is registered, never run)."""
    from samples import models as sample_models
    from shared.jobs import records
    from shared.resources import deployments, endpoints, models

    tag = uuid.uuid4().hex[:8]
    models.register(storage, "bench", tag, sample_models.digits_classifier())
    endpoint = f"bench-{tag}"
    endpoints.create_or_update(storage, endpoint, {})
    slots = max(1, window // records.PREFETCH)  # the job's window is PREFETCH per slot
    instances = min(INSTANCES_MAX, slots)
    deployments.create_or_update(storage, endpoint, "blue", {
        "model": f"azureml:bench:{tag}", "scoring": sample_models.DIGITS_SCORING,
        "resources": {"instance_count": instances},
        "settings": {"mini_batch_size": mini_batch_size,
                     "max_concurrency_per_instance": max(1, slots // instances)}})
    return endpoint


def upload_tiny(storage: Storage, count: int, threads: int = 32) -> str:
    """`count` 10-byte blobs in a new folder of workspaceblobstore; returns the folder.
    Plain PUTs under a container SAS: the SDK's per-call cost would dominate here."""
    import httpx
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    folder = uuid.uuid4().hex[:8]
    container = storage.container("workspaceblobstore")
    sas = generate_container_sas(
        container.account_name, container.container_name,
        account_key=container.credential.account_key,
        permission=ContainerSasPermissions(write=True, create=True),
        expiry=datetime.now(UTC) + timedelta(hours=6))
    local = threading.local()

    def put(i: int) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=60)
        for attempt in range(DELIVERIES):  # the emulator drops idle keep-alive connections
            try:
                local.client.put(f"{container.url}/{folder}/{i:07d}.bin?{sas}",
                                 content=b"0123456789",
                                 headers={"x-ms-blob-type": "BlockBlob"}).raise_for_status()
                return
            except httpx.TransportError:
                if attempt == DELIVERIES - 1:
                    raise
                local.client = httpx.Client(timeout=60)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, range(count)))
    return folder


def invoke_on(storage: Storage, endpoint: str, folder: str) -> str:
    from shared.jobs import invoke

    request = invoke.parse_request({"inputs": {"x": {
        "type": "uri_folder", "path": f"azureml://datastores/workspaceblobstore/paths/{folder}"}}})
    return invoke.invoke(storage, endpoint, request)[0].name


def make_job(storage: Storage, n: int, m: int) -> str:
    """A job of `m` one-file mini-batches with a window of `n`, planned by the real code."""
    from shared.jobs import planning, records
    from shared.messages import PlanPage

    name = invoke_on(storage, deploy(storage, n, 1), upload_tiny(storage, m))
    page = 0
    while not (job := records.load(storage, name)).planning_done:
        planning.plan_page(storage, PlanPage(name, page, job.plan_continuation or None))
        page += 1
    assert job.mb_total == m, (job.mb_total, m)
    return name


def order(m: int, n: int, shuffled: bool) -> list[int]:
    """Completer c's mini-batches are order[c::n]: the window's chains (c, c+n, ...), or,
    shuffled, any mini-batch at any time (as if the chains did not line up with shards)."""
    indexes = list(range(m))
    if shuffled:
        random.Random(m).shuffle(indexes)
    return indexes


def _complete_share(conn: str, job: str, n: int, m: int, deadline: float, shuffled: bool, *,
                    completers: list[int], at: float) -> Share:
    """One process: a thread per completer, each finishing its chain of mini-batches."""
    from shared import conflicts
    from shared.errors import ContentionError
    from shared.jobs import fanin
    from shared.jobs.lifecycle import Outcome

    logging.disable(logging.WARNING)
    storage = Storage.from_connection_string(conn)
    share, lock = Share(), threading.Lock()
    before = conflicts.retried()

    def chain(c: int) -> None:
        latencies, errors, others, given_up = [], 0, 0, 0
        time.sleep(max(0.0, at - time.time()))
        start = time.time()
        for index in order(m, n, shuffled)[c::n]:
            for _ in range(DELIVERIES):
                if time.time() > deadline:
                    break
                t = time.perf_counter()
                try:
                    fanin.complete(storage, job, index, Outcome.DONE, 1, 0, part="stub")
                except ContentionError:
                    errors += 1
                    continue
                except Exception:  # e.g. the emulator dropped the connection: redelivered
                    others += 1
                    continue
                latencies.append(time.perf_counter() - t)
                break
            else:
                given_up += 1
        with lock:
            share.latencies += latencies
            share.contention_errors += errors
            share.other_errors += others
            share.given_up += given_up
            share.start, share.end = min(share.start, start), max(share.end, time.time())

    _run_all(chain, completers)
    share.retried = conflicts.retried() - before
    return share


def _run_all(chain, completers: list[int]) -> None:
    """One thread per completer, all joined."""
    threads = [threading.Thread(target=chain, args=(c,)) for c in completers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _upsert_share(conn: str, partition: str, n: int, m: int, *, completers: list[int],
                  at: float) -> Share:
    """The ceiling: unconditional upserts of distinct rows, no reads, no conditions."""
    logging.disable(logging.WARNING)
    table = Storage.from_connection_string(conn).table("benchscale")
    share, lock = Share(), threading.Lock()

    def chain(c: int) -> None:
        latencies = []
        time.sleep(max(0.0, at - time.time()))
        start = time.time()
        others = 0
        for i in range(c, m, n):
            for _ in range(DELIVERIES):
                t = time.perf_counter()
                try:
                    table.upsert_entity({"PartitionKey": partition, "RowKey": f"{i:08d}"})
                except Exception:
                    others += 1
                    continue
                latencies.append(time.perf_counter() - t)
                break
        with lock:
            share.other_errors += others
            share.latencies += latencies
            share.start, share.end = min(share.start, start), max(share.end, time.time())

    _run_all(chain, completers)
    return share


def _spread(pool: ProcessPoolExecutor, processes: int, n: int, task: partial) -> list[Share]:
    """Run `task` in `processes` processes, completers 0..n-1 dealt out round robin, all
    starting at the same moment."""
    at = time.time() + 1.5
    futures = [pool.submit(task, completers=list(range(p, n, processes)), at=at)
               for p in range(processes)]
    return [f.result() for f in futures]


def _merge(shares: list[Share]) -> Share:
    out = Share()
    for s in shares:
        out.latencies += s.latencies
        out.retried += s.retried
        out.contention_errors += s.contention_errors
        out.other_errors += s.other_errors
        out.given_up += s.given_up
        out.start, out.end = min(out.start, s.start), max(out.end, s.end)
    return out


def _quantile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else math.nan
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def measure(conn: str, pool: ProcessPoolExecutor, n: int, m: int, processes: int,
            budget: float, shuffled: bool = False) -> Row:
    from shared.jobs import records
    from shared.jobs.lifecycle import JobStatus

    storage = Storage.from_connection_string(conn)
    job_name = make_job(storage, n, m)
    procs = min(processes, n)
    done = _merge(_spread(pool, procs, n, partial(_complete_share, conn, job_name, n, m,
                                                  time.time() + budget, shuffled)))
    job = records.load(storage, job_name)
    right = (job.status == JobStatus.FINALIZING and job.mb_done == m
             and job.items_ok == m and job.mb_failed == job.mb_canceled == 0)
    finished = "yes" if right else (f"NO: {job.status}, {job.mb_done}/{m} counted"
                                    + (f", {done.given_up} given up" if done.given_up else ""))
    ceiling = _merge(_spread(pool, procs, n, partial(_upsert_share, conn,
                                                     f"p{uuid.uuid4().hex[:8]}", n, m)))
    ceiling_rate = len(ceiling.latencies) / (ceiling.end - ceiling.start)
    count = max(1, len(done.latencies))
    return Row(n=n, m=m, rate=len(done.latencies) / (done.end - done.start),
               retries=done.retried / count, p50=_quantile(done.latencies, 0.5) * 1000,
               p99=_quantile(done.latencies, 0.99) * 1000,
               contention_errors=done.contention_errors, other_errors=done.other_errors,
               finished=finished,
               ceiling=ceiling_rate)


def table(rows: list[Row]) -> str:
    lines = ["| N | mini-batches | completions/s | retries/completion | p50 ms | p99 ms | "
             "ContentionErrors | other errors | Finalizing, counters right | bare upserts/s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r.n} | {r.m} | {r.rate:.0f} | {r.retries:.2f} | {r.p50:.0f} | {r.p99:.0f} "
              f"| {r.contention_errors} | {r.other_errors} | {r.finished} | {r.ceiling:.0f} |"
              for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", default="1,4,16,64,256",
                        help="concurrent completers, comma-separated (default %(default)s)")
    parser.add_argument("--per", type=int, default=8, help="mini-batches per completer")
    parser.add_argument("--min", type=int, default=64, help="at least this many mini-batches")
    parser.add_argument("--cap", type=int, default=1024, help="at most this many mini-batches")
    parser.add_argument("--processes", type=int, default=8, help="at most this many processes")
    parser.add_argument("--budget", type=float, default=180.0,
                        help="seconds per N before the completers give up")
    parser.add_argument("--shuffled", action="store_true",
                        help="completers take mini-batches in random order, not by chain")
    args = parser.parse_args(argv)
    ns = [int(x) for x in args.n.split(",")]
    server = azurite.start(in_memory=True)
    os.environ["AzureWebJobsStorage"] = server.connection_string
    rows = []
    try:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(args.processes, max(ns)), mp_context=context) as pool:
            for n in ns:
                m = minibatches_for(n, args.per, args.min, args.cap)
                rows.append(measure(server.connection_string, pool, n, m, args.processes,
                                    args.budget, args.shuffled))
                print(f"N={n}: done", file=sys.stderr, flush=True)
    finally:
        server.stop()
    print(f"bench.scale on {os.cpu_count()} CPUs, Azurite in memory, completers: up to "
          f"{args.processes} processes x N/processes threads, "
          f"{'shuffled' if args.shuffled else 'window chains'}")
    print(table(rows))
    return 0 if all(r.finished == "yes" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
