"""Azure ML scoring scripts deployed with `bep batch-deployment create --file deployment.yml`
and scored by real jobs on the local host: init()/run(), list and DataFrame returns,
append_row and summary_only, environment variables, logging, a raising run(), fewer results
than files, a timeout; environments checked; only deployers may upload code."""

from __future__ import annotations

import csv
import json
import textwrap
import uuid

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from samples import data, models

BEHAVIOUR = '''
import json, logging, os, time

log = logging.getLogger("behaviour")


def init():
    log.info("init in %d, greeting %s", os.getpid(), os.environ["GREETING"])
    print("a print goes to the worker's output, not into the results")


def run(mini_batch):
    names = [os.path.basename(p) for p in mini_batch]
    log.info("run over %s", " ".join(names))
    if os.environ.get("MODE") == "fail" or any("raise" in n for n in names):
        raise ValueError("cannot score " + " ".join(names))
    if any("sleep" in n for n in names):
        time.sleep(120)
    if os.environ.get("MODE") == "summary":
        with open(os.path.join(os.environ["AZUREML_BI_OUTPUT_PATH"], names[0] + ".json"),
                  "w") as f:
            json.dump({"files": names, "greeting": os.environ["GREETING"]}, f)
        return names
    return [f"{n} {os.path.getsize(p)} {os.environ['GREETING']}"
            for n, p in zip(names, mini_batch) if "skip" not in n]
'''

DEPLOYMENT = '''
$schema: https://azuremlschemas.azureedge.net/latest/batchDeployment.schema.json
name: behaviour
type: model
model:
  name: behaviour-model
  path: model
code_configuration:
  code: src
  scoring_script: score.py
environment:
  conda_file: conda.yaml
  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest
compute: azureml:cpu-cluster
settings:
  mini_batch_size: 2
  output_action: append_row
  retry_settings:
    max_retries: 1
    timeout: 5
  environment_variables:
    GREETING: hello
'''

CONDA = '''
dependencies:
  - python=3.11
  - pip
  - pip:
      - numpy>=1.26
'''


def _logs(service, job: str) -> str:
    response = httpx.get(f"{service.api}/jobs/{job}/logs",
                         headers={"x-functions-key": service.function_key}, timeout=30)
    response.raise_for_status()
    return response.text


def _job(bep, endpoint: str, folder: str, deployment: str, succeeds: bool = True) -> dict:
    """Invoke and stream the job to its end (`bep job stream` exits non-zero on Failed)."""
    name = bep.run("batch-endpoint", "invoke", "--name", endpoint, "--input", folder,
                   "--deployment-name", deployment, "--query", "name", "-o", "tsv"
                   ).stdout.strip()
    bep.run("job", "stream", "-n", name, timeout=240, ok=succeeds)
    return bep.json("job", "show", "-n", name)


@pytest.fixture
def project(bep, tmp_path):
    """A user's folder: deployment.yml, src/score.py, conda.yaml, model/, inputs/."""
    root = bep.cwd / f"project-{uuid.uuid4().hex[:6]}"
    (root / "src").mkdir(parents=True)
    (root / "src" / "score.py").write_text(textwrap.dedent(BEHAVIOUR))
    (root / "deployment.yml").write_text(DEPLOYMENT)
    (root / "conda.yaml").write_text(CONDA)
    (root / "model").mkdir()
    (root / "model" / "model.onnx").write_bytes(models.digits_classifier())
    inputs = root / "inputs"
    inputs.mkdir()
    for name in ("01-a", "02-b", "03-raise", "04-c", "05-skip", "06-d", "07-sleep", "08-e"):
        (inputs / f"{name}.txt").write_text(name * 3)
    good = root / "good"
    good.mkdir()
    for name in ("01-a", "02-b", "04-c", "06-d"):
        (good / f"{name}.txt").write_text(name * 3)
    return root


@pytest.fixture
def endpoint(bep) -> str:
    name = "scripts-" + uuid.uuid4().hex[:6]
    bep.run("batch-endpoint", "create", "--name", name)
    return name


