"""`python -m bench.coldstart`: what a cold start costs — package size, import, first job.

Reports, in one run:
- the installed size of `requirements.txt` and everything it pulls in (read from this
  Linux/Python 3.11 environment's installed files: what a deployment ships), largest first;
- the time to import `function_app` in a fresh process (median of several), and which heavy
  modules that import loads (none should: onnxruntime, pyarrow and Pillow load only in the
  functions that score or read tables);
- a fresh local host (1 worker) on a fresh Azurite: start → ready, then its first 10-file job
  invoke → Completed (imports ONNX Runtime and loads the session on the way), then a second,
  warm job for comparison;
- a fresh worker process on that warm host (the old one killed, as when Azure adds or
  recycles an instance): spawn → serving HTTP → its first mini-batch scored.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from importlib import metadata
from pathlib import Path

import httpx

from devhost import azurite
from devhost.testing import HostProcess, make_project, wait_for
from samples import data, models
from shared.storage.clients import Storage

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("onnxruntime", "pyarrow", "PIL", "numpy", "yaml", "azure.eventgrid")


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0].lower()


def installed_size(requirements: Path) -> list[tuple[str, int]]:
    """(distribution, bytes) for the requirements and their dependencies, largest first."""
    todo = [_name(line) for line in requirements.read_text().splitlines()
            if line.strip() and not line.startswith(("#", "-"))]
    seen: dict[str, int] = {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[name] = sum((f.size or 0) for f in dist.files or [])
        todo += [_name(r) for r in dist.requires or [] if "extra ==" not in r]
    return sorted(seen.items(), key=lambda kv: -kv[1])


def import_time(repeats: int) -> tuple[float, list[str]]:
    script = ("import sys, time; t = time.perf_counter(); import function_app; "
              "print(time.perf_counter() - t); "
              f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    times, loaded = [], []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.splitlines()
        times.append(float(out[0]))
        loaded = [m for m in out[1].split(",") if m]
    return statistics.median(times), loaded


def first_jobs(files: int) -> dict[str, float]:
    server = azurite.start(in_memory=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            project = make_project(Path(tmp) / "app", ROOT / "function_app.py",
                                   server.connection_string, host_json=ROOT / "host.json")
            started = time.perf_counter()
            with HostProcess(project, workers=1) as host:
                ready = time.perf_counter() - started
                headers = {"x-functions-key": host.function_key}
                api = httpx.Client(base_url=host.api, headers=headers, timeout=60)
                version = uuid.uuid4().hex[:8]
                api.put(f"/models/digits/versions/{version}", content=models.digits_classifier(),
                        headers={"content-type": "application/octet-stream"}).raise_for_status()
                api.put("/endpoints/cold", json={}).raise_for_status()
                api.put("/endpoints/cold/deployments/blue", json={
                    "model": f"azureml:digits:{version}", "scoring": models.DIGITS_SCORING,
                    "settings": {"mini_batch_size": files}}).raise_for_status()
                store = Storage.from_connection_string(server.connection_string)
                container = store.container("workspaceblobstore")
                timings = {"host start → ready": ready}
                for label in ("first job (cold worker)", "second job (warm)"):
                    folder = f"cold/{uuid.uuid4().hex[:8]}"
                    for name, blob, _ in data.digit_pngs(files):
                        container.upload_blob(f"{folder}/{name}", blob)
                    t = time.perf_counter()
                    job = api.post("/endpoints/cold/jobs", json={"inputs": {"images": {
                        "type": "uri_folder",
                        "path": f"azureml://datastores/workspaceblobstore/paths/{folder}"}}})
                    job.raise_for_status()
                    name = job.json()["name"]
                    wait_for(lambda name=name: api.get(f"/jobs/{name}").json()["status"] in (
                        "Completed", "Failed"), 300, 0.02, message="the job to end")
                    timings[f"{label}: invoke → Completed"] = time.perf_counter() - t
                timings.update(fresh_worker(host, api, container, files))
                api.close()
                return timings
    finally:
        server.stop()


def fresh_worker(host: HostProcess, api: httpx.Client, container: object,
                 files: int) -> dict[str, float]:
    """A new worker process (as a scale-out instance or a recycled worker is) on a warm
    storage account: from the old one's death to serving, and to its first scored mini-batch."""
    folder = f"cold/{uuid.uuid4().hex[:8]}"
    for name, blob, _ in data.digit_pngs(files):
        container.upload_blob(f"{folder}/{name}", blob)  # type: ignore[attr-defined]
    spawned = time.perf_counter()  # the supervisor notices within 0.2 s and spawns anew
    host.kill_worker(0)

    def invoke() -> httpx.Response | None:
        try:
            r = api.post("/endpoints/cold/jobs", json={"inputs": {"images": {
                "type": "uri_folder",
                "path": f"azureml://datastores/workspaceblobstore/paths/{folder}"}}})
        except httpx.TransportError:
            return None
        return r if r.status_code < 500 and r.status_code != 404 else None

    job = wait_for(invoke, 60, 0.01, message="the new worker to serve")
    serving = time.perf_counter() - spawned
    name = job.json()["name"]
    line = host.wait_for_log(f'"job": "{name}"', timeout=120)
    first = time.perf_counter() - spawned
    phases = json.loads(line.split("mini-batch timing ", 1)[1])
    return {"fresh worker: old one killed → serving HTTP": serving,
            "fresh worker: old one killed → first mini-batch scored": first,
            "  of which that mini-batch (ONNX Runtime import, session load)":
                sum(v for k, v in phases.items() if k not in ("job", "index", "items",
                                                              "queued", "began", "ended"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--imports", type=int, default=5, help="fresh processes to time")
    parser.add_argument("--files", type=int, default=10, help="files in each job")
    args = parser.parse_args(argv)
    sizes = installed_size(ROOT / "requirements.txt")
    total = sum(size for _, size in sizes)
    print(f"requirements.txt installed (Linux, Python {sys.version_info.major}."
          f"{sys.version_info.minor}): {total / 2**20:.0f} MB in {len(sizes)} distributions")
    for name, size in sizes[:8]:
        print(f"  {name:<28} {size / 2**20:>7.1f} MB")
    seconds, loaded = import_time(args.imports)
    print(f"import function_app, fresh process: median {seconds * 1000:.0f} ms over "
          f"{args.imports}; heavy modules loaded by it: {', '.join(loaded) or 'none'}")
    for label, value in first_jobs(args.files).items():
        print(f"{label:<62} {value:6.2f} s")
    print(json.dumps({"installed_mb": round(total / 2**20), "import_ms": round(seconds * 1000),
                      "heavy_loaded": loaded}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
