"""Users' code through the real local host: a host whose app knows its master key
(BATCH_MASTER_KEY, as a Key Vault reference gives it in Azure), the `bep` CLI as a user runs
it, and the example files."""

from __future__ import annotations

import json
import secrets

import pytest

from devhost import azurite as azurite_process
from devhost.testing import HostProcess, make_project
from tests.client.conftest import Bep, bep, examples, installed  # noqa: F401 (fixtures)
from tests.e2e.conftest import ROOT


@pytest.fixture(scope="package")
def e2e_azurite():
    server = azurite_process.start(in_memory=True)
    yield server
    server.stop()


@pytest.fixture(scope="package")
def service(e2e_azurite, tmp_path_factory):
    master = secrets.token_urlsafe(40)
    project = make_project(tmp_path_factory.mktemp("app") / "app", ROOT / "function_app.py",
                           e2e_azurite.connection_string, {"BATCH_MASTER_KEY": master},
                           host_json=ROOT / "host.json")
    keys = project / ".devhost" / "keys.json"  # the host's keys, known before it starts
    keys.parent.mkdir()
    keys.write_text(json.dumps({
        "masterKey": master, "functionKeys": {"default": secrets.token_urlsafe(40)},
        "systemKeys": {"eventgrid_extension": secrets.token_urlsafe(40),
                       "blobs_extension": secrets.token_urlsafe(40)}}))
    env = {"DEVHOST_QUEUE_LEASE_SECONDS": "5",
           "AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:00.5"}
    with HostProcess(project, workers=2, env=env) as host:
        assert host.master_key == master
        yield host

