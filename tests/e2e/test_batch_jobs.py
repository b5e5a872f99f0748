"""Batch endpoints end to end over HTTP through the local host (issue: core)."""

from __future__ import annotations

import csv
import io
import json
import uuid

import httpx
import numpy as np
import onnxruntime as ort
import pytest
from azure.core.exceptions import HttpResponseError

from client import Model
from devhost.testing import wait_for
from samples import data, models
from tests.e2e.conftest import output, put_deployment, put_endpoint, register


def upload(store, folder, files, container="workspaceblobstore"):
    c = store.container(container)
    for name, blob in files:
        c.upload_blob(f"{folder}/{name}", blob, overwrite=True)
    return f"azureml://datastores/workspaceblobstore/paths/{folder}"


def rows(text: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text.decode())))


def test_images_end_to_end_match_onnxruntime(api, store, digits_endpoint):
    files = data.digit_pngs(23)
    path = upload(store, uuid.uuid4().hex, [(n, b) for n, b, _ in files])
    job = api.batch_endpoints.invoke(digits_endpoint, input=path)
    assert job.status in ("Queued", "Preparing", "Running")  # invoke does not wait for the job
    assert job.extra["properties"]["status"] == job.status
    done = api.jobs.stream(job.name, timeout=120)
    assert done.deployment_name == "blue"
    assert done.progress["mini_batches"] == {"total": 5, "planned": 5, "succeeded": 5,
                                                "failed": 0, "canceled": 0, "pending": 0}
    out = rows(output(api, job.name, "score"))
    session = ort.InferenceSession(models.digits_classifier(),
                                   providers=["CPUExecutionProvider"])
    want = session.run(None, {"X": np.stack([x for _, _, x in files])})[0]
    assert [r["file_name"] for r in out] == [n for n, _, _ in files]
    assert [int(r["prediction"]) for r in out] == [int(v) for v in want]
    summary = json.loads(output(api, job.name, "summary"))
    assert summary["model"]["sha256"] and summary["items"] == {"succeeded": 23, "failed": 0,
                                                            "canceled": 0}
    assert "Mini-batches: 5 total" in api.jobs.get_logs(job.name)


def test_rest_body_invoke_answers_200_with_location(service, api, store, digits_endpoint):
    files = data.digit_pngs(3)
    folder = uuid.uuid4().hex
    upload(store, folder, [(n, b) for n, b, _ in files])
    body = {"properties": {"InputData": {"images": {
        "JobInputType": "UriFolder", "Uri": f"workspaceblobstore/{folder}"}}}}
    r = httpx.post(f"{service.api}/endpoints/{digits_endpoint}/jobs", json=body, headers={
        "x-functions-key": service.function_key, "azureml-model-deployment": "green"})
    assert r.status_code == 200  # as Azure ML answers its REST invoke
    job = r.json()
    assert r.headers["location"].endswith(f"/api/jobs/{job['name']}")
    assert job["deployment_name"] == "green"
    # an AML REST script polls .properties.status
    final = wait_for(lambda: (j := httpx.get(r.headers["location"], headers={
        "x-functions-key": service.function_key}).json())["properties"]["status"] in (
        "Completed", "Failed") and j, 60, message="job end")
    assert final["properties"]["status"] == "Completed"


def test_tabular_overrides_and_output_path(api, store):
    name = "tab-" + uuid.uuid4().hex[:6]
    register(api, "diabetes-e2e", name, models.diabetes_regressor())
    put_endpoint(api, name)
    put_deployment(api, name, "gbr", {
        "model": f"diabetes-e2e:{name}", "scoring": models.DIABETES_SCORING,
        "mini_batch_size": 10})  # AML's legacy root-level layout
    folder = uuid.uuid4().hex
    path = upload(store, folder, [("a.csv", data.diabetes_csv(30)),
                                  ("b.csv", data.diabetes_csv(12))])
    out = f"azureml://datastores/workspaceblobstore/paths/results/{folder}"
    job = api.batch_endpoints.invoke(name, input=path, output_path=out,
                                     output_file_name="scores.csv", mini_batch_size=1)
    done = api.jobs.stream(job.name, timeout=60)
    assert done.outputs["score"]["path"].endswith(f"results/{folder}/scores.csv")
    assert done.progress["items"] == {"succeeded": 42, "failed": 0, "canceled": 0}
    out_rows = rows(output(api, job.name))
    assert [(r["file_name"], r["row"]) for r in out_rows][:2] == [("a.csv", "0"), ("a.csv", "1")]
    assert len(out_rows) == 42 and out_rows[-1]["file_name"] == "b.csv"


