"""The real function_app.py served by the real local host over a real Azurite."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from client import BatchEndpointsClient
from devhost import azurite as azurite_process
from devhost.testing import HostProcess, make_project
from samples import models
from shared.storage.clients import Storage

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def e2e_azurite():
    """Its own Azurite: the in-process tests drive the same queue names by hand."""
    server = azurite_process.start(in_memory=True)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def service(e2e_azurite, tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("app") / "app", ROOT / "function_app.py",
                           e2e_azurite.connection_string,
                           {"BATCH_INBOX_CONTAINER": "inbox", "BATCH_DROP_QUIET_SECONDS": "2",
                            "BATCH_ALLOW_LOOPBACK_WEBHOOKS": "true"},
                           host_json=ROOT / "host.json")
    env = {"DEVHOST_QUEUE_LEASE_SECONDS": "5", "DEVHOST_BLOB_SCAN_SECONDS": "0.5",
           "AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:00.5"}
    with HostProcess(project, workers=2, env=env) as host:
        yield host


@pytest.fixture(scope="session")
def api(service):
    with BatchEndpointsClient(service.api, service.function_key) as client:
        yield client


@pytest.fixture(scope="session")
def store(e2e_azurite):
    return Storage.from_connection_string(e2e_azurite.connection_string)


@pytest.fixture(scope="session")
def digits_endpoint(api):
    """An endpoint with two deployments of the digits model (blue is the default)."""
    name = "digits-" + uuid.uuid4().hex[:6]
    api.create_model("digits-e2e", "1", data=models.digits_classifier())
    api.create_model("digits-e2e", "2", data=models.digits_classifier())
    api.create_or_update_endpoint(name, {"description": "e2e"})
    for deployment, version in (("blue", "1"), ("green", "2")):
        api.create_or_update_deployment(name, deployment, {
            "model": f"azureml:digits-e2e:{version}", "scoring": models.DIGITS_SCORING,
            "settings": {"mini_batch_size": 5}, "resources": {"instance_count": 2}})
    return name
