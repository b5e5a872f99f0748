"""Inputs from another storage account (a second Azurite account, path-style at the
emulator's address): public containers, SAS URLs of folders and files, the host rules, and
a SAS that never shows in a job, a log line or an error and is dropped when the job ends."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.storage.blob import (
    BlobSasPermissions,
    BlobServiceClient,
    ContainerSasPermissions,
    generate_blob_sas,
    generate_container_sas,
)
from cryptography.fernet import Fernet

from shared import config, secrets
from shared.errors import ConflictError, ValidationError
from shared.events import outbound
from shared.jobs import invoke, paths, records, retry, views
from shared.jobs.lifecycle import JobStatus
from tests import builders
from tests.conftest import SECOND_ACCOUNT, SECOND_KEY
from tests.domain.support import digits_endpoint, predictions, summary
from tests.inprocess import InProcessHost


@pytest.fixture
def other(azurite, storage, monkeypatch):
    """The user's account: a public container and a private one, with the same images."""
    monkeypatch.setenv("BATCH_SECRETS_KEY", Fernet.generate_key().decode())
    service = BlobServiceClient.from_connection_string(
        azurite.account_connection_string(SECOND_ACCOUNT))
    suffix = uuid.uuid4().hex[:8]
    public = service.create_container(f"public-{suffix}", public_access="container")
    private = service.create_container(f"private-{suffix}")
    files = builders.digit_pngs(6)
    for container in (public, private):
        for name, data, _ in files:
            container.upload_blob(f"images/{name}", data)
    return {"endpoint": azurite.blob_endpoint(SECOND_ACCOUNT), "public": public.container_name,
            "private": private.container_name, "files": files}


def _sas(container: str) -> str:
    return generate_container_sas(SECOND_ACCOUNT, container, account_key=SECOND_KEY,
                                  permission=ContainerSasPermissions(read=True, list=True),
                                  expiry=datetime.now(UTC) + timedelta(hours=1))


def _run(storage, endpoint: str, path: str, kind: str = "uri_folder"):
    request = invoke.parse_request({"inputs": {"images": {"type": kind, "path": path}}})
    job, _ = invoke.invoke(storage, endpoint, request)
    InProcessHost(storage).run_until_idle()
    return records.load(storage, job.name)


def _everything_shown(storage, job) -> str:
    """All the job shows anywhere: its row, its resource, its log lines, its summary, its
    event."""
    row = storage.table(config.TABLE_JOBS).get_entity(job.name, records.JOB_ROW)
    return json.dumps([dict(row), views.job_resource(job, "http://x/api"),
                       records.log_lines(storage, job.name), views.progress_log(storage, job),
                       summary(storage, job.name), outbound.job_event(job).data],
                      default=str)


def test_public_container_folder_is_scored_anonymously(storage, other):
    endpoint = digits_endpoint(storage)
    url = f"{other['endpoint']}/{other['public']}/images"
    job = _run(storage, endpoint, url)
    assert job.status == JobStatus.COMPLETED, job.error
    assert job.input["access"] == "anonymous" and job.input["uri"] == url
    rows = predictions(storage, job.name)
    assert [r["file_name"] for r in rows] == [n for n, _, _ in other["files"]]
    want = builders.expected_labels(builders.digits_model(), [x for _, _, x in other["files"]])
    assert [int(r["prediction"]) for r in rows] == want


def test_sas_folder_is_scored_and_the_sas_is_never_shown_and_dropped_at_the_end(
        storage, other, caplog):
    caplog.set_level(logging.INFO)
    endpoint = digits_endpoint(storage)
    sas = _sas(other["private"])
    job = _run(storage, endpoint, f"{other['endpoint']}/{other['private']}/images?{sas}")
    assert job.status == JobStatus.COMPLETED, job.error
    assert len(predictions(storage, job.name)) == len(other["files"])
    assert job.input["uri"].endswith(f"/{other['private']}/images?<SAS>")
    signature = sas.split("sig=")[1].split("&")[0]
    shown = _everything_shown(storage, job) + caplog.text
    where = shown.find(signature)
    assert where < 0, shown[max(0, where - 300):where + 50]
    assert secrets.get(storage, secrets.JOB, job.name) is None  # dropped when the job ended
    with pytest.raises(ConflictError, match="SAS is not kept"):
        retry.retry(storage, job.name)