def test_repeatability_request_id_returns_the_same_job(api, store, digits_endpoint):
    path = upload(store, uuid.uuid4().hex, [(n, b) for n, b, _ in data.digit_pngs(2)])
    rid = str(uuid.uuid4())
    first = api.batch_endpoints.invoke(digits_endpoint, input=path, repeatability_request_id=rid)
    second = api.batch_endpoints.invoke(digits_endpoint, input=path, repeatability_request_id=rid)
    assert first.name == second.name
    api.jobs.stream(first.name, timeout=60)


def test_cancel_through_the_api(api, store, digits_endpoint):
    # 300 one-file mini-batches one at a time take seconds; the cancel lands in milliseconds
    path = upload(store, uuid.uuid4().hex, [(n, b) for n, b, _ in data.digit_pngs(300)])
    job = api.batch_endpoints.invoke(digits_endpoint, input=path, mini_batch_size=1,
                                     instance_count=1)
    api.jobs.begin_cancel(job.name)
    done = api.jobs.stream(job.name, timeout=120, raise_on_failure=False)
    assert done.status == "Canceled", done.error
    p = done.progress["mini_batches"]
    assert p["succeeded"] + p["canceled"] == p["total"] and p["succeeded"] < 300


def test_killed_worker_loses_and_duplicates_nothing(service, api, store):
    name = "heavy-" + uuid.uuid4().hex[:6]
    register(api, "cnn-e2e", name, models.heavy_cnn(96))
    put_endpoint(api, name)
    put_deployment(api, name, "cnn", {
        "model": f"cnn-e2e:{name}", "scoring": models.heavy_scoring(96),
        "settings": {"mini_batch_size": 4, "max_concurrency_per_instance": 2}})
    photos = data.photos(40, size=96)
    path = upload(store, uuid.uuid4().hex, photos)
    job = api.batch_endpoints.invoke(name, input=path)
    wait_for(lambda: api.jobs.get(job.name).progress["mini_batches"]["succeeded"] >= 1,
             60, message="the first mini-batch")
    service.kill_worker(0)
    done = api.jobs.stream(job.name, timeout=180)
    out = rows(output(api, job.name))
    assert [r["file_name"] for r in out] == [n for n, _ in photos]
    assert done.progress["items"]["succeeded"] == 40


def test_endpoint_delete_keeps_jobs_and_outputs(api, store):
    name = "gone-" + uuid.uuid4().hex[:6]
    register(api, "digits-gone", name, models.digits_classifier())
    put_endpoint(api, name)
    put_deployment(api, name, "only", {"model": f"digits-gone:{name}",
                                                   "scoring": models.DIGITS_SCORING})
    with pytest.raises(HttpResponseError) as err:
        api.batch_deployments.begin_delete("only", name).result()
    assert err.value.status_code == 409
    path = upload(store, uuid.uuid4().hex, [(n, b) for n, b, _ in data.digit_pngs(2)])
    job = api.batch_endpoints.invoke(name, input=path)
    api.jobs.stream(job.name, timeout=60)
    api.batch_endpoints.begin_delete(name).result()
    with pytest.raises(HttpResponseError):
        api.batch_endpoints.get(name)
    assert api.jobs.get(job.name).status == "Completed"
    assert len(rows(output(api, job.name))) == 2


@pytest.mark.parametrize("method, route, body, status, target", [
    ("PUT", "/endpoints/ab", {}, 400, "name"),
    ("PUT", "/endpoints/x_bad_name", {}, 400, "name"),
    ("GET", "/endpoints/does-not-exist", None, 404, None),
    ("GET", "/jobs/nope-nope", None, 404, None),
    ("PUT", "/endpoints/ok-name", {"auth_mode": "magic"}, 400, "auth_mode"),
])
def test_clear_4xx(service, method, route, body, status, target):
    r = httpx.request(method, f"{service.api}{route}", json=body,
                      headers={"x-functions-key": service.function_key})
    assert r.status_code == status
    error = r.json()["error"]
    assert error["message"]
    if target:
        assert error["target"] == target


