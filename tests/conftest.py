"""Fixtures shared by every test tier: one real Azurite per test session, on free ports."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from devhost import azurite as azurite_process


@pytest.fixture(scope="session")
def azurite() -> Iterator[azurite_process.Azurite]:
    """A real Azurite (in-memory), started on free ports and stopped after the session."""
    server = azurite_process.start(in_memory=True)
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
