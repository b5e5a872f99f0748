"""`python -m bench.plan`: planning a big folder, page by page, with flat memory.

Part 1 puts `--files` 10-byte blobs in a folder of its own Azurite (many upload threads),
invokes a job on it and runs planning in-process through the real `planning.plan_page`,
each page's message taken from the plan queue as the host would hand it on. Part 2 plans a
`--synthetic`-file listing that is never uploaded: plan_page's `listing` seam gets a
generator of 5,000-name pages (names and versions as the blob listing gives them); all the
rest — mini-batch rows, dispatch, the job row — is the real code against Azurite.

Per page: seconds, seconds per 10,000 files, the process's RSS after the page, and (part 2)
the peak of Python allocations during the page (tracemalloc): flat means memory does not
grow with the folder.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from dataclasses import dataclass

from bench.scale import deploy, invoke_on, upload_tiny
from devhost import azurite
from shared.storage.clients import Storage

PAGE = 5000


@dataclass
class Page:
    files: int  # planned so far
    seconds: float
    rss_mb: float
    traced_peak_mb: float | None


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


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
    pages, msg = [], PlanPage(job_name)
    while True:
        if trace:
            tracemalloc.reset_peak()
        t = time.perf_counter()
        planning.plan_page(storage, msg, listing)
        seconds = time.perf_counter() - t
        job = records.load(storage, job_name)
        pages.append(Page(job.files_total, seconds, rss_mb(),
                          tracemalloc.get_traced_memory()[1] / 2**20 if trace else None))
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
             f"({total / files * 10000:.2f} s per 10,000 files)",
             "| pages | files | s per 10,000 files | RSS after, MB |"
             + (" peak traced in a page, MB |" if pages[0].traced_peak_mb is not None else ""),
             "|---|---|---|---|" + ("---|" if pages[0].traced_peak_mb is not None else "")]
    step = max(1, len(pages) // 10)
    for i in range(0, len(pages), step):
        group = pages[i:i + step]
        done = group[-1].files - (pages[i - 1].files if i else 0)
        seconds = sum(p.seconds for p in group)
        line = (f"| {i + 1}-{i + len(group)} | {group[-1].files} | "
                f"{seconds / max(1, done) * 10000:.2f} | {max(p.rss_mb for p in group):.0f} |")
        if group[0].traced_peak_mb is not None:
            line += f" {max(p.traced_peak_mb for p in group):.1f} |"
        lines.append(line)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines.append(f"peak RSS of the process so far: {peak:.0f} MB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plan", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100_000, help="blobs to upload and plan")
    parser.add_argument("--synthetic", type=int, default=1_000_000,
                        help="files of the simulated listing (0: skip)")
    parser.add_argument("--mini-batch-size", type=int, default=10)
    parser.add_argument("--threads", type=int, default=64, help="upload threads")
    args = parser.parse_args(argv)
    server = azurite.start(in_memory=True)
    os.environ["AzureWebJobsStorage"] = server.connection_string
    try:
        storage = Storage.from_connection_string(server.connection_string)
        endpoint = deploy(storage, 2, args.mini_batch_size)
        out = []
        if args.files:
            t = time.perf_counter()
            folder = upload_tiny(storage, args.files, args.threads)
            print(f"uploaded {args.files} blobs in {time.perf_counter() - t:.0f} s",
                  file=sys.stderr, flush=True)
            out.append(report("Folder in Azurite",
                              plan_all(storage, invoke_on(storage, endpoint, folder))))
        if args.synthetic:
            folder = upload_tiny(storage, 1)  # invoke checks the input exists
            tracemalloc.start()
            out.append(report("Simulated listing", plan_all(
                storage, invoke_on(storage, endpoint, folder), synthetic(args.synthetic),
                trace=True)))
    finally:
        server.stop()
    print(f"bench.plan on {os.cpu_count()} CPUs, Azurite in memory, mini_batch_size "
          f"{args.mini_batch_size}\n")
    print("\n\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