def test_sas_of_one_file(storage, other):
    endpoint = digits_endpoint(storage)
    name = other["files"][2][0]
    sas = generate_blob_sas(SECOND_ACCOUNT, other["private"], f"images/{name}",
                            account_key=SECOND_KEY, permission=BlobSasPermissions(read=True),
                            expiry=datetime.now(UTC) + timedelta(hours=1))
    job = _run(storage, endpoint, f"{other['endpoint']}/{other['private']}/images/{name}?{sas}",
               "uri_file")
    assert job.status == JobStatus.COMPLETED, job.error
    assert [r["file_name"] for r in predictions(storage, job.name)] == [name]


def test_private_container_without_sas_is_refused_before_a_job(storage, other):
    endpoint = digits_endpoint(storage)
    request = invoke.parse_request({"inputs": {"x": {
        "path": f"{other['endpoint']}/{other['private']}/images"}}})
    with pytest.raises(ValidationError, match="cannot read .* Storage Blob Data Reader"):
        invoke.invoke(storage, endpoint, request)


def test_expired_or_wrong_sas_is_refused_without_showing_it(storage, other):
    endpoint = digits_endpoint(storage)
    bad = _sas(other["private"]).replace("sig=", "sig=AAAA")
    request = invoke.parse_request({"inputs": {"x": {
        "path": f"{other['endpoint']}/{other['private']}/images?{bad}"}}})
    with pytest.raises(ValidationError) as err:
        invoke.invoke(storage, endpoint, request)
    assert "HTTP 403" in str(err.value) and "?<SAS>" in str(err.value)
    assert "sig=" not in str(err.value)


def test_outputs_stay_in_the_apps_datastores(storage, other):
    endpoint = digits_endpoint(storage)
    request = invoke.parse_request({
        "inputs": {"x": {"path": f"{other['endpoint']}/{other['public']}/images"}},
        "outputs": {"score": {"path": f"{other['endpoint']}/{other['public']}/out?{_sas('x')}"}}})
    with pytest.raises(ValidationError) as err:
        invoke.invoke(storage, endpoint, request)
    assert err.value.field == "outputs.score.path" and "sig=" not in str(err.value)


@pytest.mark.parametrize(("url", "rule"), [
    ("https://evil.example.com/c/images", "not an Azure Storage blob or dfs endpoint"),
    ("https://10.0.0.7/account/c/images", "not an IP address"),
    ("https://[::1]/c/images", "not an IP address"),
    ("http://someaccount.blob.core.windows.net/data/x", "must be https"),
    ("https://someaccount.blob.core.windows.net/data/x?comp=list", "must be a SAS token"),
    ("https://user:pw@someaccount.blob.core.windows.net/data/x", "user name"),
    ("https://localhost/data/x", "not an Azure Storage"),
    ("https://bad-name.blob.core.windows.net/data/x", "not a storage account name"),
])
def test_refused_hosts(storage, url, rule):
    with pytest.raises(ValidationError, match=rule) as err:
        paths.resolve(storage, url, "uri_folder", "inputs")
    assert err.value.field == "inputs.path"


def test_allow_listed_host_must_still_resolve_to_public_addresses(storage, monkeypatch):
    monkeypatch.setenv("BATCH_STORAGE_ALLOWED_HOSTS", "localhost, storage.internal.test")
    with pytest.raises(ValidationError, match="only publicly routable hosts"):
        paths.resolve(storage, "https://localhost/data/x", "uri_folder", "inputs")
    with pytest.raises(ValidationError, match="does not resolve"):
        paths.resolve(storage, "https://storage.internal.test/data/x", "uri_folder", "inputs")


@pytest.mark.parametrize("url", [
    "abfss://data@someaccount.dfs.core.windows.net/mnist/sample",
    "https://someaccount.dfs.core.windows.net/data/mnist/sample",
    "wasbs://data@someaccount.blob.core.windows.net/mnist/sample",
])
def test_dfs_and_hadoop_forms_are_read_at_the_blob_endpoint(storage, url):
    # This machine has no DNS for Azure: the host rules pass and the blob host is looked up.
    with pytest.raises(ValidationError, match="someaccount.blob.core.windows.net does not "
                       "resolve"):
        paths.resolve(storage, url, "uri_folder", "inputs")


