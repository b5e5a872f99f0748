"""The tabular example, models, datastores, jobs and output formats through `bep`."""

from __future__ import annotations

import json
import uuid

import yaml


def test_breast_cancer_example_with_overrides(bep, examples):
    ex = examples / "breast-cancer"
    name = "bc-" + uuid.uuid4().hex[:5]
    bep.run("batch-endpoint", "create", "-f", str(ex / "endpoint.yml"), "-n", name)
    bep.run("batch-deployment", "create", "-f", str(ex / "deployment.yml"), "-e", name,
            "--set", "settings.mini_batch_size=1")
    # the first deployment became the default; invoke one local file with per-job overrides
    job = bep.json("batch-endpoint", "invoke", "-n", name, "--input",
                   str(ex / "data" / "part-0.csv"), "--set", "output_file_name=scores.csv",
                   "--instance-count", "1", "--stream")
    assert job["status"] == "Completed" and job["inputs"]["input_data"]["type"] == "uri_file"
    assert job["progress"]["items"] == {"succeeded": 10, "failed": 0, "canceled": 0}
    files = bep.json("job", "download", "-n", job["name"], "--all", "--download-path", "out")
    assert sorted(f.split("/")[-1] for f in files) == ["errors.csv", "job_summary.json",
                                                      "scores.csv"]
    scores = (bep.cwd / "out" / "named-outputs" / "score" / "scores.csv").read_text()
    assert scores.splitlines()[0].startswith("file_name,row,prediction")
    assert len(scores.splitlines()) == 11

    updated = bep.json("batch-deployment", "update", "-n", "classifier", "-e", name, "--set",
                       "settings.error_threshold=5")
    assert updated["settings"]["error_threshold"] == 5
    assert updated["settings"]["mini_batch_size"] == 1  # the rest is kept
    listed = bep.run("batch-deployment", "list", "-e", name, "-o", "table").stdout
    assert listed.splitlines()[0].split()[:2] == ["Name", "Endpoint"]
    assert "classifier" in listed.splitlines()[2]
    jobs = bep.run("job", "list", "--query", f"[?endpoint_name=='{name}'].[name, status]",
                   "-o", "tsv").stdout.strip().splitlines()
    assert jobs == [f"{job['name']}\tCompleted"]
    bep.run("batch-endpoint", "update", "-n", name, "--set", "description=tabular scoring")
    assert yaml.safe_load(bep.run("batch-endpoint", "show", "-n", name, "-o", "yaml")
                          .stdout)["description"] == "tabular scoring"
    assert name in bep.json("batch-endpoint", "list", "--query", "[].name")
    bep.run("batch-endpoint", "delete", "-n", name, "-y")


def test_model_versions_and_datastores(bep, examples):
    name = "m-" + uuid.uuid4().hex[:6]
    folder = examples / "breast-cancer" / "model"  # a folder holding one .onnx file
    first = bep.json("model", "create", "--name", name, "--path", str(folder))
    second = bep.json("model", "create", "--name", name, "--path",
                      str(folder / "breast-cancer.onnx"), "--description", "again")
    assert (first["version"], second["version"]) == ("1", "2")  # next integer, as Azure ML
    assert bep.json("model", "show", "-n", name, "--label", "latest")["description"] == "again"
    shown = bep.json("model", "show", "-n", name, "-v", "1")  # a folder: uploaded whole
    assert (shown["layout"], shown["files"], shown["format"]) == (
        "folder", ["breast-cancer.onnx"], "onnx")
    assert bep.json("model", "list", "-n", name, "--query", "[].version") == ["1", "2"]
    assert "already exists" in bep.fails("model", "create", "-n", name, "-v", "1", "--path",
                                         str(folder))
    assert "no such file or folder" in bep.fails("model", "create", "-n", name, "--path",
                                                 str(examples / "breast-cancer" / "nothing"))
    bep.run("model", "delete", "-n", name, "-v", "1", "--yes")
    assert bep.json("model", "list", "-n", name, "--query", "[].version") == ["2"]

    stores = bep.json("datastore", "list", "--query", "[].name")
    assert stores[:2] == ["workspaceblobstore", "inbox"]
    default = bep.json("datastore", "show", "-n", "workspaceblobstore")
    assert default["is_default"] is True and default["container_name"]
    assert bep.run("datastore", "show", "-n", "workspaceblobstore", "-o", "tsv",
                   "--query", "[name, container_name]").stdout.split() == [
        "workspaceblobstore", default["container_name"]]
    assert json.loads(bep.run("datastore", "list", "--query", "length(@)").stdout) >= 2
