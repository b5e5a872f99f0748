"""Azure ML's mnist batch flow (deploy-and-run.sh) with our example files, through `bep`:
only the service URL and key differ from `az ml`."""

from __future__ import annotations

import csv
import uuid


def test_mnist_example_flow(bep, examples):
    ex = examples / "mnist-classifier"
    name = "mnist-" + uuid.uuid4().hex[:5]  # not the file's name: --name wins, as in az ml
    endpoint = bep.json("batch-endpoint", "create", "--file", str(ex / "endpoint.yml"),
                        "--name", name)
    assert endpoint["name"] == name and endpoint["tags"] == {"type": "deep-learning"}
    assert bep.json("batch-endpoint", "show", "--name", name)["scoring_uri"].endswith(
        f"/endpoints/{name}/jobs")

    created = bep.run("batch-deployment", "create", "--file",
                      str(ex / "deployment-onnx" / "deployment.yml"), "--endpoint-name", name,
                      "--set-default")
    assert "mnist-onnx-dpl is now the default deployment" in created.stderr
    shown = bep.json("batch-deployment", "show", "--name", "mnist-onnx-dpl",
                     "--endpoint-name", name)
    assert shown["model"].startswith("azureml:mnist-classifier-onnx:")  # model.path registered
    assert bep.json("batch-endpoint", "show", "-n", name, "--query",
                    "defaults.deployment_name") == "mnist-onnx-dpl"

    # a local folder as --input: uploaded to workspaceblobstore first, as az ml does
    (bep.cwd / "sample").symlink_to(ex / "sample", target_is_directory=True)
    job = bep.run("batch-endpoint", "invoke", "--name", name, "--input", "sample",
                  "--input-type", "uri_folder", "--query", "name", "-o", "tsv").stdout.strip()
    assert job.startswith("batchjob-")
    inputs = bep.json("job", "show", "-n", job, "--query", "inputs.input_data.path")
    assert inputs.startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/")
    assert inputs.endswith("/sample")

    streamed = bep.run("job", "stream", "-n", job)
    assert "2/2 mini-batches" in streamed.stderr and "items ok 20 failed 0" in streamed.stderr
    assert f"outputs: azureml://datastores/workspaceblobstore/paths/azureml/{job}/score/" \
           in streamed.stderr
    assert bep.run("job", "show", "-n", job, "--query", "status", "-o",
                   "tsv").stdout.strip() == "Completed"

    bep.run("job", "download", "--name", job, "--output-name", "score", "--download-path", "./")
    with (bep.cwd / "named-outputs" / "score" / "predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["file_name"] for r in rows] == [f"digit-{i:05d}.png" for i in range(20)]
    assert [int(r["prediction"]) for r in rows[:10]] == list(range(10))

    assert job in bep.json("batch-deployment", "list-jobs", "--name", "mnist-onnx-dpl",
                           "--endpoint-name", name, "--query", "[].name")
    assert job in bep.json("batch-endpoint", "list-jobs", "--name", name, "--query", "[].name")

    # the default deployment cannot go: the service's own words, one line
    assert "is the default deployment" in bep.fails(
        "batch-deployment", "delete", "--name", "mnist-onnx-dpl", "--endpoint-name", name,
        "--yes")
    bep.run("batch-endpoint", "delete", "--name", name, "--yes")
    assert bep.fails("batch-endpoint", "show", "-n", name) == \
        f"error: batch endpoint {name} not found (HTTP 404 NotFound)"
    assert bep.run("job", "show", "-n", job, "--query", "status", "-o",
                   "tsv").stdout.strip() == "Completed"  # jobs outlive their endpoint
