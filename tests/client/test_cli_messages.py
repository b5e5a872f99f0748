"""CLI errors that say what to do, and output that fits a terminal: each message a new user
met, through the installed `bep` against the real local host."""

from __future__ import annotations

import json

import pytest

from samples import data
from tests.client.test_cli_errors_config import (
    _upload,
    digits_endpoint,  # noqa: F401 (a fixture)
)

UNREACHABLE_STORAGE = (  # any request to it fails at once: none may be made
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey="
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1")


@pytest.fixture
def folder(bep):
    (bep.cwd / "sample").mkdir()
    for name, blob, _ in data.digit_pngs(2):
        (bep.cwd / "sample" / name).write_bytes(blob)
    return "sample"


def test_an_upload_without_storage_goes_through_the_service(bep, folder,
                                                           digits_endpoint):  # noqa: F811
    said = bep.run("batch-endpoint", "invoke", "-n", digits_endpoint, "--input", folder,
                   "-o", "json", env={"BEP_STORAGE_CONNECTION_STRING": ""})
    assert "/paths/LocalUpload/" in json.loads(said.stdout)["inputs"]["input_data"]["path"]


@pytest.mark.parametrize("path", ["./nope-folder", "nope-folder", "../nope", "/no/such/dir"])
def test_a_local_path_that_does_not_exist_is_said_before_any_request(bep, path):
    said = bep.fails("batch-endpoint", "invoke", "-n", "whatever", "--input", path,
                     env={"BEP_URL": "http://127.0.0.1:9/api"})  # a request would fail
    assert said.startswith(f"error: --input: no local file or folder '{path}'")
    assert "azureml://datastores/<datastore>/paths/<path>" in said


def test_the_endpoint_is_checked_before_uploading(bep, folder):
    said = bep.fails("batch-endpoint", "invoke", "-n", "no-such-endpoint", "--input", folder,
                     env={"BEP_STORAGE_CONNECTION_STRING": UNREACHABLE_STORAGE})
    assert said == "error: batch endpoint no-such-endpoint not found (HTTP 404 NotFound)"


def test_a_401_says_which_key_was_sent_and_where_keys_come_from(bep, service):
    said = bep.fails("datastore", "list", env={"BEP_KEY": "wrong"})
    assert f"the service at {service.api} refused the function key from BEP_KEY (HTTP 401)" \
        in said
    assert "scripts/run" in said and "az functionapp keys list" in said
    assert "refused the function key from --key" in bep.fails(
        "datastore", "list", "--key", "wrong")
    bep.run("configure", "--key", "wrong-too", env={"BEP_KEY": ""})
    assert "refused the function key from the config file" in bep.fails(
        "datastore", "list", env={"BEP_KEY": ""})
    assert "refused no function key (none given by --key, BEP_KEY" in bep.fails(
        "datastore", "list", env={"BEP_KEY": "", "XDG_CONFIG_HOME": str(bep.cwd / "none")})


def test_service_options_are_taken_before_the_group_too(bep, service):
    env = {"BEP_KEY": ""}
    assert "refused the function key from --key" in bep.fails(
        "--key", "wrong", "batch-endpoint", "list", env=env)
    names = bep.run("--key", service.function_key, "-o", "tsv", "--query", "[].name",
                    "datastore", "list", env=env).stdout.split()
    assert "workspaceblobstore" in names
    # after the verb wins over before the group
    assert bep.run("--key", "wrong", "datastore", "list", "--key", service.function_key,
                   env=env).returncode == 0


def test_stream_ends_with_a_summary_and_the_download_hint(bep, store,
                                                          digits_endpoint):  # noqa: F811
    path = _upload(store, [(n, b) for n, b, _ in data.digit_pngs(3)])
    done = bep.run("batch-endpoint", "invoke", "-n", digits_endpoint, "--input", path,
                   "--stream")
    assert done.stdout == ""  # no job JSON unless -o or --query asks for it
    last = done.stderr.strip().splitlines()[-3:]
    assert last[0].startswith("Completed in ") and last[0].endswith(
        ": 3 items succeeded, 0 failed, 0 canceled")
    assert last[2].startswith("download them with: bep job download --name batchjob-")
    name = last[2].split("--name ")[1].split()[0]
    assert bep.json("job", "stream", "-n", name)["name"] == name  # -o json: the job


def test_table_shows_the_columns_of_each_resource(bep, store, digits_endpoint):  # noqa: F811
    heads = bep.run("model", "list", "-o", "table").stdout.splitlines()[0].split()
    assert heads == ["Name", "Version", "Type", "Description"]
    path = _upload(store, [(n, b) for n, b, _ in data.digit_pngs(1)])
    for _ in range(3):
        bep.run("batch-endpoint", "invoke", "-n", digits_endpoint, "--input", path)
    lines = bep.run("job", "list", "-o", "table", "--max-results", "2").stdout.splitlines()
    assert lines[0].split() == ["Name", "Status", "Endpoint", "Deployment", "Created",
                                "Succeeded", "Failed", "Canceled"]
    assert len(lines) == 4  # the header, its rule and two jobs
    newest = bep.json("batch-endpoint", "list-jobs", "-n", digits_endpoint, "-r", "3")
    created = [j["creation_context"]["created_at"] for j in newest]
    assert len(newest) == 3 and created == sorted(created, reverse=True)


def test_job_show_web_prints_the_studio_page(bep, service, store,
                                             digits_endpoint):  # noqa: F811
    path = _upload(store, [(n, b) for n, b, _ in data.digit_pngs(1)])
    job = bep.json("batch-endpoint", "invoke", "-n", digits_endpoint, "--input", path)
    shown = bep.run("job", "show", "-n", job["name"], "--web")
    assert shown.stdout.strip() == f"{service.api}/studio/#/jobs/{job['name']}"


def test_every_verb_has_an_example_that_parses():
    import shlex

    import click

    from client.cli import cli
    from client.cli._common import EXAMPLES

    verbs = {f"{group} {verb}": command for group, g in cli.commands.items()
             if isinstance(g, click.Group) for verb, command in g.commands.items()}
    assert set(EXAMPLES) == set(verbs)
    for path, command in verbs.items():
        assert f"Example:\n  {EXAMPLES[path]}" in command.epilog
        words = shlex.split(EXAMPLES[path].replace("<job>", "j"))
        assert " ".join(words[1:3]) == path
        command.make_context(path, words[3:])  # an unknown flag or missing value raises
