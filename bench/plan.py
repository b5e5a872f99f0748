"""`python -m bench.plan`: planning a big folder, page by page, with flat memory.

Part 1 plans a folder of `--files` 10-byte blobs in an Azurite of its own (on disk, in a
temporary folder): a job is invoked on it and planned in-process through the real
`planning.plan_page`, each page's message taken from the plan queue as the host would hand
it on. The folder is seeded into Azurite's database file before Azurite starts (one blob
uploaded, then copied under new names and versions): Azurite's in-memory store scans every
blob it holds on each upload, so uploading 100,000 blobs costs it hours, while listing them
is cheap. Part 2 plans a `--synthetic`-file listing that is never uploaded, in an in-memory
Azurite: plan_page's `listing` seam gets a generator of 5,000-name pages (names and
versions as the blob listing gives them); all the rest — mini-batch rows, dispatch, the job
row — is the real code against Azurite. Part 3 (`--manifest`) plans a job over an explicit
list of that many files (as a drop's or a retry's) twice: from a manifest in pieces, and
from one JSON array that every page reads whole, as manifests were before.

Per group of pages, per 10,000 files: seconds, of them listing, and CPU seconds of this
process (the planner; the rest is waiting on Azurite); the process's RSS after the pages,
and (parts 2 and 3) the peak of Python allocations during a page (tracemalloc): flat means
memory does not grow with the folder.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.scale import deploy, invoke_on, upload_tiny
from devhost import azurite
from shared.storage.clients import Storage

PAGE = 5000
CONTENT = b"0123456789"
BLOBS_DB = "__azurite_db_blob__.json"  # Azurite's blob metadata (LokiJS) in --location


@dataclass
class Page:
    files: int  # planned so far
    seconds: float
    listing: float  # of which listing (folder) or making up (simulated) the page
    cpu: float  # this process's CPU seconds in the page (the rest: waiting on Azurite)
    rss_mb: float
    traced_peak_mb: float | None


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def seeded(location: Path, count: int) -> str:
    """`count` blobs in a new folder of workspaceblobstore in the Azurite at `location`
    (stopped): one is uploaded, then copied in the database under new names and versions,
    all sharing its stored bytes. Returns the folder."""
    folder = uuid.uuid4().hex[:8]
    server = azurite.start(location=location)
    try:
        Storage.from_connection_string(server.connection_string).container(
            "workspaceblobstore").upload_blob(f"{folder}/template", CONTENT)
    finally:
        server.stop()  # Azurite saves its database on the way out
    path = location / BLOBS_DB
    db = json.loads(path.read_text())
    blobs = next(c for c in db["collections"] if c["name"] == "$BLOBS_COLLECTION$")
    template = next(d for d in blobs["data"] if d["name"] == f"{folder}/template")
    blobs["data"].remove(template)
    for i in range(count):
        blobs["maxId"] += 1
        blobs["data"].append({
            **template, "name": f"{folder}/{i:07d}.bin", "$loki": blobs["maxId"],
            "properties": {**template["properties"], "etag": f'"0x8DB{i:012X}"'},
            "meta": dict(template["meta"])})
    for key, index in blobs["binaryIndices"].items():  # positions in order of the key
        index["values"] = sorted(range(len(blobs["data"])), key=lambda p: blobs["data"][p][key])
        index["dirty"] = False
    path.write_text(json.dumps(db))
    return folder


def check_seeded(storage: Storage, folder: str, count: int) -> None:
    """The seeded blobs are ordinary blobs to Azurite: listed, read, with their versions."""
    container = storage.container("workspaceblobstore")
    last = container.get_blob_client(f"{folder}/{count - 1:07d}.bin")
    if (last.download_blob().readall(), last.get_blob_properties().etag) != (
            CONTENT, f'"0x8DB{count - 1:012X}"'):
        raise RuntimeError(f"Azurite did not take the seeded blobs of {folder}")


def manifest_job(storage: Storage, endpoint: str, count: int, legacy: bool) -> str:
    """A job over a manifest of `count` files (as a drop's: names with versions), in pieces,
    or (`legacy`) as the one JSON array every page used to read whole."""
    from dataclasses import replace

    from shared.jobs import invoke, manifests

    entries = ({"name": f"m/{i:08d}.png", "etag": f"0x8DC{i:012X}"} for i in range(count))
    name = f"drops/bench-{uuid.uuid4().hex[:8]}"
    if legacy:
        name += ".json"
        storage.container("batch-jobs").upload_blob(name, json.dumps(list(entries)))
    else:
        manifests.write(storage, name, entries)
    request = invoke.parse_request({"inputs": {"x": {  # a manifest's files need not exist
        "type": "uri_folder", "path": "azureml://datastores/workspaceblobstore/paths/m"}}})
    return invoke.invoke(storage, endpoint, replace(request, manifest=name))[0].name


def synthetic(total: int):
    """A listing of `total` files in pages of 5,000, made up as it is read."""
    from shared.jobs.planning import InputRef

    def listing(storage, job, continuation: str | None):
        start = int(continuation or 0)
        end = min(total, start + PAGE)
        refs = [InputRef(f"synthetic/{i:08d}.png", f'"0x8DC{i:012X}"') for i in range(start, end)]
        return refs, (str(end) if end < total else None)

    return listing


def plan_all(storage: Storage, job_name: str, listing=None, trace: bool = False) -> list[Page]:
    """Plan every page, taking each next page's message from the plan queue."""
    from shared.jobs import planning, records
    from shared.messages import PLAN_QUEUE, PlanPage, decode

    queue = storage.queue(PLAN_QUEUE)
    for msg in queue.receive_messages(max_messages=32):  # invoke's own: handed in below
        queue.delete_message(msg)
    pages, msg, listed = [], PlanPage(job_name), [0.0]

    def timed(storage: Storage, job, continuation: str | None):
        t = time.perf_counter()
        try:
            return (listing or planning.list_page)(storage, job, continuation)
        finally:
            listed[0] += time.perf_counter() - t

    while True:
        if trace:
            tracemalloc.reset_peak()
        t, cpu, listed[0] = time.perf_counter(), time.process_time(), 0.0
        planning.plan_page(storage, msg, timed)
        seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
        job = records.load(storage, job_name)
        pages.append(Page(job.files_total, seconds, listed[0], cpu, rss_mb(),
                          tracemalloc.get_traced_memory()[1] / 2**20 if trace else None))
        if len(pages) % 20 == 0:
            print(f"  {job.files_total} files planned, {seconds:.1f} s for the last page",
                  file=sys.stderr, flush=True)
        if job.planning_done:
            return pages
        got = next(iter(queue.receive_messages(max_messages=1)), None)
        if got is None:
            raise RuntimeError(f"planning of {job_name} stopped after page {msg.page}")
        queue.delete_message(got)
        msg = decode(PlanPage, got.content)


def report(title: str, pages: list[Page]) -> str:
    files = pages[-1].files
    total = sum(p.seconds for p in pages)
    lines = [f"{title}: {files} files, {len(pages)} pages, {total:.1f} s "
             f"({total / files * 10000:.2f} s per 10,000 files, "
             f"{sum(p.listing for p in pages) / files * 10000:.2f} of them listing, "
             f"{sum(p.cpu for p in pages) / files * 10000:.2f} CPU s of the planner)",
             "| pages | files | s per 10,000 files | of which listing | planner CPU s | "
             "RSS after, MB |"
             + (" peak traced in a page, MB |" if pages[0].traced_peak_mb is not None else ""),
             "|---|---|---|---|---|---|" + ("---|" if pages[0].traced_peak_mb is not None else "")]
    step = max(1, len(pages) // 10)
    for i in range(0, len(pages), step):
        group = pages[i:i + step]
        done = group[-1].files - (pages[i - 1].files if i else 0)
        per = 10000 / max(1, done)
        line = (f"| {i + 1}-{i + len(group)} | {group[-1].files} | "
                f"{sum(p.seconds for p in group) * per:.2f} | "
                f"{sum(p.listing for p in group) * per:.2f} | "
                f"{sum(p.cpu for p in group) * per:.2f} | "
                f"{max(p.rss_mb for p in group):.0f} |")
        if group[0].traced_peak_mb is not None:
            line += f" {max(p.traced_peak_mb for p in group):.1f} |"
        lines.append(line)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines.append(f"peak RSS of the process so far: {peak:.0f} MB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plan", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100_000,
                        help="blobs of the folder to plan (0: skip)")
    parser.add_argument("--synthetic", type=int, default=1_000_000,
                        help="files of the simulated listing (0: skip)")
    parser.add_argument("--manifest", type=int, default=0,
                        help="entries of a manifest to plan, in pieces and whole (0: skip)")
    parser.add_argument("--mini-batch-size", type=int, default=10)
    args = parser.parse_args(argv)
    print(f"bench.plan on {os.cpu_count()} CPUs, mini_batch_size {args.mini_batch_size}",
          flush=True)
    if args.files:
        location = Path(tempfile.mkdtemp(prefix="bench-plan-"))
        try:
            t = time.perf_counter()
            with ProcessPoolExecutor(1) as child:  # its memory is not the planner's peak
                folder = child.submit(seeded, location, args.files).result()
            print(f"seeded a folder of {args.files} blobs in {time.perf_counter() - t:.0f} s",
                  flush=True)
            with serving(location) as storage:
                check_seeded(storage, folder, args.files)
                endpoint = deploy(storage, 2, args.mini_batch_size)
                print("\n" + report("Folder in Azurite", plan_all(
                    storage, invoke_on(storage, endpoint, folder))), flush=True)
        finally:
            shutil.rmtree(location, ignore_errors=True)
    if args.synthetic:
        with serving(None) as storage:
            endpoint = deploy(storage, 2, args.mini_batch_size)
            folder = upload_tiny(storage, 1)  # invoke checks the input exists
            tracemalloc.start()
            print("\n" + report("Simulated listing", plan_all(
                storage, invoke_on(storage, endpoint, folder), synthetic(args.synthetic),
                trace=True)), flush=True)
    if args.manifest:
        with serving(None) as storage:
            endpoint = deploy(storage, 2, args.mini_batch_size)
            tracemalloc.start()
            for legacy in (False, True):
                title = ("Manifest as one JSON array, read whole per page" if legacy
                         else "Manifest in pieces")
                print("\n" + report(title, plan_all(
                    storage, manifest_job(storage, endpoint, args.manifest, legacy),
                    trace=True)), flush=True)
    return 0


@contextlib.contextmanager
def serving(location: Path | None):
    """Storage over an Azurite of its own: on disk at `location`, or in memory."""
    server = azurite.start(location=location, in_memory=location is None)
    os.environ["AzureWebJobsStorage"] = server.connection_string
    try:
        yield Storage.from_connection_string(server.connection_string)
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
