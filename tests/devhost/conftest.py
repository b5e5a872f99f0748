"""One sample host (two workers) shared by the local-host tests; tests that need another
configuration start their own."""

from __future__ import annotations

import pytest
from azure.storage.blob import BlobServiceClient

from devhost.testing import HostProcess
from tests.devhost.support import FAST, make_project


@pytest.fixture(scope="package")
def host(azurite, tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("dhapp"), azurite.connection_string)
    with HostProcess(project, workers=2, env={**FAST, "DEVHOST_QUEUE_LEASE_SECONDS": "4"}) as h:
        yield h


@pytest.fixture(scope="package")
def conn(azurite) -> str:
    return azurite.connection_string


@pytest.fixture(scope="package")
def blobs(azurite):
    return BlobServiceClient.from_connection_string(azurite.connection_string)
