"""`python -m bench.cost`: what 1,000 images cost on Flex Consumption, from measured CPU time.

Scores the benchmark's images in this process with the service's own scoring code (decode,
preprocess, ONNX Runtime, rows to CSV — what a `score_minibatch` execution does between its
download and its upload), pinned to one CPU. A Flex Consumption instance has 0.25, 1 or 2
cores at 512, 2,048 or 4,096 MB, so it is busy for CPU-seconds / cores. Flex bills on demand
for the instance memory provisioned while it executes (GB-seconds) plus each execution:

    GB-s per 1,000 images = CPU-s per image / cores x 1,000 x instance GB
    cost per 1,000 images = GB-s x price per GB-s + executions x price per execution

(memory / cores is 2 GB per core at every size, so one CPU-second costs 2 GB-s on each.)

Not counted: blob download/upload and queue round trips (the instance waits on the network,
still billed; see docs/deploy.md), cold starts, free grants. Prices: see PRICES below.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import sys
import time

from samples import data, models
from scoring.config import parse_scoring_config
from scoring.engine import InputFile, score_files
from scoring.sessions import get_session
from scoring.signature import read_signature
from scoring.writers import rows_to_csv

# Flex Consumption, on-demand meter, East US, USD (Azure Functions pricing page as quoted on
# 2025-05-22; check https://azure.microsoft.com/pricing/details/functions/ before relying).
GB_SECOND_PRICE = 0.000026
EXECUTION_PRICE = 0.40 / 1_000_000
# Executions per job besides scoring: invoke, plan, aggregate, events (one each, at least).
JOB_EXECUTIONS = 4
CORES = {512: 0.25, 2048: 1.0, 4096: 2.0}  # per instance size (MB), as Microsoft documents


def measure(model: bytes, scoring: dict, files: list[tuple[str, bytes]],
            mini_batch: int) -> tuple[float, float]:
    """CPU-seconds and wall seconds to score `files` in mini-batches (after one warm-up)."""
    signature = read_signature(model)
    config = parse_scoring_config(scoring, signature)
    session = get_session(hashlib.sha256(model).hexdigest(), lambda: model)
    inputs = [InputFile(name, blob) for name, blob in files]

    def run(batch: list[InputFile]) -> None:
        result = score_files(session, config, signature, batch)
        assert not result.errors, result.errors[:3]
        rows_to_csv(result.rows)

    run(inputs[:mini_batch])  # warm-up: first-run allocations are not per-image cost
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(0, len(inputs), mini_batch):
        run(inputs[i:i + mini_batch])
    return time.process_time() - cpu, time.perf_counter() - wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--heavy-images", type=int, default=24)
    parser.add_argument("--light-images", type=int, default=1000)
    parser.add_argument("--memory-mb", type=int, default=2048, choices=(512, 2048, 4096))
    parser.add_argument("--gb-second-price", type=float, default=GB_SECOND_PRICE)
    parser.add_argument("--execution-price", type=float, default=EXECUTION_PRICE)
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # CPU-seconds of one core
    workloads = [
        ("heavy CNN 640x640", models.heavy_cnn(), models.heavy_scoring(),
         data.photos(args.heavy_images, size=models.HEAVY_SIZE), 8),
        ("light digits", models.digits_classifier(), models.DIGITS_SCORING,
         [(n, b) for n, b, _ in data.digit_pngs(args.light_images)], 100),
    ]
    gb = args.memory_mb / 1024
    print(f"Flex Consumption on demand: {args.memory_mb} MB instance, "
          f"${args.gb_second_price:.6f}/GB-s, ${args.execution_price * 1e6:.2f}/million "
          f"executions; {CORES[args.memory_mb]:g} cores")
    print(f"{'workload':<20} {'images':>6} {'mini-batch':>10} {'CPU-ms/img':>10} "
          f"{'wall-ms/img':>11} {'GB-s/1k img':>12} {'execs/1k':>9} {'USD/1k img':>11}")
    for label, model, scoring, files, mini_batch in workloads:
        cpu, wall = measure(model, scoring, files, mini_batch)
        per_image = cpu / len(files)
        gb_seconds = per_image / CORES[args.memory_mb] * 1000 * gb
        executions = 1000 / mini_batch + JOB_EXECUTIONS
        usd = gb_seconds * args.gb_second_price + executions * args.execution_price
        print(f"{label:<20} {len(files):>6} {mini_batch:>10} {per_image * 1000:>10.2f} "
              f"{wall / len(files) * 1000:>11.2f} {gb_seconds:>12.2f} {executions:>9.0f} "
              f"{usd:>11.6f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak_mb:.0f} MB "
          f"(the instance has {args.memory_mb} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
