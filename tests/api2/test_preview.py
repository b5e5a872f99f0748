"""Preview through the real host: sample files scored at once, with per-item errors."""

from __future__ import annotations

import time
import uuid

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from samples import data, models
from shared import preview
from shared.errors import DeadlineError
from shared.storage.clients import Storage


def preview_url(host, endpoint: str, door: str = "") -> str:
    return f"{host.api}/{door}endpoints/{endpoint}/deployments/blue/preview"


def predicted(features: list[np.ndarray]) -> list[str]:
    session = ort.InferenceSession(models.digits_classifier(),
                                   providers=["CPUExecutionProvider"])
    return [str(v) for v in session.run(None, {"X": np.stack(features)})[0]]


def test_datastore_paths_give_rows_and_per_item_errors(host, store, key_endpoint):
    folder = uuid.uuid4().hex
    digits = data.digit_pngs(3)
    container = store.container("workspaceblobstore")
    for name, png, _ in digits:
        container.upload_blob(f"{folder}/{name}", png)
    container.upload_blob(f"{folder}/broken.png", b"not a png")
    inputs = [f"azureml://datastores/workspaceblobstore/paths/{folder}/{n}"
              for n in ("broken.png", digits[0][0], "missing.png", digits[1][0])]
    inputs.append(f"workspaceblobstore/{folder}/{digits[2][0]}")
    got = httpx.post(preview_url(host, key_endpoint), json={"inputs": inputs},
                     headers={"x-functions-key": host.function_key}, timeout=30)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["deployment"] == "blue" and body["model"] == f"azureml:digits-api2:{key_endpoint}"
    assert body["columns"][:4] == ["file_name", "row", "prediction", "probability"]
    assert [r[:2] for r in body["rows"]] == [[f"{folder}/{n}", 0] for n, _, _ in digits]
    assert [r[2] for r in body["rows"]] == predicted([x for _, _, x in digits])
    assert [(e["file_name"], e["row"]) for e in body["errors"]] == [
        (f"{folder}/broken.png", None), (f"{folder}/missing.png", None)]
    assert "not a readable image" in body["errors"][0]["reason"]
    assert body["errors"][1]["reason"] == "file not found"


def test_uploaded_files_through_the_token_door(host, entra, aad_endpoint):
    digits = data.digit_pngs(2, start=5)
    got = httpx.post(preview_url(host, aad_endpoint, "aad/"), headers=entra.bearer(),
                     files=[("files", (name, png, "image/png")) for name, png, _ in digits])
    assert got.status_code == 200, got.text
    rows = got.json()["rows"]
    assert [r[0] for r in rows] == [name for name, _, _ in digits]
    assert [r[2] for r in rows] == predicted([x for _, _, x in digits])
    keyed = httpx.post(preview_url(host, aad_endpoint), files=[("files", ("a.png", b"x"))],
                       headers={"x-functions-key": host.function_key})
    assert keyed.status_code == 401


@pytest.mark.parametrize("request_kwargs, status, rule", [
    ({"json": {"inputs": ["workspaceblobstore/a.png"] * 21}}, 400,
     "inputs: must have at most 20 entries"),
    ({"json": {"inputs": []}}, 400, "inputs: must have at least 1 entry"),
    ({"json": {"inputs": "workspaceblobstore/a.png"}}, 400, "inputs: must be a list"),
    ({"json": {"inputs": ["https://elsewhere.example/c/a.png"]}}, 400, "inputs[0].path"),
    ({"json": {"inputs": ["x"], "input": []}}, 400,
     "input: is not a known field (did you mean 'inputs'?)"),
    ({"files": [("files", ("big.bin", b"\0" * (preview.MAX_BYTES + 1)))]}, 413,
     "at most 16,777,216 bytes"),
])
def test_bounds_and_bad_inputs_are_4xx(host, key_endpoint, request_kwargs, status, rule):
    got = httpx.post(preview_url(host, key_endpoint), timeout=30,
                     headers={"x-functions-key": host.function_key}, **request_kwargs)
    assert got.status_code == status, got.text
    assert rule in got.json()["error"]["message"]


def test_the_time_budget_is_a_504(api2_azurite, monkeypatch, key_endpoint):
    monkeypatch.setenv("AzureWebJobsStorage", api2_azurite.connection_string)
    storage = Storage.from_connection_string(api2_azurite.connection_string)
    items = preview.uploaded([(name, png) for name, png, _ in data.digit_pngs(2)])
    with pytest.raises(DeadlineError) as e:
        preview.preview(storage, key_endpoint, "blue", items, time.monotonic(), budget=0)
    assert e.value.status == 504 and "budget" in str(e.value)
