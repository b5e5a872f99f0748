"""Large tables split into row ranges, measured: a CSV of ~`--mb` MB and a Parquet file of
the same rows are put in a fresh Azurite (streamed, never held whole in memory) and scored
by the diabetes regressor through the in-process pipeline (tests/inprocess.py: the same
steps the queue triggers run). Prints, per file, the planning time (for the CSV: one
streaming pass that finds the ranges), the time to Completed, the number of ranges, the rows
scored, and this process's peak RSS while it plans, scores and aggregates — which stays near
a range's size, not the file's.

    .venv/bin/python -m bench.tables --mb 1024
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import tempfile
import threading
import time
import uuid
from pathlib import Path

from devhost import azurite
from samples import data, models
from shared.jobs import invoke, records
from shared.messages import AGGREGATE_QUEUE, PLAN_QUEUE, SCORE_QUEUE
from shared.resources import deployments, endpoints
from shared.resources import models as model_store
from shared.storage.clients import Storage
from tests.inprocess import InProcessHost

CHUNK_ROWS = 100_000
SCORING = {"input": {"type": "tabular", "exclude": ["target"]}, "output": {"type": "regression"}}


def _chunks(rows: int):
    """The diabetes rows repeated with a little noise (so Parquet cannot shrink them to a
    dictionary), CHUNK_ROWS at a time, as pyarrow Tables."""
    import numpy as np
    import pyarrow as pa

    base = data.diabetes_table()
    block = pa.concat_tables([base] * (CHUNK_ROWS // base.num_rows + 1)).slice(0, CHUNK_ROWS)
    rng = np.random.default_rng(0)
    for start in range(0, rows, CHUNK_ROWS):
        n = min(CHUNK_ROWS, rows - start)
        yield pa.table({c: block.column(c).to_numpy()[:n] + rng.normal(0, 1e-4, n)
                        for c in block.column_names})


def upload_csv(store: Storage, name: str, target_bytes: int) -> int:
    """A CSV of about target_bytes staged block by block; returns its rows."""
    import pyarrow.csv as pc
    from azure.storage.blob import BlobBlock

    blob = store.container("workspaceblobstore").get_blob_client(name)
    blocks, size, rows, header = [], 0, 0, True
    for table in _chunks(2**62):
        out = io.BytesIO()
        pc.write_csv(table, out, pc.WriteOptions(include_header=header))
        block_id = f"{len(blocks):08d}"
        blob.stage_block(block_id, out.getvalue())
        blocks.append(BlobBlock(block_id=block_id))
        size, rows, header = size + out.tell(), rows + table.num_rows, False
        if size >= target_bytes:
            break
    blob.commit_block_list(blocks)
    return rows


def upload_parquet(store: Storage, name: str, rows: int, folder: Path) -> int:
    import pyarrow.parquet as pq

    path = folder / "t.parquet"
    writer = None
    for table in _chunks(rows):
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=CHUNK_ROWS)
    writer.close()
    with path.open("rb") as f:
        store.container("workspaceblobstore").upload_blob(name, f, overwrite=True,
                                                          max_concurrency=2)
    size = path.stat().st_size
    path.unlink()
    return size


class Peaks:
    """This process's peak RSS per queue, sampled every 20 ms while a message of that queue
    is handled (the in-process host handles one at a time, like a worker)."""

    def __init__(self, host: InProcessHost):
        self.queue, self.peaks, self.running = "", {}, True
        handle = host.handle

        def handled(queue: str, body: str, dequeue_count: int = 1) -> None:
            self.queue = queue
            try:
                handle(queue, body, dequeue_count)
            finally:
                self.queue = ""

        host.handle = handled  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while self.running:
            with open("/proc/self/statm") as f:
                rss = int(f.read().split()[1]) * page / 2**20
            if self.queue:
                self.peaks[self.queue] = max(self.peaks.get(self.queue, 0.0), rss)
            time.sleep(0.02)

    def stop(self) -> dict[str, float]:
        self.running = False
        self.thread.join()
        return self.peaks


def score(store: Storage, endpoint: str, path: str) -> dict:
    body = {"inputs": {"t": {"type": "uri_file",
                             "path": f"azureml://datastores/workspaceblobstore/paths/{path}"}}}
    host = InProcessHost(store)
    peaks = Peaks(host)
    began = time.monotonic()
    job, _ = invoke.invoke(store, endpoint, invoke.parse_request(body))
    while host.step(PLAN_QUEUE):
        pass
    planned = time.monotonic()
    host.run_until_idle(timeout=3600)
    done = records.load(store, job.name)
    rss = peaks.stop()
    return {"status": done.status.value, "ranges": done.mb_total, "rows": done.items_ok,
            "failed": done.items_failed, "plan_s": planned - began,
            "total_s": time.monotonic() - began, "plan_mb": rss.get(PLAN_QUEUE, 0),
            "score_mb": rss.get(SCORE_QUEUE, 0), "aggregate_mb": rss.get(AGGREGATE_QUEUE, 0)}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tables", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=1024, help="CSV size in MB (default 1024)")
    parser.add_argument("--mini-batch-size", default="10",
                        help="the deployment's mini_batch_size (default 10 files: tables "
                             "over 32 MiB are cut into 32 MiB ranges)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        server = azurite.start(location=Path(tmp) / "azurite")
        try:
            store = Storage.from_connection_string(server.connection_string)
            os.environ["AzureWebJobsStorage"] = server.connection_string
            name = "tables-" + uuid.uuid4().hex[:6]
            model_store.register(store, "diabetes", "1", models.diabetes_regressor())
            endpoints.create_or_update(store, name, {})
            deployments.create_or_update(store, name, "blue", {
                "model": "diabetes:1", "scoring": SCORING,
                "settings": {"mini_batch_size": args.mini_batch_size}})
            began = time.monotonic()
            rows = upload_csv(store, "big/t.csv", args.mb * 1024 * 1024)
            parquet_bytes = upload_parquet(store, "big/t.parquet", rows, Path(tmp))
            print(f"uploaded {args.mb} MB of CSV and {parquet_bytes / 2**20:.0f} MB of Parquet "
                  f"({rows:,} rows each) in {time.monotonic() - began:.1f} s; "
                  f"peak RSS {_peak_mb():.0f} MB")
            print(" " * 63 + "peak RSS MB while")
            print("file        status     ranges  rows scored  failed  plan s  total s  "
                  "rows/s  planning  scoring  aggregating")
            for path in ("big/t.csv", "big/t.parquet"):
                r = score(store, name, path)
                print(f"{path[4:]:<11} {r['status']:<10} {r['ranges']:>6}  {r['rows']:>11,}  "
                      f"{r['failed']:>6}  {r['plan_s']:>6.1f}  {r['total_s']:>7.1f}  "
                      f"{r['rows'] / r['total_s']:>6,.0f}  {r['plan_mb']:>8.0f}  "
                      f"{r['score_mb']:>7.0f}  {r['aggregate_mb']:>11.0f}")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
