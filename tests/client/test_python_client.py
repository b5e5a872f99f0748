"""The Python client against the real host: azure-ai-ml's shapes, pollers, errors, paging."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from azure.core.credentials import AccessToken, AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError

import client
from client import (
    BatchClient,
    BatchDeployment,
    BatchEndpoint,
    BatchJob,
    DocumentError,
    JobFailedError,
    load_batch_deployment,
    load_batch_endpoint,
)
from samples import data


def test_public_surface():
    assert client.__all__ == [
        "BatchClient", "BatchDeployment", "BatchEndpoint", "BatchJob", "Data", "Datastore",
        "DocumentError", "Input", "JobFailedError", "Model", "load_batch_deployment",
        "load_batch_endpoint", "load_data", "load_datastore", "load_model"]
    ops = BatchClient("http://127.0.0.1:1/api", "k")
    for group, verbs in {
        "batch_endpoints": ("get", "list", "begin_create_or_update", "begin_delete", "invoke",
                            "list_jobs"),
        "batch_deployments": ("get", "list", "begin_create_or_update", "begin_delete",
                              "list_jobs"),
        "jobs": ("get", "list", "stream", "download", "begin_cancel", "begin_retry", "retry"),
        "models": ("get", "list", "create_or_update", "delete"),
        "datastores": ("get", "list", "create_or_update", "delete"),
        "data": ("get", "list", "create_or_update", "delete"),
    }.items():
        assert all(callable(getattr(getattr(ops, group), v)) for v in verbs), group
    assert not hasattr(client, "BatchEndpointsClient")


def test_load_yaml_like_azure_ai_ml(examples, tmp_path):
    ex = examples / "mnist-classifier"
    endpoint = load_batch_endpoint(ex / "endpoint.yml", params_override=[{"name": "x"}])
    assert isinstance(endpoint, BatchEndpoint) and endpoint.name == "x"
    assert endpoint.extra == {"$schema": endpoint.extra["$schema"]}  # carried as written
    deployment = load_batch_deployment(ex / "deployment-onnx" / "deployment.yml",
                                       params_override=[{"settings.mini_batch_size": 3}])
    assert deployment.settings["mini_batch_size"] == 3
    assert deployment.model["path"] == str((ex / "deployment-onnx" / "model").resolve())
    (tmp_path / "bad.yml").write_text("name: a\n  b: c\n")
    with pytest.raises(DocumentError, match=r"bad.yml:2:4: invalid YAML"):
        load_batch_endpoint(tmp_path / "bad.yml")
    with pytest.raises(DocumentError, match="expected a YAML mapping"):
        (tmp_path / "list.yml").write_text("- a\n")
        load_batch_endpoint(tmp_path / "list.yml")


def test_endpoint_deployment_job_lifecycle(ml, examples, store, tmp_path):
    ex = examples / "mnist-classifier"
    name = "py-" + uuid.uuid4().hex[:5]
    poller = ml.batch_endpoints.begin_create_or_update(
        load_batch_endpoint(ex / "endpoint.yml", params_override=[{"name": name}]))
    assert poller.done() and poller.status() == "succeeded"
    assert poller.result().scoring_uri.endswith(f"/endpoints/{name}/jobs")
    deployment = load_batch_deployment(ex / "deployment-onnx" / "deployment.yml",
                                       params_override=[{"endpoint_name": name}])
    first = ml.batch_deployments.begin_create_or_update(deployment).result()
    again = ml.batch_deployments.begin_create_or_update(deployment).result()
    assert isinstance(first, BatchDeployment)
    assert first.model == again.model  # same bytes: the registered version is reused
    assert [d.name for d in ml.batch_deployments.list(name)] == ["mnist-onnx-dpl"]
    assert ml.batch_endpoints.get(name).defaults == {"deployment_name": "mnist-onnx-dpl"}

    job = ml.batch_endpoints.invoke(name, input=str(ex / "sample"))  # uploaded first
    assert isinstance(job, BatchJob) and "/LocalUpload/" in job.inputs["input_data"]["path"]
    seen = []
    done = ml.jobs.stream(job.name, on_progress=seen.append, interval=0.1)
    assert done.status == "Completed" and seen[-1].status == "Completed"
    assert done.progress["items"] == {"succeeded": 20, "failed": 0, "canceled": 0}
    (score,) = ml.jobs.download(job.name, output_name="score", download_path=tmp_path)
    assert score == tmp_path / "named-outputs" / "score" / "predictions.csv"
    assert len(score.read_text().splitlines()) == 21
    assert job.name in [j.name for j in ml.batch_endpoints.list_jobs(name)]
    assert job.name in [j.name for j in ml.batch_deployments.list_jobs(name, "mnist-onnx-dpl")]
    assert job.name in [j.name for j in ml.jobs.list(status="Completed")]

    folder = uuid.uuid4().hex
    for n, blob, _ in data.digit_pngs(60):
        store.container("workspaceblobstore").upload_blob(f"{folder}/{n}", blob)
    slow = ml.batch_endpoints.invoke(
        name, input=f"azureml://datastores/workspaceblobstore/paths/{folder}",
        mini_batch_size=1, instance_count=1)
    cancel = ml.jobs.begin_cancel(slow.name, interval=0.1)
    cancel.wait(timeout=120)
    assert cancel.done() and cancel.status() == "Canceled"
    assert cancel.result().status == "Canceled"
    with pytest.raises(JobFailedError, match="ended Canceled"):
        ml.jobs.stream(slow.name)

    ml.batch_endpoints.begin_delete(name).result()
    with pytest.raises(ResourceNotFoundError) as err:
        ml.batch_endpoints.get(name)
    assert err.value.message == f"batch endpoint {name} not found"


def test_retry_of_failed_items(ml, store, examples):
    name = "rt-" + uuid.uuid4().hex[:5]
    ex = examples / "mnist-classifier"
    ml.batch_endpoints.begin_create_or_update(BatchEndpoint(name=name)).result()
    ml.batch_deployments.begin_create_or_update(load_batch_deployment(
        ex / "deployment-onnx" / "deployment.yml", params_override=[{"endpoint_name": name}])
    ).result()
    folder = uuid.uuid4().hex
    store.container("workspaceblobstore").upload_blob(f"{folder}/bad.png", data.CORRUPT_PNG)
    store.container("workspaceblobstore").upload_blob(f"{folder}/ok.png",
                                                      data.digit_pngs(1)[0][1])
    job = ml.batch_endpoints.invoke(name, input=f"workspaceblobstore/{folder}")
    assert ml.jobs.stream(job.name).progress["items"]["failed"] == 1
    retried = ml.jobs.begin_retry(job.name, interval=0.1).result(timeout=120)
    assert retried.name != job.name and retried.extra["retry_of"] == job.name
    assert retried.progress["items"] == {"succeeded": 0, "failed": 1, "canceled": 0}
    assert retried.status == "Failed"  # no item succeeded
    assert ml.jobs.get(job.name).extra["retried_by"] == retried.name


def test_key_credential_and_auth_errors(service):
    with BatchClient(service.api, AzureKeyCredential(service.function_key)) as ok:
        assert ok.datastores.get_default().name == "workspaceblobstore"
    with BatchClient(service.api, AzureKeyCredential("wrong")) as bad, \
            pytest.raises(ClientAuthenticationError):
        bad.datastores.list().next()


class _Pages(BaseHTTPRequestHandler):
    """A real server answering list routes in pages, as the service's paged lists do."""

    def do_PUT(self):  # a create that accepted fields it does not use, and says so
        self.rfile.read(int(self.headers["content-length"]))
        self._send({"name": "x", "warnings": [
            {"target": "compute", "message": "ignored: the Functions app scales itself"},
            "environment: ignored"]})

    def do_GET(self):
        self.server.auth.append((self.headers.get("authorization"),
                                 self.headers.get("x-functions-key")))
        base = f"http://127.0.0.1:{self.server.server_port}/api"
        pages = {"/api/endpoints": {"value": [{"name": "a"}], "nextLink":
                                    f"{base}/endpoints?page=2"},
                 "/api/endpoints?page=2": {"value": [{"name": "b"}], "nextLink": None},
                 "/api/datastores": [{"name": "bare"}]}
        self._send(pages[self.path])

    def _send(self, doc):
        body = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def pages():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    server.auth = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/api", server.auth
    server.shutdown()


