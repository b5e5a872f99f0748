"""The real azure-ai-ml SDK invokes our endpoint unchanged. Only its ARM look-ups (the
endpoint's scoring URI, the deployments' names) are answered from our own API, since there
is no workspace; the body, headers and answer parsing are the SDK's own.

The SDK sends its credential's token as `Authorization: Bearer`. The Functions host checks
function keys before our code runs and reads them only from `x-functions-key` or `?code=`,
so the key goes in azure-core's standard `headers=` client option (docs/api.md).
"""

from __future__ import annotations

import uuid
import warnings
from types import SimpleNamespace

import httpx
import pytest
from azure.core.credentials import AccessToken

from samples import data
from tests.e2e.conftest import output

with warnings.catch_warnings():  # the SDK's schemas raise marshmallow 4 notices on import
    warnings.simplefilter("ignore")
    from azure.ai.ml import Input, MLClient
    from azure.ai.ml.entities import BatchJob
    from azure.ai.ml.operations import _batch_endpoint_operations as sdk_invoke

pytestmark = pytest.mark.filterwarnings("ignore::Warning:azure.ai.ml.*")


class FixedToken:
    def get_token(self, *scopes, **kwargs) -> AccessToken:
        return AccessToken("not-an-entra-token", 2**31 - 1)


@pytest.fixture(scope="module")
def ml_client(service, api):
    client = MLClient(FixedToken(), "sub", "rg", "ws",
                      headers={"x-functions-key": service.function_key})
    ops = client.batch_endpoints

    def endpoint(endpoint_name, **kwargs):
        uri = api.batch_endpoints.get(endpoint_name).scoring_uri
        return SimpleNamespace(properties=SimpleNamespace(scoring_uri=uri))

    def deployments(endpoint_name, cls, **kwargs):
        found = api.batch_deployments.list(endpoint_name)
        return cls([SimpleNamespace(name=d.name) for d in found])

    ops._batch_operation.get = endpoint
    ops._batch_deployment_operation.list = deployments
    return client


def test_sdk_invoke_runs_with_its_overrides(ml_client, api, store, digits_endpoint,
                                            monkeypatch):
    folder = f"sdk-{uuid.uuid4().hex[:8]}"
    for name, blob, _ in data.digit_pngs(5):
        store.container("workspaceblobstore").upload_blob(f"{folder}/{name}", blob)
    request_id = uuid.uuid4()
    monkeypatch.setattr(sdk_invoke.uuid, "uuid4", lambda: request_id)  # a retried call
    invoke = dict(
        endpoint_name=digits_endpoint, deployment_name="green",
        input=Input(type="uri_folder",
                    path=f"azureml://datastores/workspaceblobstore/paths/{folder}"),
        params_override=[{"mini_batch_size": "2"}, {"output_file_name": "x.csv"}])
    job = ml_client.batch_endpoints.invoke(**invoke)
    assert isinstance(job, BatchJob) and job.name.startswith("batchjob-")
    assert job.status in ("Queued", "Preparing", "Running", "Completed")
    again = ml_client.batch_endpoints.invoke(**invoke)
    assert again.name == job.name  # the same repeatability_request-id: the same job

    done = api.jobs.stream(job.name, timeout=120)
    assert done.deployment_name == "green"
    assert done.extra["settings"]["mini_batch_size"] == 2
    assert done.progress["mini_batches"]["total"] == 3
    assert done.outputs["score"]["path"].endswith("/x.csv")
    assert len(output(api, job.name).decode().splitlines()) == 6


def test_sdk_invoke_with_named_inputs_a_literal_and_a_set_override(ml_client, api, store,
                                                                   digits_endpoint):
    folder = f"sdk-lit-{uuid.uuid4().hex[:8]}"
    for name, blob, _ in data.digit_pngs(3):
        store.container("workspaceblobstore").upload_blob(f"{folder}/{name}", blob)
    job = ml_client.batch_endpoints.invoke(
        endpoint_name=digits_endpoint, inputs={
            "images": Input(type="uri_folder",
                            path=f"azureml://datastores/workspaceblobstore/paths/{folder}"),
            "threshold": Input(type="number", default=0.5)},
        params_override=[{"retry_settings.max_retries": 1}])
    done = api.jobs.stream(job.name, timeout=120)
    assert done.status == "Completed"
    assert done.inputs["threshold"] == {"type": "number", "value": 0.5}
    assert done.extra["settings"]["retry_settings"]["max_retries"] == 1
    assert len(output(api, job.name).decode().splitlines()) == 4


def test_rest_shaped_invoke_answers_200_without_nulls(service, api, store, digits_endpoint):
    folder = f"rest-{uuid.uuid4().hex[:8]}"
    for name, blob, _ in data.digit_pngs(2):
        store.container("workspaceblobstore").upload_blob(f"{folder}/{name}", blob)
    body = {"properties": {"InputData": {"images": {
        "JobInputType": "UriFolder", "Uri": f"workspaceblobstore/{folder}"}}}}
    headers = {"x-functions-key": service.function_key,
               "Repeatability-Request-ID": str(uuid.uuid4())}
    url = f"{service.api}/endpoints/{digits_endpoint}/jobs"
    first = httpx.post(url, json=body, headers=headers)
    assert first.status_code == 200, first.text
    job = first.json()
    assert "error" not in job and job["properties"]["status"]
    assert httpx.post(url, json=body, headers=headers).json()["name"] == job["name"]
    native = httpx.post(url, headers={"x-functions-key": service.function_key}, json={
        "inputs": {"images": {"path": f"workspaceblobstore/{folder}"}}})
    assert native.status_code == 202 and native.headers["location"].endswith(
        native.json()["name"])
    api.jobs.stream(job["name"], timeout=60)


def test_job_lists_page_and_filter(service, api, digits_endpoint):
    """After the jobs above: one job a page, following nextLink; filters in the query."""
    headers = {"x-functions-key": service.function_key}
    url, seen = f"{service.api}/endpoints/{digits_endpoint}/jobs?$top=1", []
    while url:
        page = httpx.get(url, headers=headers).json()
        assert len(page["value"]) <= 1
        seen += [j["name"] for j in page["value"]]
        url = page.get("nextLink")
    assert len(seen) == len(set(seen)) >= 3
    completed = [j.name for j in api.batch_endpoints.list_jobs(digits_endpoint,
                                                               status="Completed")]
    on_green = httpx.get(f"{service.api}/endpoints/{digits_endpoint}/jobs", headers=headers,
                         params={"deployment": "green", "status": "Completed"}).json()["value"]
    assert on_green and all(j["deployment_name"] == "green" and j["status"] == "Completed"
                            for j in on_green)
    assert {j["name"] for j in on_green} <= set(completed) <= set(seen)
