"""`python -m client`: the batch endpoints CLI, with `az ml batch-endpoint`'s verbs and flags.

Documents (endpoint.yml, deployment.yml) are the Azure ML YAML with the ONNX `scoring`
section. The service URL and key come from --url/--key, BATCH_ENDPOINTS_URL/KEY, or the
local host's key file (.devhost/keys.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from client.batch_client import ApiError, BatchEndpointsClient, JobFailedError

DEFAULT_URL = "http://127.0.0.1:7071/api"


def _client(args: argparse.Namespace) -> BatchEndpointsClient:
    url = args.url or os.environ.get("BATCH_ENDPOINTS_URL") or DEFAULT_URL
    key = args.key or os.environ.get("BATCH_ENDPOINTS_KEY")
    if not key:
        keys = Path(".devhost/keys.json")
        if keys.exists():
            key = json.loads(keys.read_text())["functionKeys"]["default"]
    return BatchEndpointsClient(url, key)


def _load(path: str) -> dict[str, Any]:
    doc = yaml.safe_load(Path(path).read_text())
    if not isinstance(doc, dict):
        raise SystemExit(f"{path}: expected a YAML mapping")
    return doc


def _set(doc: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """Apply `--set a.b=value` like the az CLI (values parsed as YAML scalars)."""
    for item in assignments or []:
        key, _, value = item.partition("=")
        target = doc
        *parents, leaf = key.split(".")
        for p in parents:
            target = target.setdefault(p, {})
        target[leaf] = yaml.safe_load(value)
    return doc


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m client", description=__doc__)
    parser.add_argument("--url")
    parser.add_argument("--key")
    groups = parser.add_subparsers(dest="group", required=True)

    model = groups.add_parser("model").add_subparsers(dest="verb", required=True)
    p = model.add_parser("create")
    p.add_argument("--name", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--path", required=True, help="local .onnx file or azureml://... blob")
    p.add_argument("--description", default="")

    endpoint = groups.add_parser("endpoint").add_subparsers(dest="verb", required=True)
    for verb in ("create", "update"):
        p = endpoint.add_parser(verb)
        p.add_argument("--file")
        p.add_argument("--name")
        p.add_argument("--set", action="append")
    for verb in ("show", "delete", "list-jobs"):
        endpoint.add_parser(verb).add_argument("--name", required=True)
    endpoint.add_parser("list")
    p = endpoint.add_parser("invoke")
    p.add_argument("--name", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--input-type", default="uri_folder", choices=["uri_folder", "uri_file"])
    p.add_argument("--deployment-name", "-d")
    p.add_argument("--output-path")
    p.add_argument("--mini-batch-size", type=int)
    p.add_argument("--instance-count", type=int)
    p.add_argument("--job-name")
    p.add_argument("--set", action="append", help="per-job override, e.g. output_file_name=x.csv")
    p.add_argument("--stream", action="store_true", help="wait for the job and show progress")

    deployment = groups.add_parser("deployment").add_subparsers(dest="verb", required=True)
    for verb in ("create", "update"):
        p = deployment.add_parser(verb)
        p.add_argument("--file", required=True)
        p.add_argument("--endpoint-name")
        p.add_argument("--set", action="append")
    for verb in ("show", "delete"):
        p = deployment.add_parser(verb)
        p.add_argument("--name", required=True)
        p.add_argument("--endpoint-name", required=True)

    job = groups.add_parser("job").add_subparsers(dest="verb", required=True)
    for verb in ("show", "stream", "cancel", "logs"):
        job.add_parser(verb).add_argument("--name", required=True)
    p = job.add_parser("download")
    p.add_argument("--name", required=True)
    p.add_argument("--output-name", default="score")
    p.add_argument("--download-path", default=".")

    args = parser.parse_args(argv)
    try:
        with _client(args) as client:
            return _run(client, args)
    except ApiError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except JobFailedError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _run(client: BatchEndpointsClient, args: argparse.Namespace) -> int:
    g, v = args.group, args.verb
    if g == "model":
        if args.path.startswith("azureml://"):
            _print(client.create_model(args.name, args.version, datastore_path=args.path,
                                       description=args.description))
        else:
            _print(client.create_model(args.name, args.version, args.path,
                                       description=args.description))
    elif g == "endpoint" and v in ("create", "update"):
        doc = _set(_load(args.file) if args.file else {}, args.set)
        name = args.name or doc.get("name")
        if not name:
            raise SystemExit("endpoint name: give --name or name: in the file")
        if v == "update" and not args.file:
            doc = {**client.get_endpoint(name), **doc}
            doc = _set(doc, args.set)
            doc.pop("scoring_uri", None)
        _print(client.create_or_update_endpoint(name, doc))
    elif g == "endpoint" and v == "show":
        _print(client.get_endpoint(args.name))
    elif g == "endpoint" and v == "list":
        _print(client.list_endpoints())
    elif g == "endpoint" and v == "delete":
        client.delete_endpoint(args.name)
    elif g == "endpoint" and v == "list-jobs":
        _print(client.list_jobs(args.name))
    elif g == "endpoint" and v == "invoke":
        overrides = _set({}, args.set)
        job = client.invoke(args.name, args.input, input_type=args.input_type,
                            deployment_name=args.deployment_name, output_path=args.output_path,
                            mini_batch_size=args.mini_batch_size,
                            instance_count=args.instance_count, job_name=args.job_name,
                            **overrides)
        if args.stream:
            job = client.wait(job["name"], on_progress=_progress)
        _print(job)
    elif g == "deployment" and v in ("create", "update"):
        doc = _set(_load(args.file), args.set)
        endpoint = args.endpoint_name or doc.get("endpoint_name")
        _print(client.create_or_update_deployment(endpoint, doc["name"], doc))
    elif g == "deployment" and v == "show":
        _print(client._call("GET", f"/endpoints/{args.endpoint_name}/deployments/"
                            f"{args.name}").json())
    elif g == "deployment" and v == "delete":
        client.delete_deployment(args.endpoint_name, args.name)
    elif g == "job" and v == "show":
        _print(client.get_job(args.name))
    elif g == "job" and v == "stream":
        _print(client.wait(args.name, on_progress=_progress))
    elif g == "job" and v == "cancel":
        _print(client.cancel_job(args.name))
    elif g == "job" and v == "logs":
        print(client.job_logs(args.name), end="")
    elif g == "job" and v == "download":
        target = Path(args.download_path) / "named-outputs" / args.output_name
        target.mkdir(parents=True, exist_ok=True)
        job = client.get_job(args.name)
        file_name = {"score": job["outputs"]["score"]["path"].rsplit("/", 1)[-1],
                     "errors": "errors.csv", "summary": "job_summary.json"}[args.output_name]
        (target / file_name).write_bytes(client.download(args.name, args.output_name))
        print(target / file_name)
    return 0


_last: dict[str, str] = {}


def _progress(job: dict[str, Any]) -> None:
    p = job["progress"]["mini_batches"]
    line = (f"{job['status']}: mini-batches {p['succeeded'] + p['failed'] + p['canceled']}/"
            f"{p['total'] if p['total'] is not None else '?'} "
            f"(items ok {job['progress']['items']['succeeded']}, "
            f"failed {job['progress']['items']['failed']})")
    if _last.get(job["name"]) != line:
        _last[job["name"]] = line
        print(line, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
