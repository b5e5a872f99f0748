"""`python -m bench.run`: the service end to end vs the hand-written baseline, side by side.

For each workload the same files go through (a) the service — upload to Azurite is done
before the clock starts, then invoke → Completed through the local host — and (b) the
baseline script reading them from local disk. Throughput and the ratio (b)/(a) are measured
in the same run; so is the invoke → Completed latency of a 10-file job on a warm host.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from client import BatchClient, Model, load_batch_deployment, load_batch_endpoint
from devhost import azurite
from devhost.testing import HostProcess, make_project
from samples import data, models
from shared.storage.clients import Storage

ROOT = Path(__file__).resolve().parent.parent


def baseline(model: bytes, files: list[tuple[str, bytes]], scoring: dict, batch: int,
             tmp: Path) -> float:
    folder = tmp / f"in-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    for name, blob in files:
        (folder / name).write_bytes(blob)
    (tmp / "model.onnx").write_bytes(model)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bench.baseline", str(tmp / "model.onnx"),
                    str(folder), str(tmp / "out.csv"), json.dumps(scoring["input"]),
                    str(batch)], check=True, cwd=ROOT, capture_output=True)
    return time.perf_counter() - started


def service(api: BatchClient, store: Storage, endpoint: str,
            files: list[tuple[str, bytes]]) -> float:
    folder = f"bench/{uuid.uuid4().hex[:8]}"
    container = store.container("workspaceblobstore")
    for name, blob in files:
        container.upload_blob(f"{folder}/{name}", blob)
    started = time.perf_counter()
    job = api.batch_endpoints.invoke(
        endpoint, input=f"azureml://datastores/workspaceblobstore/paths/{folder}")
    api.jobs.stream(job.name, timeout=1800, interval=0.02)
    return time.perf_counter() - started


def deploy(api: BatchClient, name: str, model: bytes, scoring: dict,
           settings: dict, tmp: Path) -> str:
    version = uuid.uuid4().hex[:8]
    (tmp / f"{name}.onnx").write_bytes(model)
    api.models.create_or_update(Model(name=name, version=version,
                                      path=str(tmp / f"{name}.onnx")))
    endpoint = f"{name}-{version[:4]}"
    api.batch_endpoints.begin_create_or_update(
        load_batch_endpoint(params_override=[{"name": endpoint}])).result()
    api.batch_deployments.begin_create_or_update(load_batch_deployment(params_override=[{
        "name": "bench", "endpoint_name": endpoint, "model": f"{name}:{version}",
        "scoring": scoring, **settings}])).result()
    return endpoint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--heavy-files", type=int, default=48)
    parser.add_argument("--light-files", type=int, default=1000)
    parser.add_argument("--mid-files", type=int, default=320)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    server = azurite.start(in_memory=True)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            project = make_project(tmp / "app", ROOT / "function_app.py",
                                   server.connection_string, host_json=ROOT / "host.json")
            store = Storage.from_connection_string(server.connection_string)
            with HostProcess(project, workers=args.workers) as host, \
                    BatchClient(host.api, host.function_key) as api:
                heavy = models.heavy_cnn()
                photos = data.photos(args.heavy_files, size=models.HEAVY_SIZE)
                heavy_ep = deploy(api, "heavy", heavy, models.heavy_scoring(), {
                    "settings": {"mini_batch_size": 8},
                    "resources": {"instance_count": args.workers}}, tmp)
                mid = models.resnet18()
                mid_scoring = models.heavy_scoring(224)
                pictures = data.photos(args.mid_files, size=224)
                mid_ep = deploy(api, "mid", mid, mid_scoring, {
                    "settings": {"mini_batch_size": 16},
                    "resources": {"instance_count": args.workers}}, tmp)
                light = models.digits_classifier()
                digits = [(n, b) for n, b, _ in data.digit_pngs(args.light_files)]
                light_ep = deploy(api, "light", light, models.DIGITS_SCORING, {
                    "settings": {"mini_batch_size": 100},
                    "resources": {"instance_count": args.workers}}, tmp)
                service(api, store, light_ep, digits[:10])  # warm both paths
                service(api, store, heavy_ep, photos[:8])
                service(api, store, mid_ep, pictures[:16])
                for label, ep, model, files, scoring, batch in (
                        ("mid ResNet-18 (224x224, ~1.8 GFLOPs/image)", mid_ep, mid, pictures,
                         mid_scoring, 16),
                        ("heavy CNN (640x640, ~8.6 GFLOPs/image)", heavy_ep, heavy, photos,
                         models.heavy_scoring(), 8),
                        ("light (digits logistic regression)", light_ep, light, digits,
                         models.DIGITS_SCORING, 100)):
                    a = min(service(api, store, ep, files) for _ in range(args.repeats))
                    b = min(baseline(model, files, scoring, batch, tmp)
                            for _ in range(args.repeats))
                    rows.append((label, len(files), a, b))
                latencies = [service(api, store, light_ep, digits[:10]) for _ in range(5)]
    finally:
        server.stop()
    print(f"\n{'workload':<42} {'files':>6} {'service/s':>10} {'script/s':>10} "
          f"{'service files/s':>16} {'script files/s':>15} {'ratio b/a':>9}")
    for label, n, a, b in rows:
        print(f"{label:<42} {n:>6} {a:>10.2f} {b:>10.2f} {n / a:>16.1f} {n / b:>15.1f} "
              f"{b / a:>9.2f}")
    print(f"\n10-file job, warm host, invoke -> Completed: median "
          f"{statistics.median(latencies):.2f} s (min {min(latencies):.2f}, "
          f"max {max(latencies):.2f}) over {len(latencies)} jobs")
    print("ratio b/a = script time / service time (1.00 = as fast as the script; "
          "> 0.90 meets the 'within 10%' target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
