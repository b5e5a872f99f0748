"""Deployments checked against their model over HTTP, and a ragged CSV scored row by row."""

from __future__ import annotations

import csv
import io
import time
import uuid

import httpx
import pytest
from azure.core.exceptions import HttpResponseError

from samples import data, models
from tests.e2e.conftest import output, put_deployment, put_endpoint, register


@pytest.fixture(scope="module")
def diabetes_endpoint(api):
    name = f"tab-{uuid.uuid4().hex[:6]}"
    register(api, "diabetes-api2", name, models.diabetes_regressor())
    register(api, "digits-check", name, models.digits_classifier())
    put_endpoint(api, name)
    put_deployment(api, name, "gbr", {"model": f"azureml:diabetes-api2:{name}",
                                      "scoring": models.DIABETES_SCORING})
    return name


class Refusal:
    """A 400's error body and message."""

    def __init__(self, response: httpx.Response):
        self.body = response.json()
        self.message = self.body["error"]["message"]

    def __str__(self) -> str:
        return self.message


def refused(host, endpoint: str, model: str, scoring: dict) -> Refusal:
    got = httpx.put(f"{host.api}/endpoints/{endpoint}/deployments/bad",
                    json={"model": f"azureml:{model}", "scoring": scoring},
                    headers={"x-functions-key": host.function_key}, timeout=60)
    assert got.status_code == 400, got.text
    return Refusal(got)


def image(size) -> dict:
    return {**models.DIGITS_SCORING,
            "input": {**models.DIGITS_SCORING["input"], "size": size}}


def test_a_deployment_that_cannot_score_is_a_400_naming_both_shapes(host, api,
                                                                    diabetes_endpoint):
    e = refused(host, diabetes_endpoint, f"digits-check:{diabetes_endpoint}", image([28, 28]))
    assert e.body["error"]["target"] == "scoring.input"
    assert "28x28 L image" in str(e) and "[784]" in str(e) and "[64]" in str(e)
    e = refused(host, diabetes_endpoint, f"diabetes-api2:{diabetes_endpoint}",
                models.DIGITS_SCORING)
    assert "8x8 L image" in str(e) and "[64]" in str(e) and "[10]" in str(e)
    with pytest.raises(HttpResponseError) as missing:  # nothing was stored
        api.batch_deployments.get(endpoint_name=diabetes_endpoint, name="bad")
    assert missing.value.status_code == 404


def test_a_huge_image_size_is_refused_at_once(host, diabetes_endpoint):
    started = time.monotonic()
    e = refused(host, diabetes_endpoint, f"digits-check:{diabetes_endpoint}",
                image([100_000, 100_000]))
    assert e.body["error"]["target"] == "scoring.input.size" and "4096x4096" in str(e)
    assert time.monotonic() - started < 10


def test_a_ragged_csv_fails_only_its_bad_rows_in_a_job(api, store, diabetes_endpoint):
    lines = data.diabetes_csv(rows=5).decode().splitlines()
    lines[2] += ",1"  # row 1: one value too many
    folder = uuid.uuid4().hex
    store.container("workspaceblobstore").upload_blob(f"{folder}/t.csv",
                                                      "\n".join(lines).encode())
    job = api.batch_endpoints.invoke(
        diabetes_endpoint, input=f"azureml://datastores/workspaceblobstore/paths/{folder}")
    done = api.jobs.stream(job.name, timeout=60)
    assert done.progress["items"] == {"succeeded": 4, "failed": 1, "canceled": 0}
    scored = list(csv.DictReader(io.StringIO(output(api, job.name).decode())))
    assert [(r["file_name"], r["row"]) for r in scored] == [("t.csv", str(k))
                                                             for k in (0, 2, 3, 4)]
    errors = list(csv.reader(io.StringIO(output(api, job.name, "errors").decode())))
    assert errors[1:] == [["t.csv", "1", "has 12 values but the header has 11 columns", "item"]]