def test_bad_model_bytes_and_bad_inputs(service, api, digits_endpoint):
    r = httpx.put(f"{service.api}/models/junk/versions/1", content=b"not onnx",
                  headers={"x-functions-key": service.function_key})
    assert r.status_code == 400 and "ONNX Runtime cannot load" in r.json()["error"]["message"]
    assert httpx.get(f"{service.api}/models/junk/versions/1", headers={
        "x-functions-key": service.function_key}).status_code == 404  # nothing stored
    for path in ("https://example.com/data/", "/etc", "batch-models/x",
                 "azureml://datastores/nope/paths/x"):  # raw: the client uploads local paths
        r = httpx.post(f"{service.api}/endpoints/{digits_endpoint}/jobs",
                       json={"inputs": {"input_data": {"type": "uri_folder", "path": path}}},
                       headers={"x-functions-key": service.function_key})
        assert r.status_code in (400, 404), path
    assert httpx.get(f"{service.api}/endpoints").status_code == 401


def test_default_switched_mid_job_and_job_filters(api, store, digits_endpoint):
    path = upload(store, uuid.uuid4().hex, [(n, b) for n, b, _ in data.digit_pngs(20)])
    job = api.batch_endpoints.invoke(digits_endpoint, input=path, mini_batch_size=1,
                                     instance_count=1)
    put_endpoint(api, digits_endpoint, {"defaults": {"deployment_name": "green"}})
    try:
        done = api.jobs.stream(job.name, timeout=120)
    finally:
        put_endpoint(api, digits_endpoint,
                                      {"defaults": {"deployment_name": "blue"}})
    assert done.deployment_name == "blue" and done.model == "azureml:digits-e2e:1"
    blue = api.batch_deployments.list_jobs(digits_endpoint, "blue")
    assert job.name in [j.name for j in blue]
    green = api.batch_deployments.list_jobs(digits_endpoint, "green")
    assert job.name not in [j.name for j in green]
    completed = api.batch_endpoints.list_jobs(digits_endpoint, status="Completed")
    assert job.name in [j.name for j in completed]
    canceled = list(api.batch_endpoints.list_jobs(digits_endpoint, status="Canceled"))
    assert all(j.status == "Canceled" for j in canceled)


def test_max_retries_beyond_max_dequeue_count_through_the_host(api, store):
    """Every attempt runs past retry_settings.timeout; max_retries is beyond the host's
    maxDequeueCount (5), and the service counts the attempts itself: 7 attempts, then the
    mini-batch's files fail (kind `attempts`) and the job, with nothing scored, is Failed."""
    name = "poison-" + uuid.uuid4().hex[:6]
    register(api, "cnn-poison", name, models.heavy_cnn())
    put_endpoint(api, name)
    put_deployment(api, name, "slow", {
        "model": f"cnn-poison:{name}", "scoring": models.heavy_scoring(),
        "settings": {"mini_batch_size": 24,
                     "retry_settings": {"max_retries": 6, "timeout": 1}}})
    path = upload(store, uuid.uuid4().hex, data.photos(24, size=64))
    job = api.batch_endpoints.invoke(name, input=path)
    done = api.jobs.stream(job.name, timeout=240, raise_on_failure=False)
    assert done.status == "Failed" and "no item succeeded" in done.error["message"]
    assert done.progress["mini_batches"]["failed"] == 1
    assert done.progress["items"] == {"succeeded": 0, "failed": 24, "canceled": 0}
    errors = rows(output(api, job.name, "errors"))
    assert len(errors) == 24 and "after 7 attempts" in errors[0]["reason"]
    assert {e["kind"] for e in errors} == {"attempts"}


def test_model_conflict_and_upload_by_path(api, store):
    name = "dup-" + uuid.uuid4().hex[:6]
    register(api, name, "1", models.digits_classifier())
    with pytest.raises(HttpResponseError) as err:
        register(api, name, "1", models.digits_classifier())
    assert err.value.status_code == 409
    store.container("workspaceblobstore").upload_blob(f"models/{name}.onnx",
                                                      models.digits_classifier())
    doc = api.models.create_or_update(Model(name=name, version="2", path=(
        f"azureml://datastores/workspaceblobstore/paths/models/{name}.onnx")))
    assert doc.sha256 == api.models.get(name, "1").sha256
