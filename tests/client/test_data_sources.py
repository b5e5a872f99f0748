"""Data where users keep it, through the real host, the `bep` CLI and the Python client, with
only the service's URL and function key (no storage credentials): a local folder uploaded
through the service, SAS and public URLs of a second account, a datastore with its account
key, data assets, literal inputs, `--set` overrides. No SAS or key shows in any answer,
CLI output or host log line."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

from client import BatchClient, Data, Datastore, Input
from client import _upload as uploads
from samples import data, models
from tests.conftest import SECOND_ACCOUNT, SECOND_KEY
from tests.e2e.conftest import output, put_deployment, put_endpoint, register

FILES = data.digit_pngs(7)


@pytest.fixture(scope="module")
def key_only(service):
    """The Python client with the function key and nothing else."""
    with BatchClient(service.api, service.function_key) as client:
        yield client


@pytest.fixture(scope="module")
def endpoint(key_only):
    name = "data-" + uuid.uuid4().hex[:6]
    register(key_only, "digits-data", name, models.digits_classifier())
    put_endpoint(key_only, name)
    put_deployment(key_only, name, "blue", {
        "model": f"azureml:digits-data:{name}", "scoring": models.DIGITS_SCORING,
        "settings": {"mini_batch_size": 3}, "resources": {"instance_count": 1}})
    endpoint = key_only.batch_endpoints.get(name)
    endpoint.defaults.deployment_name = "blue"  # azure-ai-ml's attribute form
    key_only.batch_endpoints.begin_create_or_update(endpoint).result()
    assert key_only.batch_endpoints.get(name).defaults.deployment_name == "blue"
    return name


@pytest.fixture(scope="module")
def user_account(e2e_azurite):
    """The user's own account: a private container and a public one with the images."""
    service = BlobServiceClient.from_connection_string(
        e2e_azurite.account_connection_string(SECOND_ACCOUNT))
    suffix = uuid.uuid4().hex[:8]
    private = service.create_container(f"private-{suffix}")
    public = service.create_container(f"public-{suffix}", public_access="container")
    for container in (private, public):
        for name, blob, _ in FILES:
            container.upload_blob(f"images/{name}", blob)
    sas = generate_container_sas(SECOND_ACCOUNT, private.container_name,
                                 account_key=SECOND_KEY,
                                 permission=ContainerSasPermissions(read=True, list=True),
                                 expiry=datetime.now(UTC) + timedelta(hours=1))
    base = e2e_azurite.blob_endpoint(SECOND_ACCOUNT)
    return {"private": f"{base}/{private.container_name}/images", "sas": sas,
            "public": f"{base}/{public.container_name}/images",
            "container": private.container_name}


@pytest.fixture
def cli(bep):
    """`bep` with BEP_URL and BEP_KEY only."""
    bep.env.pop("BEP_STORAGE_CONNECTION_STRING")
    return bep


def _rows(api, job_name) -> list[dict]:
    done = api.jobs.stream(job_name, timeout=180)
    assert done.status == "Completed", done.error
    return list(csv.DictReader(io.StringIO(output(api, job_name).decode())))


def _secrets(user_account) -> list[str]:
    return [SECOND_KEY, user_account["sas"].split("sig=")[1].split("&")[0]]


def test_cli_local_folder_with_only_url_and_key_and_set_overrides(cli, key_only, endpoint,
                                                                  store, tmp_path):
    folder = tmp_path / "digits"
    folder.mkdir()
    for name, blob, _ in FILES:
        (folder / name).write_bytes(blob)
    invoke = ("batch-endpoint", "invoke", "--name", endpoint, "--input", str(folder),
              "--set", "retry_settings.max_retries=1", "--set", "retry_settings.timeout=45",
              "--set", "mini_batch_size=2", "--set", "error_threshold=3",
              "--set", "output_file_name=out.csv", "--set", "logging_level=debug")
    job = cli.json(*invoke)
    rows = _rows(key_only, job["name"])
    assert sorted(r["file_name"] for r in rows) == sorted(n for n, _, _ in FILES)
    settings = key_only.jobs.get(job["name"]).extra["settings"]
    assert settings["retry_settings"] == {"max_retries": 1, "timeout": 45}
    assert (settings["mini_batch_size"], settings["error_threshold"],
            settings["output_file_name"], settings["logging_level"]) == (2, 3, "out.csv",
                                                                          "debug")
    path = job["inputs"]["input_data"]["path"]
    assert path.startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/")
    uploaded = store.container("workspaceblobstore")
    prefix = path.split("/paths/", 1)[1].rsplit("/", 1)[0]
    before = {b.name: b.etag for b in uploaded.list_blobs(name_starts_with=prefix)}
    assert f"{prefix}/{uploads.MARKER}" in before and len(before) == len(FILES) + 1
    again = cli.json(*invoke[:6], "--set", "output_file_name=again.csv")
    assert again["inputs"]["input_data"]["path"] == path  # content-addressed: skipped
    assert {b.name: b.etag for b in uploaded.list_blobs(name_starts_with=prefix)} == before
    assert len(_rows(key_only, again["name"])) == len(FILES)