def test_paging_follows_next_link_and_takes_bare_lists(pages):
    with BatchClient(pages[0], "k") as paged:
        assert [e.name for e in paged.batch_endpoints.list()] == ["a", "b"]
        assert [len(list(p)) for p in paged.batch_endpoints.list().by_page()] == [1, 1]
        assert [d.name for d in paged.datastores.list()] == ["bare"]


def test_the_cli_prints_the_services_warnings(bep, pages):
    result = bep.run("batch-endpoint", "create", "-n", "x", "--url", pages[0])
    assert result.stderr.splitlines() == [
        "warning: compute: ignored: the Functions app scales itself",
        "warning: environment: ignored"]
    assert json.loads(result.stdout) == {"name": "x"}


class _Token:
    """A TokenCredential (what DefaultAzureCredential is) handing out a fixed token."""

    def __init__(self):
        self.scopes = []

    def get_token(self, *scopes, **kwargs):
        self.scopes += scopes
        return AccessToken("entra-token", int(time.time()) + 3600)


def test_a_token_credential_sends_an_entra_bearer_token(pages):
    url, seen = pages
    token = _Token()
    with BatchClient(url, token) as aad:
        assert [d.name for d in aad.datastores.list()] == ["bare"]
    with BatchClient(url, (AzureKeyCredential("k"), token)) as both:
        assert [d.name for d in both.datastores.list()] == ["bare"]
    assert seen == [("Bearer entra-token", None), ("Bearer entra-token", "k")]
    assert set(token.scopes) == {"https://ml.azure.com/.default"}