def test_mnist_example_with_a_scoring_script(bep, examples, service, endpoint):
    """The example's batch_driver.py (ONNX Runtime and pandas inside) scores the PNGs as the
    model itself does; its DataFrame rows are the predictions, in input order."""
    yml = str(examples / "mnist-classifier" / "deployment-script" / "deployment.yml")
    master = {"BEP_KEY": service.master_key}
    result = bep.run("batch-deployment", "create", "--file", yml, "--endpoint-name", endpoint,
                     "--set-default", "-o", "json", env=master)
    created = json.loads(result.stdout)
    assert created["code_configuration"]["scoring_script"] == "batch_driver.py"
    assert created["code_configuration"]["code"].startswith("azureml:code:")
    assert created.get("scoring") is None
    assert "warning: environment.image: ignored" in result.stderr
    assert "warning: compute: ignored" in result.stderr

    (bep.cwd / "sample").symlink_to(examples / "mnist-classifier" / "sample")
    job = _job(bep, endpoint, "sample", "mnist-script-dpl")
    assert job["status"] == "Completed", job
    assert (job["progress"]["items"]["succeeded"], job["progress"]["items"]["failed"]) == (20, 0)

    bep.run("job", "download", "--name", job["name"], "--output-name", "score",
            "--download-path", "./")
    with (bep.cwd / "named-outputs" / "score" / "predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    names = [f"digit-{i:05d}.png" for i in range(20)]
    assert [r["file_name"] for r in rows] == names
    got = [json.loads(r["prediction"]) for r in rows]
    assert [g["file"] for g in got] == names
    session = ort.InferenceSession(models.digits_classifier())
    features = np.stack([x for _, _, x in data.digit_pngs(20)])
    assert [g["class"] for g in got] == session.run(None, {"X": features})[0].tolist()

    logs = _logs(service, job["name"])
    assert "script INFO batch_driver: loaded digits.onnx" in logs
    assert "mini-batch 1: script INFO batch_driver: scoring 10 images" in logs


def test_script_behaviour_through_a_real_job(bep, service, project, endpoint):
    """A list return with its files named, fewer results than files, a raising run() (its
    traceback in the logs), a timeout that kills only that run, environment variables."""
    master = {"BEP_KEY": service.master_key}
    yml = str(project / "deployment.yml")
    refused = bep.fails("batch-deployment", "create", "--file", yml, "-e", endpoint)
    assert "uploading code runs user code: it needs the master key" in refused
    assert "HTTP 403" in refused
    bep.run("batch-deployment", "create", "--file", yml, "-e", endpoint, env=master)
    assert "needs the master key" in bep.fails(  # updating it needs a deployer too
        "batch-deployment", "update", "-n", "behaviour", "-e", endpoint, "--set",
        "settings.mini_batch_size=3")

    job = _job(bep, endpoint, str(project / "inputs"), "behaviour")
    items = job["progress"]["items"]
    assert (items["succeeded"], items["failed"]) == (3, 5), job
    bep.run("job", "download", "--name", job["name"], "--all", "--download-path", "./out")
    with (bep.cwd / "out" / "named-outputs" / "score" / "predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["file_name"], r["prediction"]) for r in rows] == [
        ("01-a.txt", "01-a.txt 12 hello"), ("02-b.txt", "02-b.txt 12 hello"),
        ("06-d.txt", "06-d.txt 12 hello")]
    with (bep.cwd / "out" / "named-outputs" / "errors" / "errors.csv").open() as f:
        errors = {r["file_name"]: r["reason"] for r in csv.DictReader(f)}
    assert sorted(errors) == ["03-raise.txt", "04-c.txt", "05-skip.txt", "07-sleep.txt",
                              "08-e.txt"]
    assert "ValueError: cannot score 03-raise.txt 04-c.txt" in errors["04-c.txt"]
    assert errors["05-skip.txt"] == "run() returned no result for this file"
    assert "ran past retry_settings.timeout" in errors["07-sleep.txt"]

    logs = _logs(service, job["name"])
    assert "script INFO behaviour: init in" in logs and "greeting hello" in logs
    assert "script INFO behaviour: run over 03-raise.txt 04-c.txt" in logs
    assert "Traceback (most recent call last)" in logs
    assert 'raise ValueError("cannot score "' in logs
    assert "a print goes" not in logs  # prints go to the worker's output


def test_summary_only_script_writes_the_score_output(bep, service, project, endpoint):
    master = {"BEP_KEY": service.master_key}
    bep.run("batch-deployment", "create", "--file", str(project / "deployment.yml"),
            "-e", endpoint, "-n", "summary", "--set", "settings.output_action=summary_only",
            "--set", "settings.environment_variables.MODE=summary", env=master)
    job = _job(bep, endpoint, str(project / "good"), "summary")
    assert job["status"] == "Completed" and job["progress"]["items"]["succeeded"] == 4
    bep.run("job", "download", "--name", job["name"], "--output-name", "score",
            "--download-path", "./summary")
    folder = bep.cwd / "summary" / "named-outputs" / "score"
    assert sorted(p.name for p in folder.iterdir()) == ["01-a.txt.json", "04-c.txt.json"]
    assert json.loads((folder / "04-c.txt.json").read_text()) == {
        "files": ["04-c.txt", "06-d.txt"], "greeting": "hello"}


def test_a_job_whose_every_run_raises_has_no_succeeded_item(bep, service, project, endpoint):
    bep.run("batch-deployment", "create", "--file", str(project / "deployment.yml"),
            "-e", endpoint, "-n", "failing", "--set", "settings.environment_variables.MODE=fail",
            "--set", "settings.retry_settings.max_retries=0", env={"BEP_KEY": service.master_key})
    job = _job(bep, endpoint, str(project / "good"), "failing", succeeds=False)
    items = job["progress"]["items"]
    assert (items["succeeded"], items["failed"]) == (0, 4), job
    assert job["status"] == "Failed"  # whatever error_threshold allows: nothing succeeded
    assert "ValueError: cannot score 01-a.txt 02-b.txt" in job["error"]["message"]


def test_environment_needing_a_package_the_app_lacks_is_refused(bep, service, project,
                                                                 endpoint):
    (project / "conda.yaml").write_text(CONDA + "      - surely-not-installed-pkg>=1\n"
                                        "      - numpy<1.0\n")
    refused = bep.fails("batch-deployment", "create", "--file", str(project / "deployment.yml"),
                        "-e", endpoint, "-n", "needy", env={"BEP_KEY": service.master_key})
    assert "surely-not-installed-pkg (not installed)" in refused
    assert "numpy<1.0 (the app has " in refused
    assert "requirements.txt" in refused and "HTTP 400" in refused


def test_only_deployers_upload_or_delete_code(service):
    from client._code import zip_folder

    archive = (service.project_dir / "code.zip")
    src = service.project_dir / "some-code"
    src.mkdir(exist_ok=True)
    (src / "score.py").write_text("def init():\n    pass\n\ndef run(b):\n    return b\n")
    archive.write_bytes(zip_folder(src)[0])
    url = f"{service.api}/codes/keyed/versions/1"
    zip_type = {"content-type": "application/zip"}
    as_invoker = {"x-functions-key": service.function_key, **zip_type}
    as_deployer = {"x-functions-key": service.master_key, **zip_type}
    refused = httpx.put(url, content=archive.read_bytes(), headers=as_invoker, timeout=30)
    assert refused.status_code == 403
    assert "needs the master key" in refused.json()["error"]["message"]
    assert httpx.put(url, content=archive.read_bytes(), headers=as_deployer,
                     timeout=30).status_code == 201
    again = httpx.put(url, content=archive.read_bytes(), headers=as_deployer, timeout=30)
    assert again.status_code == 200  # the same folder: the same version
    shown = httpx.get(url, headers=as_invoker, timeout=30).json()
    assert shown["files"] == ["score.py"] and len(shown["sha256"]) == 64
    assert httpx.delete(url, headers=as_invoker, timeout=30).status_code == 403
    assert httpx.delete(url, headers=as_deployer, timeout=30).status_code == 204
    assert httpx.get(url, headers=as_invoker, timeout=30).status_code == 404


def test_a_script_whose_init_fails_is_refused_at_create_time(bep, service, project, endpoint):
    (project / "src" / "score.py").write_text(
        "import os\n\ndef init():\n    raise RuntimeError('no weights in ' + "
        "os.environ['AZUREML_MODEL_DIR'])\n\ndef run(mini_batch):\n    return mini_batch\n")
    refused = bep.fails("batch-deployment", "create", "--file", str(project / "deployment.yml"),
                        "-e", endpoint, "-n", "broken", env={"BEP_KEY": service.master_key})
    assert "code_configuration.scoring_script: score.py: init() failed: RuntimeError: no " \
           "weights in " in refused and "HTTP 400" in refused
    (project / "src" / "score.py").write_text("def init():\n    pass\n")
    refused = bep.fails("batch-deployment", "create", "--file", str(project / "deployment.yml"),
                        "-e", endpoint, "-n", "broken", env={"BEP_KEY": service.master_key})
    assert "score.py defines no run() function" in refused


def test_preview_runs_the_script_on_a_few_files(bep, service, project, endpoint):
    bep.run("batch-deployment", "create", "--file", str(project / "deployment.yml"),
            "-e", endpoint, "-n", "previewed", env={"BEP_KEY": service.master_key})
    url = f"{service.api}/endpoints/{endpoint}/deployments/previewed/preview"
    key = {"x-functions-key": service.function_key}
    answer = httpx.post(url, headers=key, timeout=60, files=[
        ("files", ("x.txt", b"12345")), ("files", ("skip-y.txt", b"1"))]).json()
    assert answer["columns"] == ["file_name", "prediction"]
    assert answer["rows"] == [["x.txt", "x.txt 5 hello"]]
    assert answer["errors"] == [{"file_name": "skip-y.txt", "row": None,
                                 "reason": "run() returned no result for this file"}]
    assert any("behaviour: run over x.txt skip-y.txt" in line for line in answer["logs"])
    failed = httpx.post(url, headers=key, timeout=60, files=[
        ("files", ("raise.txt", b"1"))]).json()
    assert failed["rows"] == [] and "ValueError: cannot score raise.txt" in \
        failed["errors"][0]["reason"]
    assert any("Traceback" in line for line in failed["logs"])
