"""Fixtures shared by every test tier: one real Azurite per test session, on free ports."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator

import pytest

from devhost import azurite as azurite_process

SECOND_ACCOUNT = "userdata"  # a user's own storage account, beside the app's
SECOND_KEY = base64.b64encode(b"a second Azurite account's key, 64 bytes long for the test!!"
                              ).decode()


@pytest.fixture(scope="session")
def azurite() -> Iterator[azurite_process.Azurite]:
    """A real Azurite (in-memory), started on free ports and stopped after the session;
    besides the app's devstoreaccount1 it serves SECOND_ACCOUNT, a user's own account."""
    server = azurite_process.start(in_memory=True, accounts={SECOND_ACCOUNT: SECOND_KEY})
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def storage_connection_string(azurite: azurite_process.Azurite) -> str:
    return azurite.connection_string


@pytest.fixture
def unique_name() -> str:
    """A short lowercase name that is valid for queues, containers and tables' prefixes."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def storage(azurite: azurite_process.Azurite, monkeypatch: pytest.MonkeyPatch):
    """The app's Storage over the session's Azurite (also what `default_storage()` returns)."""
    from shared.storage.clients import Storage

    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    return Storage.from_connection_string(azurite.connection_string)
