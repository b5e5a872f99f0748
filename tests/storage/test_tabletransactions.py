"""The lean entity-group transaction (shared/storage/tabletransactions.py) against a real
Azurite, side by side with the tables SDK's `submit_transaction`: every kind of operation
the service writes leaves the same rows under awkward keys and typed values, refusals carry
the SDK's status and error code and apply nothing, a connection string's own SAS works, and
records.submit turns a conflict into ConcurrentUpdate."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.core import MatchConditions
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.data.tables import (
    AccountSasPermissions,
    EdmType,
    EntityProperty,
    ResourceTypes,
    UpdateMode,
    generate_account_sas,
)

from shared.errors import ConcurrentUpdate
from shared.jobs import records
from shared.jobs.lifecycle import Outcome
from shared.storage.connection import AZURITE_ACCOUNT, AZURITE_KEY, StorageAccount
from shared.storage.tabletransactions import TableTransactions, UnsupportedOperation

KEYS = ["plain", "with space", "it's", "a+b%20c~d", "é ü 中"]
VALUES = {"text": "x" * 3000, "small": 7, "big": EntityProperty(2**40, EdmType.INT64),
          "ratio": 1.5, "flag": True, "when": datetime(2026, 12, 1, 8, 30, tzinfo=UTC),
          "raw": b"\x00\xffbytes", "id": uuid.UUID("c9da6455-213d-42c9-9a79-3e9149a57833"),
          "state": Outcome.DONE, "empty": "", "gone": None}


def rows(table, pk: str) -> list[dict]:
    return sorted((dict(e) for e in table.query_entities("PartitionKey eq @pk",
                                                          parameters={"pk": pk})),
                  key=lambda e: e["RowKey"])


def operations(table, pk: str) -> list[tuple]:
    """One of each: a create, merges and a replace guarded by the ETag read, an
    unconditional merge."""
    etag = {rk: table.get_entity(pk, rk).metadata["etag"] for rk in KEYS[1:4]}
    return [("create", {"PartitionKey": pk, "RowKey": KEYS[0], **VALUES}),
            ("update", {"PartitionKey": pk, "RowKey": KEYS[1], "small": 8, "added": "a"},
             {"mode": UpdateMode.MERGE, "etag": etag[KEYS[1]],
              "match_condition": MatchConditions.IfNotModified}),
            ("update", {"PartitionKey": pk, "RowKey": KEYS[2], "only": "this"},
             {"mode": UpdateMode.REPLACE, "etag": etag[KEYS[2]],
              "match_condition": MatchConditions.IfNotModified}),
            ("update", {"PartitionKey": pk, "RowKey": KEYS[3], "ratio": 2.5}),
            ("update", {"PartitionKey": pk, "RowKey": KEYS[4], "flag": False},
             {"mode": UpdateMode.MERGE})]


def seed(table, pk: str) -> None:
    for rk in KEYS[1:]:
        table.create_entity({"PartitionKey": pk, "RowKey": rk, **VALUES})


def test_every_operation_leaves_the_rows_the_sdk_leaves(storage, unique_name):
    table = storage.table(unique_name)
    for pk in ("sdk's", "lean's"):
        seed(table, pk)
    table.submit_transaction(operations(table, "sdk's"))
    storage.transactions.submit(unique_name, operations(table, "lean's"))
    sdk, lean = rows(table, "sdk's"), rows(table, "lean's")
    assert [{**r, "PartitionKey": ""} for r in lean] == [{**r, "PartitionKey": ""} for r in sdk]
    assert next(r for r in lean if r["RowKey"] == KEYS[2]) == {
        "PartitionKey": "lean's", "RowKey": KEYS[2], "only": "this"}  # replaced: only this
    assert next(r for r in lean if r["RowKey"] == KEYS[1])["small"] == 8


@pytest.mark.parametrize("failure", ["stale etag", "row exists"])
def test_a_refusal_carries_the_sdks_status_and_code_and_applies_nothing(
        storage, unique_name, failure):
    table = storage.table(unique_name)
    results = {}
    for pk, submit in (("sdk", table.submit_transaction),
                       ("lean", lambda ops: storage.transactions.submit(unique_name, ops))):
        seed(table, pk)
        ops = operations(table, pk)
        if failure == "stale etag":
            table.update_entity({"PartitionKey": pk, "RowKey": KEYS[1], "small": 9})
        else:
            ops[0] = ("create", {"PartitionKey": pk, "RowKey": KEYS[2]})
        before = rows(table, pk)
        with pytest.raises(HttpResponseError) as refused:
            submit(ops)
        results[pk] = (refused.value.status_code, refused.value.error_code)
        assert rows(table, pk) == before  # all or nothing
    assert results["lean"] == results["sdk"]
    assert results["lean"] == ((412, "UpdateConditionNotSatisfied") if failure == "stale etag"
                               else (409, "EntityAlreadyExists"))


def test_records_submit_turns_a_conflict_into_concurrent_update(storage):
    table = records.table(storage)
    pk = f"job-{uuid.uuid4().hex[:8]}"
    table.create_entity({"PartitionKey": pk, "RowKey": "r", "n": 1})
    etag = table.get_entity(pk, "r").metadata["etag"]
    op = ("update", {"PartitionKey": pk, "RowKey": "r", "n": 2},
          {"mode": UpdateMode.MERGE, "etag": etag,
           "match_condition": MatchConditions.IfNotModified})
    records.submit(storage, [op])
    assert table.get_entity(pk, "r")["n"] == 2
    with pytest.raises(ConcurrentUpdate):
        records.submit(storage, [op])  # the ETag it names is gone
    with pytest.raises(ConcurrentUpdate):
        records.submit(storage, [("create", {"PartitionKey": pk, "RowKey": "r"})])


def test_what_it_does_not_write_is_refused_before_anything_is_sent(storage, unique_name):
    table = storage.table(unique_name)
    seed(table, "p")
    before = rows(table, "p")
    for op in (("upsert", {"PartitionKey": "p", "RowKey": KEYS[1]}),
               ("update", {"PartitionKey": "p", "RowKey": KEYS[1]},
                {"match_condition": MatchConditions.IfModified, "etag": "x"})):
        with pytest.raises(UnsupportedOperation):
            storage.transactions.submit(unique_name, [
                ("update", {"PartitionKey": "p", "RowKey": KEYS[2], "small": 1}), op])
    assert rows(table, "p") == before


def test_a_connection_strings_own_sas_is_used(azurite, storage, unique_name):
    """(Azurite does not check an account SAS's permissions inside a batch, so that a
    read-only one is refused cannot be shown here; the transaction carries the SAS as the
    SDK's does.)"""
    table = storage.table(unique_name)
    endpoint = f"http://127.0.0.1:{azurite.ports['table']}/{AZURITE_ACCOUNT}"
    sas = generate_account_sas(AzureNamedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
                               ResourceTypes(object=True),
                               AccountSasPermissions(add=True, update=True),
                               expiry=datetime.now(UTC) + timedelta(hours=1))
    account = StorageAccount.from_connection_string(
        f"TableEndpoint={endpoint};SharedAccessSignature={sas}")
    TableTransactions(endpoint, account, None, storage.tables.api_version, 4).submit(
        unique_name, [("create", {"PartitionKey": "p", "RowKey": "r", "v": 1})])
    assert table.get_entity("p", "r")["v"] == 1
    bad = StorageAccount.from_connection_string(
        f"TableEndpoint={endpoint};SharedAccessSignature={sas.replace('sig=', 'sig=x')}")
    with pytest.raises(ClientAuthenticationError, match="403"):  # as the SDK would raise it
        TableTransactions(endpoint, bad, None, storage.tables.api_version, 4).submit(
            unique_name, [("create", {"PartitionKey": "p", "RowKey": "s"})])
