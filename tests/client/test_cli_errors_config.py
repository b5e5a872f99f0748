"""What a user meets around the commands: errors in one line, configuration, help,
completion, jobs cancelled and retried."""

from __future__ import annotations

import json
import subprocess
import uuid

import click
import pytest

from client.cli import cli
from samples import data


def test_errors_are_one_line_and_non_zero(bep, tmp_path):
    (bep.cwd / "bad.yml").write_text("name: ok\ntags: [unclosed\n")
    assert bep.fails("batch-endpoint", "create", "-f", "bad.yml").startswith(
        "error: bad.yml:3:1: invalid YAML")
    assert bep.fails("batch-endpoint", "create", "-f", "missing.yml") == \
        "error: missing.yml: no such file"
    (bep.cwd / "nameless.yml").write_text("endpoint_name: x\nmodel: azureml:m:1\n")
    assert "needs a name: give --name" in bep.fails("batch-deployment", "create", "-f",
                                                    "nameless.yml")
    (bep.cwd / "orphan.yml").write_text("name: blue\nmodel: azureml:m:1\n")
    assert "give --endpoint-name" in bep.fails("batch-deployment", "create", "-f",
                                               "orphan.yml")
    # a 4xx as the service words it, naming the field
    assert bep.fails("batch-endpoint", "create", "-n", "ok-" + uuid.uuid4().hex[:4], "--set",
                     "auth_mode=magic") == \
        "error: auth_mode: must be one of: 'key' or 'aad_token' (HTTP 400 ValidationError)"
    assert "confirm with --yes" in bep.fails("batch-endpoint", "delete", "-n", "whatever")
    assert "is not PATH=VALUE" in bep.fails("batch-endpoint", "update", "-n", "x", "--set",
                                            "novalue")
    down = bep.fails("datastore", "list", env={"BEP_URL": "http://127.0.0.1:9/api"})
    assert down.startswith("error: cannot reach the service") and "BEP_URL" in down
    assert "HTTP 401" in bep.fails("datastore", "list", env={"BEP_KEY": "wrong"})
    assert "'xml' is not one of" in bep.fails("job", "show", "-n", "x", "-o", "xml")


def test_configure_writes_the_user_config_used_from_any_folder(bep, service):
    env = {"BEP_URL": "", "BEP_KEY": ""}
    assert "cannot reach" in bep.fails("datastore", "list", env=env)  # the default URL
    bep.run("configure", "--url", service.api, "--key", service.function_key, env=env)
    config = bep.cwd / ".config" / "bep" / "config.json"
    assert config.exists() and oct(config.stat().st_mode & 0o777) == "0o600"
    shown = json.loads(bep.run("configure").stdout)
    assert shown["url"] == service.api and shown["key"] == "***"
    elsewhere = bep.cwd / "some" / "folder"
    elsewhere.mkdir(parents=True)
    bep.cwd = elsewhere
    names = bep.run("datastore", "list", "--query", "[].name", "-o", "tsv", env=env)
    assert "workspaceblobstore" in names.stdout.split()


def test_the_installed_script_runs_outside_the_repo_without_pythonpath(bep, installed):
    env = {k: v for k, v in bep.env.items() if k != "PYTHONPATH"}
    result = subprocess.run([str(installed), "batch-endpoint", "--help"], cwd=bep.cwd,
                            env=env, capture_output=True, text=True, check=True)
    assert "invoke" in result.stdout and "list-jobs" in result.stdout
    completion = subprocess.run([str(installed)], cwd=bep.cwd, capture_output=True,
                                text=True, env={**env, "_BEP_COMPLETE": "bash_source"})
    assert "_bep_completion()" in completion.stdout


def _commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def test_every_verb_of_az_ml_and_every_flag_documented():
    verbs = {" ".join(path) for path, _ in _commands(cli)}
    assert verbs >= {
        *(f"batch-endpoint {v}" for v in ("create", "update", "show", "list", "delete",
                                          "invoke", "list-jobs")),
        *(f"batch-deployment {v}" for v in ("create", "update", "show", "list", "delete",
                                            "list-jobs")),
        *(f"job {v}" for v in ("show", "list", "stream", "download", "cancel", "retry")),
        *(f"model {v}" for v in ("create", "list", "show", "delete")),
        "datastore list", "datastore show", "configure"}
    for path, command in _commands(cli):
        assert command.help, path
        for param in command.params:
            assert isinstance(param, click.Option) and param.help, (path, param.name)


def _upload(store, files) -> str:
    folder = uuid.uuid4().hex
    container = store.container("workspaceblobstore")
    for name, blob in files:
        container.upload_blob(f"{folder}/{name}", blob)
    return f"azureml://datastores/workspaceblobstore/paths/{folder}"


@pytest.fixture(scope="module")
def digits_endpoint(ml, tmp_path_factory):
    from client import Model, load_batch_deployment, load_batch_endpoint
    from samples import models

    name = "cli-" + uuid.uuid4().hex[:5]
    path = tmp_path_factory.mktemp("model") / "digits.onnx"
    path.write_bytes(models.digits_classifier())
    model = ml.models.create_or_update(Model(name=name, path=str(path)))
    ml.batch_endpoints.begin_create_or_update(
        load_batch_endpoint(params_override=[{"name": name}])).result()
    ml.batch_deployments.begin_create_or_update(load_batch_deployment(params_override=[{
        "name": "blue", "endpoint_name": name, "model": model.id,
        "scoring": models.DIGITS_SCORING}])).result()
    return name


def test_cancel_and_retry(bep, store, digits_endpoint):
    path = _upload(store, [(n, b) for n, b, _ in data.digit_pngs(60)])
    job = bep.json("batch-endpoint", "invoke", "-n", digits_endpoint, "--input", path,
                   "--mini-batch-size", "1", "--instance-count", "1")
    canceled = bep.json("job", "cancel", "-n", job["name"])
    assert canceled["status"] == "Canceled"
    again = bep.fails("job", "cancel", "-n", job["name"])  # ended: 409 naming its state
    assert "HTTP 409" in again and "is Canceled and can no longer be canceled" in again

    path = _upload(store, [("ok.png", data.digit_pngs(1)[0][1]),
                           ("zz-bad.png", data.CORRUPT_PNG)])
    failed = bep.json("batch-endpoint", "invoke", "-n", digits_endpoint, "--input", path,
                      "--stream")
    assert failed["progress"]["items"] == {"succeeded": 1, "failed": 1, "canceled": 0}
    retried = bep.json("job", "retry", "-n", failed["name"])
    # exactly the failed item again (the corrupt file fails again), nothing else: a job in
    # which no item succeeded ends Failed, and --stream says so
    assert "ended Failed: no item succeeded" in bep.fails("job", "stream", "-n", retried["name"])
    retried = bep.json("job", "show", "-n", retried["name"])
    assert retried["progress"]["items"] == {"succeeded": 0, "failed": 1, "canceled": 0}
    assert "HTTP 409" in bep.fails("job", "retry", "-n", failed["name"])  # retried already
