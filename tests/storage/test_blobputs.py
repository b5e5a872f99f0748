"""The lean Put Blob (shared/storage/blobputs.py) and Storage.put against a real Azurite,
side by side with the blob SDK's `upload_blob(..., overwrite=True)`: the same bytes and
content settings under awkward names, replacing what was there, the SDK's errors, and a
part too big for one PUT uploaded by the SDK in blocks."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ResourceNotFoundError

from shared.storage import blobputs, clients

NAMES = ["plain.csv", "with space/a.csv", "it's+a%20b~c.csv", "é ü 中/part.csv"]


def test_a_put_leaves_the_blob_the_sdk_leaves(storage, unique_name):
    container = storage.container(unique_name)
    data = b"file_name,row,prediction\n" + bytes(range(256)) * 8
    for name in NAMES:
        container.upload_blob(f"sdk/{name}", data, overwrite=True)
        storage.puts.put(unique_name, f"lean/{name}", data)
        sdk = container.get_blob_client(f"sdk/{name}")
        lean = container.get_blob_client(f"lean/{name}")
        assert lean.download_blob().readall() == sdk.download_blob().readall() == data
        sdk_props, lean_props = sdk.get_blob_properties(), lean.get_blob_properties()
        assert lean_props.blob_type == sdk_props.blob_type
        assert lean_props.content_settings == sdk_props.content_settings
        assert lean_props.size == sdk_props.size


def test_a_put_replaces_what_was_there(storage, unique_name):
    storage.put(unique_name, "part.csv", "first, and longer than the second")
    storage.put(unique_name, "part.csv", b"second")
    assert storage.container(unique_name).download_blob("part.csv").readall() == b"second"


def test_a_missing_container_raises_resource_not_found(storage, unique_name):
    with pytest.raises(ResourceNotFoundError):
        storage.puts.put(unique_name + "x", "part.csv", b"x")
    storage.put(unique_name + "x", "part.csv", b"x")  # Storage.put makes it first
    assert storage.container(unique_name + "x").download_blob("part.csv").readall() == b"x"


def test_what_is_too_big_for_one_put_goes_to_the_sdk_in_blocks(storage, unique_name,
                                                               monkeypatch):
    monkeypatch.setattr(clients, "PUT_LIMIT", 1024)
    monkeypatch.setattr(blobputs.BlobPuts, "put", lambda *a, **k: pytest.fail("lean PUT"))
    data = b"x" * 5000
    storage.put(unique_name, "big.csv", data)
    assert storage.container(unique_name).download_blob("big.csv").readall() == data


def test_the_lean_put_refuses_what_is_too_big_for_one_put(storage, unique_name, monkeypatch):
    monkeypatch.setattr(blobputs, "PUT_LIMIT", 10)
    storage.container(unique_name)
    with pytest.raises(ValueError, match="over the single PUT"):
        storage.puts.put(unique_name, "big.csv", b"x" * 11)