def test_cli_sas_url_datastore_with_key_and_data_assets(cli, key_only, endpoint, user_account,
                                                        service, tmp_path):
    sas_url = f"{user_account['private']}?{user_account['sas']}"
    job = cli.json("batch-endpoint", "invoke", "--name", endpoint, "--input", sas_url)
    assert job["inputs"]["input_data"]["path"] == f"{user_account['private']}?<SAS>"
    assert len(_rows(key_only, job["name"])) == len(FILES)

    store_name = "userdata-" + uuid.uuid4().hex[:6]
    (tmp_path / "datastore.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/azureBlob.schema.json\n"
        f"name: {store_name}\ntype: azure_blob\naccount_name: {SECOND_ACCOUNT}\n"
        f"container_name: {user_account['container']}\ncredentials:\n"
        f"  account_key: {SECOND_KEY}\n")
    created = cli.run("datastore", "create", "--file", str(tmp_path / "datastore.yml"))
    shown = cli.run("datastore", "show", "--name", store_name).stdout
    assert json.loads(shown)["credentials"] == {"type": "account_key"}
    listed = cli.run("datastore", "list").stdout
    by_store = cli.json("batch-endpoint", "invoke", "--name", endpoint, "--input",
                        f"azureml://datastores/{store_name}/paths/images")
    assert len(_rows(key_only, by_store["name"])) == len(FILES)

    asset = "mnist-" + uuid.uuid4().hex[:6]
    cli.run("data", "create", "--name", asset, "--version", "1", "--path",
            f"azureml://datastores/{store_name}/paths/images")
    (tmp_path / "data.yml").write_text(f"name: {asset}\ntype: uri_folder\n"
                                       f"path: {user_account['public']}\n")
    two = cli.json("data", "create", "--file", str(tmp_path / "data.yml"))
    assert two["version"] == "2" and two["id"] == f"azureml:{asset}:2"
    for ref, resolved in ((f"azureml:{asset}:1", f"azureml://datastores/{store_name}/paths/"
                           "images"), (f"azureml:{asset}@latest", user_account["public"])):
        job = cli.json("batch-endpoint", "invoke", "--name", endpoint, "--input", ref)
        assert job["inputs"]["input_data"]["resolved_path"] == resolved
        assert len(_rows(key_only, job["name"])) == len(FILES)
    versions = cli.json("data", "list", "--name", asset)
    assert [v["version"] for v in versions] == ["1", "2"]
    assert cli.json("data", "show", "--name", asset, "--label", "latest")["version"] == "2"
    cli.run("data", "delete", "--name", asset, "--version", "1", "--yes")
    assert "not found" in cli.fails("data", "show", "--name", asset, "--version", "1")

    said = created.stdout + created.stderr + shown + listed + json.dumps(versions)
    for secret in _secrets(user_account):
        assert secret not in said
        assert secret not in service.logs()


def test_python_client_inputs_with_a_literal_and_a_local_upload_in_parts(
        key_only, endpoint, user_account, service, store, tmp_path, monkeypatch):
    job = key_only.batch_endpoints.invoke(endpoint_name=endpoint, inputs={
        "images": Input(type="uri_folder", path=user_account["public"]),
        "threshold": Input(type="number", default=0.5)})
    assert job.inputs["threshold"] == {"type": "number", "value": 0.5}
    assert len(_rows(key_only, job.name)) == len(FILES)
    done = key_only.jobs.get(job.name)
    assert done.extra["properties"]["InputData"]["threshold"] == {"JobInputType": "Literal",
                                                                  "Value": "0.5"}

    monkeypatch.setattr(uploads, "PART_BYTES", 1000)  # a "big" file goes in parts
    big = tmp_path / "big.bin"
    big.write_bytes(uuid.uuid4().bytes * 200)  # 3,200 bytes: 4 parts
    uri = key_only.data.create_or_update(
        Data(name="blob-" + uuid.uuid4().hex[:6], path=str(big))).path
    assert uri.endswith("/big.bin")
    path = uri.split("/paths/", 1)[1]
    assert store.container("workspaceblobstore").download_blob(path).readall() == \
        big.read_bytes()
    single = key_only.batch_endpoints.invoke(endpoint, input=Input(
        type="uri_file", path=f"{user_account['private']}/{FILES[0][0]}?{user_account['sas']}"))
    assert [r["file_name"] for r in _rows(key_only, single.name)] == [FILES[0][0]]
    assert all(s not in service.logs() for s in _secrets(user_account))


def test_refusals_through_the_api_are_4xx_with_clear_messages(key_only, endpoint,
                                                              user_account):
    from azure.core.exceptions import HttpResponseError

    cases = [
        (user_account["private"], 400, "cannot read"),
        ("https://evil.example.com/c/images", 400, "not an Azure Storage"),
        ("https://10.1.2.3/c/images", 400, "not an IP address"),
        ("azureml:no-such-data:1", 404, "not found"),
    ]
    for path, status, message in cases:
        with pytest.raises(HttpResponseError) as err:
            key_only.batch_endpoints.invoke(endpoint, input=path)
        assert err.value.status_code == status and message in str(err.value.message), path
    with pytest.raises(HttpResponseError) as err:
        key_only.batch_endpoints.invoke(endpoint, inputs={
            "a": Input(path=user_account["public"]), "b": Input(path=user_account["public"])})
    assert err.value.status_code == 400 and "inputs.b" in str(err.value.message)
    with pytest.raises(HttpResponseError) as err:
        key_only.datastores.create_or_update(Datastore(
            name="sp", account_name=SECOND_ACCOUNT, container_name="x-data",
            credentials={"tenant_id": "t", "client_id": "c", "client_secret": "s3cr3t"}))
    assert err.value.status_code == 400 and "service principals" in str(err.value.message)
    assert "s3cr3t" not in str(err.value.message)


def test_local_paths_are_relative_to_the_yaml(tmp_path):
    from client import load_data

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.png").write_bytes(b"x")
    (tmp_path / "data.yml").write_text("name: d\npath: sub\n")
    assert Path(load_data(tmp_path / "data.yml").path) == (tmp_path / "sub").resolve()