def test_the_storage_suffix_follows_the_cloud(storage, monkeypatch):
    monkeypatch.setenv("BATCH_STORAGE_SUFFIX", "core.chinacloudapi.cn")
    with pytest.raises(ValidationError, match="not an Azure Storage"):
        paths.resolve(storage, "https://acct.blob.core.windows.net/c/x", "uri_folder", "in")
    with pytest.raises(ValidationError, match="acct.blob.core.chinacloudapi.cn does not"):
        paths.resolve(storage, "https://acct.dfs.core.chinacloudapi.cn/c/x", "uri_folder", "in")


def test_a_sas_input_needs_the_secrets_key(storage, other, monkeypatch):
    monkeypatch.delenv("BATCH_SECRETS_KEY")
    endpoint = digits_endpoint(storage)
    request = invoke.parse_request({"inputs": {"x": {
        "path": f"{other['endpoint']}/{other['private']}/images?{_sas(other['private'])}"}}})
    from shared.errors import ConfigError
    with pytest.raises(ConfigError, match="BATCH_SECRETS_KEY"):
        invoke.invoke(storage, endpoint, request)


# Datastores on the other account (Azure ML's datastore YAML, credentials write-only).


def _datastore(storage, name, body):
    from shared.resources import datastores

    return datastores.create_or_update(storage, name, body).value


@pytest.mark.parametrize("how", ["account_key", "sas_token", "none", "gen2"])
def test_datastore_on_another_account_is_read_with_its_credentials(storage, other, how):
    from shared.resources import datastores

    endpoint = digits_endpoint(storage)
    name = f"ext-{how.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
    container = other["public"] if how == "none" else other["private"]
    body = {"type": "azure_blob", "account_name": SECOND_ACCOUNT, "container_name": container,
            "description": "the user's images"}
    secret = {"account_key": SECOND_KEY, "sas_token": _sas(container)}.get(how)
    if how == "gen2":
        body |= {"type": "azure_data_lake_gen2", "filesystem": body.pop("container_name"),
                 "protocol": "abfss", "credentials": {"account_key": SECOND_KEY}}
        secret = SECOND_KEY
    elif secret:
        body["credentials"] = {how: secret}
    answered = _datastore(storage, name, body)
    kind = {"sas_token": "sas", "gen2": "account_key"}.get(how, how)
    assert answered["credentials"] == {"type": kind}
    job = _run(storage, endpoint, f"azureml://datastores/{name}/paths/images")
    assert job.status == JobStatus.COMPLETED, job.error
    assert len(predictions(storage, job.name)) == len(other["files"])
    assert job.input["uri"] == f"azureml://datastores/{name}/paths/images"
    if secret:
        shown = json.dumps([datastores.show(storage, name),
                            datastores.list_page(storage, _first_page()).items,
                            dict(storage.table(config.TABLE_DATASTORES).get_entity(
                                "datastore", name))]) + _everything_shown(storage, job)
        assert secret not in shown and secret.split("sig=")[-1][:20] not in shown
        row = storage.table(config.TABLE_SECRETS).get_entity(secrets.DATASTORE, name)
        assert secret not in row["value"]  # encrypted
        assert secrets.get(storage, secrets.JOB, job.name) is None  # the job's copy: gone
    listing = datastores.browse(storage, name, "images")
    assert [f["name"] for f in listing["files"]] == [f"images/{n}" for n, _, _ in other["files"]]
    datastores.delete(storage, name)
    assert secrets.get(storage, secrets.DATASTORE, name) is None


def _first_page():
    from shared.resources import paging

    return paging.PageRequest(top=100, token=None)


@pytest.mark.parametrize(("body", "field", "rule"), [
    ({"container_name": "data", "credentials": {"client_id": "x", "tenant_id": "y",
                                                  "client_secret": "z"}},
     "credentials.tenant_id", "service principals"),
    ({"container_name": "data", "credentials": {"account_key": "a", "sas_token": "b"}},
     "credentials", "not both"),
    ({"container_name": "data", "filesystem": "data"}, "filesystem", "azure_data_lake_gen2"),
    ({"type": "azure_data_lake_gen2", "container_name": "data"}, "container_name",
     "names a filesystem"),
    ({"container_name": "data", "protocol": "abfss"}, "protocol", "https, wasbs"),
    ({"container_name": "data", "account_name": "Bad_Name"}, "account_name", "lowercase"),
])
def test_refused_datastores(storage, other, body, field, rule):
    body = {"account_name": SECOND_ACCOUNT, **body}
    with pytest.raises(ValidationError, match=rule) as err:
        _datastore(storage, "refused", body)
    assert err.value.field == field


