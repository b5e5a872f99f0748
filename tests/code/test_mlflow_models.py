"""MLflow model folders registered with `bep model create --type mlflow_model --path DIR` and
deployed with no code and no scoring block: an onnx flavor as it is, a scikit-learn flavor
converted to ONNX on the user's machine. Both score what the original model predicts. The
service refuses what it would have to unpickle, and flavors that need a script."""

from __future__ import annotations

import csv
import io
import json
import pickle
import uuid
import zipfile

import httpx
import numpy as np
import pytest
import yaml

from samples import data, models

COLUMNS = [str(c) for c in data.breast_cancer_table(1).column_names if c != "diagnosis"]
SIGNATURE = {"inputs": json.dumps([{"type": "double", "name": c, "required": True}
                                   for c in COLUMNS]),
             "outputs": json.dumps([{"type": "string", "required": True}]), "params": None}


def _mlmodel(flavors: dict, **extra) -> str:
    return yaml.safe_dump({"artifact_path": "model", "flavors": flavors,
                           "mlflow_version": "2.14.1", "signature": SIGNATURE, **extra})


def onnx_flavor(folder):
    folder.mkdir()
    (folder / "model.onnx").write_bytes(models.breast_cancer_classifier())
    (folder / "MLmodel").write_text(_mlmodel({
        "onnx": {"data": "model.onnx", "onnx_version": "1.16.0",
                 "providers": ["CPUExecutionProvider"], "code": None},
        "python_function": {"loader_module": "mlflow.onnx", "data": "model.onnx"}}))
    return folder


def sklearn_flavor(folder):
    folder.mkdir()
    with (folder / "model.pkl").open("wb") as f:
        pickle.dump(models.breast_cancer_estimator(), f)
    table = data.breast_cancer_table(5)
    (folder / "input_example.json").write_text(json.dumps(
        {"columns": COLUMNS, "data": [[table[c][i].as_py() for c in COLUMNS]
                                      for i in range(5)]}))
    (folder / "MLmodel").write_text(_mlmodel(
        {"python_function": {"loader_module": "mlflow.sklearn", "model_path": "model.pkl"},
         "sklearn": {"pickled_model": "model.pkl", "serialization_format": "pickle",
                     "sklearn_version": "1.5.0"}},
        saved_input_example_info={"artifact_path": "input_example.json", "type": "dataframe",
                                  "pandas_orient": "split"}))
    return folder


@pytest.mark.parametrize("make", [onnx_flavor, sklearn_flavor])
def test_mlflow_folder_deploys_with_no_code(bep, make):
    root = bep.cwd / f"mlflow-{uuid.uuid4().hex[:6]}"
    root.mkdir()
    make(root / "model")
    name = "mlflow-" + uuid.uuid4().hex[:6]
    registered = bep.json("model", "create", "--name", name, "--type", "mlflow_model",
                          "--path", str(root / "model"))
    assert registered["type"] == "mlflow_model" and registered["layout"] == "folder"
    assert registered["mlflow"]["flavor"] == "onnx"
    assert registered["mlflow"]["scoring"] == {"input": {"type": "tabular", "columns": COLUMNS}}
    assert "model.onnx" in registered["files"] and "model.pkl" not in registered["files"]

    (root / "deployment.yml").write_text(yaml.safe_dump({
        "name": "mlflow", "endpoint_name": name, "model": f"azureml:{name}:1",
        "settings": {"mini_batch_size": 2}}))
    bep.run("batch-endpoint", "create", "--name", name)
    shown = bep.json("batch-deployment", "create", "--file", str(root / "deployment.yml"))
    assert shown["scoring"]["input"]["columns"] == COLUMNS
    table = data.breast_cancer_table(40)
    inputs = root / "inputs"
    inputs.mkdir()
    for i in range(4):  # the files keep their diagnosis column: columns are taken by name
        (inputs / f"part-{i}.csv").write_bytes(data.table_bytes(table.slice(i * 10, 10), "csv"))
    job = bep.run("batch-endpoint", "invoke", "--name", name, "--input", str(inputs),
                  "--query", "name", "-o", "tsv").stdout.strip()
    bep.run("job", "stream", "-n", job, timeout=240)
    assert bep.json("job", "show", "-n", job, "--query", "status") == "Completed"
    bep.run("job", "download", "--name", job, "--download-path", str(root))
    with (root / "named-outputs" / "score" / "predictions.csv").open() as f:
        got = [r["prediction"] for r in csv.DictReader(f)]
    x = np.column_stack([table[c].to_numpy() for c in COLUMNS]).astype(np.float32)
    assert got == models.breast_cancer_estimator().predict(x).tolist()


