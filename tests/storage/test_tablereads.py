"""The lean point read of table rows (shared/storage/tablereads.py) against a real Azurite,
checked against the tables SDK's `get_entity`: the same typed values, ETag and timestamp
under awkward keys, the SDK's errors, and a connection string's own SAS."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError
from azure.data.tables import (
    AccountSasPermissions,
    EdmType,
    EntityProperty,
    ResourceTypes,
    generate_account_sas,
)

from shared.storage.connection import AZURITE_ACCOUNT, AZURITE_KEY, StorageAccount
from shared.storage.tablereads import TableReads

KEYS = ["plain", "with space", "it's", "a+b%20c~d", "é ü 中", "mb-00000001"]


def test_rows_read_as_the_sdk_reads_them(storage, unique_name):
    table = storage.table(unique_name)
    row = {"text": "x" * 3000, "small": 7, "big": EntityProperty(2**40, EdmType.INT64),
           "ratio": 1.5, "flag": True, "when": datetime(2026, 12, 1, 8, 30, tzinfo=UTC),
           "raw": b"\x00\xffbytes", "id": uuid.UUID("c9da6455-213d-42c9-9a79-3e9149a57833"),
           "doc": '{"nested": [1, 2]}', "empty": ""}
    for pk in KEYS[:3]:
        for rk in KEYS:
            table.upsert_entity({"PartitionKey": pk, "RowKey": rk, **row})
    for pk in KEYS[:3]:
        for rk in KEYS:
            sdk = table.get_entity(pk, rk)
            lean = storage.rows.get_entity(unique_name, pk, rk)
            assert dict(lean) == dict(sdk)
            assert {k: type(v) for k, v in lean.items()} == {k: type(v) for k, v in sdk.items()}
            assert lean.metadata == sdk.metadata
    table.update_entity({"PartitionKey": "plain", "RowKey": "plain", "small": 8})
    changed = storage.rows.get_entity(unique_name, "plain", "plain")
    assert changed["small"] == 8  # no stale copy anywhere
    assert changed.metadata["etag"] == table.get_entity("plain", "plain").metadata["etag"]


def test_missing_rows_and_tables_raise_resource_not_found(storage, unique_name):
    storage.table(unique_name).create_entity({"PartitionKey": "p", "RowKey": "r"})
    with pytest.raises(ResourceNotFoundError):
        storage.rows.get_entity(unique_name, "p", "nothing")
    with pytest.raises(ResourceNotFoundError):
        storage.rows.get_entity(unique_name + "x", "p", "r")


def test_a_connection_strings_own_sas_is_used_and_its_limits_hold(azurite, storage,
                                                                   unique_name):
    storage.table(unique_name).create_entity({"PartitionKey": "p", "RowKey": "r", "v": 1})
    endpoint = f"http://127.0.0.1:{azurite.ports['table']}/{AZURITE_ACCOUNT}"
    credential = AzureNamedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)

    def reads(permission: AccountSasPermissions) -> TableReads:
        sas = generate_account_sas(credential, ResourceTypes(object=True), permission,
                                   expiry=datetime.now(UTC) + timedelta(hours=1))
        account = StorageAccount.from_connection_string(
            f"TableEndpoint={endpoint};SharedAccessSignature={sas}")
        return TableReads(endpoint, account, None, storage.tables.api_version, 4)

    assert reads(AccountSasPermissions(read=True)).get_entity(unique_name, "p", "r")["v"] == 1
    with pytest.raises(ClientAuthenticationError, match="403"):  # as the SDK would raise it
        reads(AccountSasPermissions(write=True)).get_entity(unique_name, "p", "r")