def test_credentials_on_the_apps_own_account_are_refused(storage, other):
    with pytest.raises(ValidationError, match="its own access") as err:
        _datastore(storage, "own-with-key", {"container_name": "own-data",
                                             "credentials": {"account_key": SECOND_KEY}})
    assert SECOND_KEY not in str(err.value)


def test_other_accounts_datastore_is_read_only(storage, other):
    from shared.resources import datastores

    endpoint = digits_endpoint(storage)
    name = f"ro-{uuid.uuid4().hex[:6]}"
    _datastore(storage, name, {"account_name": SECOND_ACCOUNT, "container_name": other["public"]})
    request = invoke.parse_request({
        "inputs": {"x": {"path": f"azureml://datastores/{name}/paths/images"}},
        "outputs": {"score": {"path": f"azureml://datastores/{name}/paths/out"}}})
    with pytest.raises(ValidationError, match="only reads") as err:
        invoke.invoke(storage, endpoint, request)
    assert err.value.field == "outputs.score.path"
    with pytest.raises(ValidationError, match="only reads"):
        datastores.upload(storage, name, "x/y.png", b"data")
    with pytest.raises(ValidationError, match="registered datastore"):  # not by container
        paths.resolve(storage, f"{other['public']}/images", "uri_folder", "inputs")


# Data assets: versions naming where data is, resolved at invoke time.


def test_data_asset_version_and_latest_resolve_at_invoke(storage, other):
    from shared.errors import NotFoundError
    from shared.resources import data_assets

    endpoint = digits_endpoint(storage)
    name = f"mnist-{uuid.uuid4().hex[:6]}"
    public = f"{other['endpoint']}/{other['public']}/images"
    body = {"type": "uri_folder", "path": public, "description": "digits", "tags": {"a": "b"}}
    one = data_assets.create(storage, name, "1", body)
    assert one.value["id"] == f"azureml:{name}:1"
    assert data_assets.create(storage, name, "1", body).value == one.value  # the same again
    with pytest.raises(ConflictError, match="immutable"):
        data_assets.create(storage, name, "1", {"path": f"{public}/{other['files'][0][0]}",
                                                "type": "uri_file"})
    data_assets.create(storage, name, "2", {"type": "uri_file",
                                            "path": f"{public}/{other['files'][0][0]}"})
    request = invoke.parse_request({"inputs": {"x": {"path": f"azureml:{name}:1"}}})
    queued, _ = invoke.invoke(storage, endpoint, request)
    with pytest.raises(ConflictError, match=f"read by running job.*{queued.name}"):
        data_assets.delete(storage, name, "1")
    InProcessHost(storage).run_until_idle()
    first = records.load(storage, queued.name)
    assert first.status == JobStatus.COMPLETED, first.error
    assert len(predictions(storage, first.name)) == len(other["files"])
    assert views.job_resource(first, "")["inputs"]["x"] == {
        "type": "uri_folder", "path": f"azureml:{name}:1", "resolved_path": public}
    latest = _run(storage, endpoint, f"azureml:{name}@latest")
    assert latest.status == JobStatus.COMPLETED, latest.error
    assert latest.input["data_asset"] == f"azureml:{name}:2"  # the version created last
    assert [r["file_name"] for r in predictions(storage, latest.name)] == [other["files"][0][0]]
    data_assets.delete(storage, name, "1")  # the job ended
    with pytest.raises(NotFoundError):
        data_assets.get(storage, name, "1")
    with pytest.raises(NotFoundError):
        invoke.invoke(storage, endpoint, invoke.parse_request(
            {"inputs": {"x": {"path": f"azureml:{name}:1"}}}))
    with pytest.raises(ValidationError, match="names no version"):
        invoke.invoke(storage, endpoint, invoke.parse_request(
            {"inputs": {"x": {"path": f"azureml:{name}"}}}))


@pytest.mark.parametrize(("path", "rule"), [
    ("azureml:other:1", "not another data asset"),
    ("https://someaccount.blob.core.windows.net/c/x?sv=1&sig=abc", "must not carry a query"),
    ("https://evil.example.com/c/x", "not an Azure Storage"),
    ("azureml://datastores/nope/paths/x", "datastore nope not found"),
])
def test_refused_data_assets(storage, path, rule):
    from shared.errors import ClientError
    from shared.resources import data_assets

    with pytest.raises(ClientError, match=rule) as err:
        data_assets.create(storage, "refused", "1", {"path": path})
    assert "sig=abc" not in str(err.value)


# Literal and named inputs, in the three invoke shapes.