def _zip(files: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for path, content in files.items():
            archive.writestr(path, content)
    return buf.getvalue()


@pytest.mark.parametrize("flavors, says", [
    ({"sklearn": {"pickled_model": "model.pkl"}}, "the service never unpickles models"),
    ({"pytorch": {"model_data": "data"}}, "MLflow flavor pytorch, which is scored here only by "
                                          "a scoring script"),
])
def test_the_service_refuses_flavors_it_cannot_score_without_code(service, flavors, says):
    body = _zip({"MLmodel": yaml.safe_dump({"flavors": flavors}), "model.pkl": b"\x80\x04."})
    r = httpx.put(f"{service.api}/models/refused-{uuid.uuid4().hex[:6]}/versions/1",
                  params={"type": "mlflow_model"}, content=body, timeout=30,
                  headers={"x-functions-key": service.function_key,
                           "content-type": "application/zip"})
    assert r.status_code == 400, r.text
    assert says in r.json()["error"]["message"]


def test_a_plain_model_folder_is_the_scripts_model_dir(bep):
    """A custom_model folder without one ONNX file registers (for scoring scripts) but a
    no-code deployment of it is refused."""
    folder = bep.cwd / f"plain-{uuid.uuid4().hex[:6]}"
    (folder / "weights").mkdir(parents=True)
    (folder / "weights" / "a.bin").write_bytes(b"\0" * 10)
    (folder / "labels.txt").write_text("a\nb\n")
    name = "plain-" + uuid.uuid4().hex[:6]
    doc = bep.json("model", "create", "--name", name, "--path", str(folder))
    assert (doc["format"], doc.get("signature")) == ("folder", None)
    assert doc["files"] == ["labels.txt", "weights/a.bin"]
    bep.run("batch-endpoint", "create", "--name", name)
    refused = bep.fails("batch-deployment", "create", "--name", "plain-dpl", "--endpoint-name",
                        name, "--file", str(_deployment(folder, f"azureml:{name}:1")))
    assert "is a folder without exactly one ONNX file: deploy it with a scoring script" in refused


def _deployment(folder, model: str):
    path = folder.parent / f"{folder.name}.yml"
    path.write_text(yaml.safe_dump({"model": model}))
    return path


def test_a_conversion_that_predicts_otherwise_is_refused(tmp_path):
    """A real scikit-learn model whose float64 decision on the example's first row flips
    sign in ONNX's float32: the client refuses it and names the row and both predictions."""
    from sklearn.linear_model import LogisticRegression

    from client._entities import DocumentError
    from client._mlflow import onnx_folder

    estimator = LogisticRegression().fit([[0, 0], [1, 0], [0, 1], [1, 1]], [0, 1, 0, 1])
    estimator.coef_ = np.array([[1.0, -1.00000004]])  # float32 rounds this to -1.0
    estimator.intercept_ = np.array([0.0002])
    folder = tmp_path / "model"
    folder.mkdir()
    with (folder / "model.pkl").open("wb") as f:
        pickle.dump(estimator, f)
    (folder / "input_example.json").write_text(json.dumps(
        {"columns": ["a", "b"], "data": [[1.0, 0.0], [10000.0, 10000.0]]}))
    (folder / "MLmodel").write_text(yaml.safe_dump({"flavors": {
        "sklearn": {"pickled_model": "model.pkl", "serialization_format": "pickle"}},
        "saved_input_example_info": {"artifact_path": "input_example.json"}}))
    with pytest.raises(DocumentError, match=r"does not predict what the scikit-learn model does "
                                            r"on input_example row 1: scikit-learn \[0\], "
                                            r"ONNX \[1\]; refused"):
        onnx_folder(folder, tmp_path / "work")
    assert not (tmp_path / "work").exists()  # nothing was written for an upload
