"""The demo behind `scripts/run`: from nothing to predictions through the public API.

Builds sample models (scikit-learn's bundled digits; nothing downloaded), registers them,
creates an endpoint with two deployments, uploads sample images (plus one corrupt file),
invokes a job on the default deployment, follows it, and prints what came out.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from pathlib import Path

from azure.core.exceptions import ResourceExistsError

from client import BatchClient, Model, load_batch_deployment, load_batch_endpoint
from samples import data, models
from shared.storage.clients import Storage

ENDPOINT = "digits-batch"
SAMPLES = Path(".samples")


def say(text: str) -> None:
    print(f"==> {text}", flush=True)


def register(api: BatchClient, name: str, version: str, onnx: bytes) -> None:
    SAMPLES.mkdir(exist_ok=True)
    path = SAMPLES / f"{name}.onnx"
    path.write_bytes(onnx)
    try:
        model = api.models.create_or_update(Model(name=name, version=version, path=str(path)))
        say(f"registered model {model.id} (sha256 {model.sha256[:12]}…, "
            f"inputs {[i['name'] for i in model.extra['signature']['inputs']]})")
    except ResourceExistsError:
        say(f"model {name}:{version} is already registered")


def put(api: BatchClient, endpoint: str, deployment: str | None = None, **fields):
    """Create or update the endpoint (or one of its deployments) from document fields."""
    if deployment is None:
        doc = load_batch_endpoint(params_override=[{"name": endpoint, **fields}])
        return api.batch_endpoints.begin_create_or_update(doc).result()
    doc = load_batch_deployment(params_override=[{"name": deployment,
                                                  "endpoint_name": endpoint, **fields}])
    return api.batch_deployments.begin_create_or_update(doc).result()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--files", type=int, default=100)
    args = parser.parse_args(argv)
    storage = Storage.from_connection_string(
        os.environ.get("AzureWebJobsStorage", "UseDevelopmentStorage=true"))
    with BatchClient(args.url, args.key) as api:
        say("building sample models from scikit-learn's bundled digits dataset")
        register(api, "digits", "1", models.digits_classifier())
        register(api, "digits-forest", "1", models.digits_forest())
        put(api, ENDPOINT, description="handwritten digits (8x8 images) scored in batches")
        for name, model in (("logreg", "azureml:digits:1"),
                            ("forest", "azureml:digits-forest:1")):
            put(api, ENDPOINT, name, model=model, scoring=models.DIGITS_SCORING,
                resources={"instance_count": 2},
                settings={"mini_batch_size": 10, "output_file_name": "predictions.csv"})
        endpoint = put(api, ENDPOINT, defaults={"deployment_name": "logreg"})
        say(f"endpoint {ENDPOINT}: deployments logreg (default) and forest; "
            f"invoke at {endpoint.scoring_uri}")

        folder = "demo/digits"
        container = storage.container("workspaceblobstore")
        for name, blob, _ in data.digit_pngs(args.files):
            container.upload_blob(f"{folder}/{name}", blob, overwrite=True)
        container.upload_blob(f"{folder}/zz-corrupt.png", b"this is not a PNG", overwrite=True)
        say(f"uploaded {args.files} PNG digits + 1 corrupt file to "
            f"azureml://datastores/workspaceblobstore/paths/{folder}")

        started = time.monotonic()
        job = api.batch_endpoints.invoke(
            ENDPOINT, input=f"azureml://datastores/workspaceblobstore/paths/{folder}")
        say(f"job {job.name} accepted ({job.status}) in "
            f"{(time.monotonic() - started) * 1000:.0f} ms")
        last = ""

        def progress(j) -> None:
            nonlocal last
            p = j.progress
            line = (f"    {j.status:<10} mini-batches {p['mini_batches']['succeeded']}"
                    f"/{p['mini_batches']['total'] or '?'}  items ok "
                    f"{p['items']['succeeded']} failed {p['items']['failed']}")
            if line != last:
                print(line, flush=True)
                last = line

        done = api.jobs.stream(job.name, timeout=300, interval=0.1, on_progress=progress)
        say(f"job {done.status} in {time.monotonic() - started:.2f} s")
        outputs = {path.parent.name: path for path in api.jobs.download(
            done.name, download_path=SAMPLES / "outputs" / done.name, all=True)}
        summary = json.loads(outputs["summary"].read_text())
        print(json.dumps({k: summary[k] for k in ("status", "deployment_name", "model",
                                                  "mini_batches", "items")}, indent=2))
        predictions = list(csv.reader(io.StringIO(outputs["score"].read_text())))
        say("first predictions (file_name, row, prediction, probability, …):")
        for row in predictions[:6]:
            print("    " + ",".join(row[:4]))
        errors = outputs["errors"].read_text().strip().splitlines()
        say(f"errors file: {len(errors) - 1} failed item(s)")
        for line in errors[1:3]:
            print(f"    {line}")
        say(f"outputs: {done.outputs['score']['path']} (+ errors.csv, job_summary.json); "
            f"downloaded to {outputs['score'].parent.parent}")
        say(f"download: .venv/bin/bep job download --name {done.name} --output-name score")
    return 0


if __name__ == "__main__":
    sys.exit(main())