def test_literal_inputs_in_the_three_shapes_reach_the_job(storage, other):
    endpoint = digits_endpoint(storage)
    url = f"{other['endpoint']}/{other['public']}/images"
    native = {"inputs": {"images": {"type": "uri_folder", "path": url},
                         "threshold": {"type": "number", "value": 0.5},
                         "top": {"type": "integer", "default": "3"},
                         "label": {"type": "string", "value": "digits"},
                         "strict": True}}
    rest = {"properties": {"InputData": {
        "images": {"JobInputType": "UriFolder", "Uri": url},
        "threshold": {"JobInputType": "Literal", "Value": "0.5"}}}}
    camel = {"properties": {"inputData": {
        "images": {"jobInputType": "uri_folder", "uri": url},
        "threshold": {"jobInputType": "literal", "value": "0.5"}}}}
    request = invoke.parse_request(native)
    job, _ = invoke.invoke(storage, endpoint, request)
    InProcessHost(storage).run_until_idle()
    job = records.load(storage, job.name)
    assert job.status == JobStatus.COMPLETED, job.error
    assert len(predictions(storage, job.name)) == len(other["files"])
    assert job.literals == {"threshold": 0.5, "top": 3, "label": "digits", "strict": True}
    shown = views.job_resource(job, "")
    assert shown["inputs"]["images"] == {"type": "uri_folder", "path": url}
    assert shown["inputs"]["top"] == {"type": "integer", "value": 3}
    assert shown["properties"]["InputData"]["strict"] == {"JobInputType": "Literal",
                                                          "Value": "True"}
    for body in (rest, camel):
        parsed = invoke.parse_request(body)
        assert (parsed.input_name, parsed.input_path) == ("images", url)
        assert parsed.literals == {"threshold": "0.5"}


@pytest.mark.parametrize(("body", "field", "rule"), [
    ({"inputs": {"a": {"path": "x/y"}, "b": {"path": "x/z"}}}, "inputs.b",
     "scores one file input"),
    ({"inputs": {"n": {"type": "number", "value": 1}}}, "inputs", "names no uri_folder"),
    ({"inputs": {"a": "x/y", "n": {"type": "number", "value": "many"}}}, "inputs.n.value",
     "'many' is not a number"),
    ({"inputs": {"a": "x/y", "n": {"type": "integer", "value": 2.5}}}, "inputs.n.value",
     "not a integer"),
    ({"inputs": {"a": "x/y", "n": {"type": "boolean", "value": "yes"}}}, "inputs.n.value",
     "not a boolean"),
    ({"inputs": {"a": "x/y", "n": {"type": "string"}}}, "inputs.n.value", "needs a value"),
    ({"properties": {"InputData": {"a": {"JobInputType": "Literal", "Uri": "x/y"}}}},
     "properties.InputData.a", "has a Value and no Uri"),
    ({"properties": {"InputData": {"a": {"JobInputType": "UriFolder", "Value": "1"}}}},
     "properties.InputData.a", "has a Uri and no Value"),
])
def test_refused_inputs_name_the_input(body, field, rule):
    with pytest.raises(ValidationError, match=rule) as err:
        invoke.parse_request(body)
    assert err.value.field == field


def test_emulator_accounts_are_named_as_storage_accounts(storage, azurite):
    url = f"http://127.0.0.1:{azurite.ports['blob']}/Not_An_Account/c/x"
    with pytest.raises(ValidationError, match="not a storage account name") as err:
        paths.resolve(storage, url, "uri_folder", "inputs")
    assert err.value.field == "inputs.path"


def test_an_adls_gen2_datastore_of_the_apps_own_account(storage):
    from shared.resources import datastores

    endpoint = digits_endpoint(storage)
    name = f"lake-{uuid.uuid4().hex[:6]}"
    doc = _datastore(storage, name, {"type": "azure_data_lake_gen2", "filesystem": name})
    assert (doc["filesystem"], doc.get("container_name")) == (name, None)
    for file_name, data, _ in builders.digit_pngs(3):
        datastores.upload(storage, name, f"in/{file_name}", data)
    assert len(datastores.browse(storage, name, "in")["files"]) == 3
    job = _run(storage, endpoint, f"azureml://datastores/{name}/paths/in")
    assert job.status == JobStatus.COMPLETED, job.error
    assert len(predictions(storage, job.name)) == 3
    assert paths.resolve(storage, f"{name}/in", "uri_folder", "inputs").datastore == name
