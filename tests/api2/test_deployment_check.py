"""Deployments checked against their model over HTTP, and a ragged CSV scored row by row."""

from __future__ import annotations

import csv
import io
import time
import uuid

import pytest

from client.batch_client import ApiError
from samples import data, models


@pytest.fixture(scope="module")
def diabetes_endpoint(api):
    name = f"tab-{uuid.uuid4().hex[:6]}"
    api.create_model("diabetes-api2", name, data=models.diabetes_regressor())
    api.create_model("digits-check", name, data=models.digits_classifier())
    api.create_or_update_endpoint(name)
    api.create_or_update_deployment(name, "gbr", {"model": f"diabetes-api2:{name}",
                                                  "scoring": models.DIABETES_SCORING})
    return name


def refused(api, endpoint: str, model: str, scoring: dict) -> ApiError:
    with pytest.raises(ApiError) as e:
        api.create_or_update_deployment(endpoint, "bad", {"model": model, "scoring": scoring})
    assert e.value.status_code == 400
    return e.value


def image(size) -> dict:
    return {**models.DIGITS_SCORING,
            "input": {**models.DIGITS_SCORING["input"], "size": size}}


def test_a_deployment_that_cannot_score_is_a_400_naming_both_shapes(api, diabetes_endpoint):
    e = refused(api, diabetes_endpoint, f"digits-check:{diabetes_endpoint}", image([28, 28]))
    assert e.body["error"]["target"] == "scoring.input"
    assert "28x28 L image" in str(e) and "[784]" in str(e) and "[64]" in str(e)
    e = refused(api, diabetes_endpoint, f"diabetes-api2:{diabetes_endpoint}",
                models.DIGITS_SCORING)
    assert "8x8 L image" in str(e) and "[64]" in str(e) and "[10]" in str(e)
    with pytest.raises(ApiError, match="404"):  # nothing was stored
        api._call("GET", f"/endpoints/{diabetes_endpoint}/deployments/bad")


def test_a_huge_image_size_is_refused_at_once(api, diabetes_endpoint):
    started = time.monotonic()
    e = refused(api, diabetes_endpoint, f"digits-check:{diabetes_endpoint}",
                image([100_000, 100_000]))
    assert e.body["error"]["target"] == "scoring.input.size" and "4096x4096" in str(e)
    assert time.monotonic() - started < 10


def test_a_ragged_csv_fails_only_its_bad_rows_in_a_job(api, store, diabetes_endpoint):
    lines = data.diabetes_csv(rows=5).decode().splitlines()
    lines[2] += ",1"  # row 1: one value too many
    folder = uuid.uuid4().hex
    store.container("workspaceblobstore").upload_blob(f"{folder}/t.csv",
                                                      "\n".join(lines).encode())
    job = api.invoke(diabetes_endpoint,
                     f"azureml://datastores/workspaceblobstore/paths/{folder}")
    done = api.wait(job["name"], timeout=60)
    assert done["progress"]["items"] == {"succeeded": 4, "failed": 1}
    scored = list(csv.DictReader(io.StringIO(api.download(job["name"]).decode())))
    assert [(r["file_name"], r["row"]) for r in scored] == [("t.csv", str(k))
                                                             for k in (0, 2, 3, 4)]
    errors = list(csv.reader(io.StringIO(api.download(job["name"], "errors").decode())))
    assert errors[1:] == [["t.csv", "1", "has 12 values but the header has 11 columns"]]
