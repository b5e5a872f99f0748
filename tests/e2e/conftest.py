"""The real function_app.py served by the real local host over a real Azurite."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from client import BatchClient, Model, load_batch_deployment, load_batch_endpoint
from devhost import azurite as azurite_process
from devhost.testing import HostProcess, make_project
from samples import models
from shared.storage.clients import Storage
from tests.conftest import SECOND_ACCOUNT, SECOND_KEY

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="package")
def e2e_azurite():
    """Its own Azurite: the in-process tests drive the same queue names by hand. It serves a
    second account too, a user's own (tests/conftest.py)."""
    server = azurite_process.start(in_memory=True, accounts={SECOND_ACCOUNT: SECOND_KEY})
    yield server
    server.stop()


@pytest.fixture(scope="package")
def service(e2e_azurite, tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("app") / "app", ROOT / "function_app.py",
                           e2e_azurite.connection_string,
                           {"BATCH_INBOX_CONTAINER": "inbox", "BATCH_DROP_QUIET_SECONDS": "2",
                            "BATCH_ALLOW_LOOPBACK_WEBHOOKS": "true",
                            "BATCH_SECRETS_KEY": Fernet.generate_key().decode()},
                           host_json=ROOT / "host.json")
    env = {"DEVHOST_QUEUE_LEASE_SECONDS": "5", "DEVHOST_BLOB_SCAN_SECONDS": "0.5",
           "AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:00.5"}
    with HostProcess(project, workers=2, env=env) as host:
        yield host


@pytest.fixture(scope="package")
def api(service):
    with BatchClient(service.api, service.function_key) as client:
        yield client


def register(api: BatchClient, name: str, version: str, onnx: bytes) -> Model:
    """Register ONNX bytes (the client registers files, as azure-ai-ml does)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.onnx"
        path.write_bytes(onnx)
        return api.models.create_or_update(Model(name=name, version=version, path=str(path)))


def put_endpoint(api: BatchClient, name: str, fields: dict[str, Any] | None = None):
    endpoint = load_batch_endpoint(params_override=[{"name": name, **(fields or {})}])
    return api.batch_endpoints.begin_create_or_update(endpoint).result()


def put_deployment(api: BatchClient, endpoint: str, name: str, fields: dict[str, Any]):
    deployment = load_batch_deployment(
        params_override=[{"name": name, "endpoint_name": endpoint, **fields}])
    return api.batch_deployments.begin_create_or_update(deployment).result()


def output(api: BatchClient, job: str, output_name: str = "score") -> bytes:
    """One output's bytes (the client downloads to a folder, as `az ml job download`)."""
    with tempfile.TemporaryDirectory() as folder:
        (path,) = api.jobs.download(job, output_name=output_name, download_path=folder)
        return path.read_bytes()


@pytest.fixture(scope="package")
def store(e2e_azurite):
    return Storage.from_connection_string(e2e_azurite.connection_string)


@pytest.fixture(scope="package")
def digits_endpoint(api):
    """An endpoint with two deployments of the digits model (blue is the default)."""
    name = "digits-" + uuid.uuid4().hex[:6]
    register(api, "digits-e2e", "1", models.digits_classifier())
    register(api, "digits-e2e", "2", models.digits_classifier())
    put_endpoint(api, name, {"description": "e2e"})
    for deployment, version in (("blue", "1"), ("green", "2")):
        put_deployment(api, name, deployment, {
            "model": f"azureml:digits-e2e:{version}", "scoring": models.DIGITS_SCORING,
            "settings": {"mini_batch_size": 5}, "resources": {"instance_count": 2}})
    return name
