"""The listener's lean receive and delete (devhost/queue_reads.py) against the real Azurite,
checked against the queue SDK: the same messages with the same fields, pop receipts the SDK
accepts, the SDK's errors, and a connection string's own SAS."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.queue import (
    AccountSasPermissions,
    QueueClient,
    ResourceTypes,
    generate_account_sas,
)

from devhost.queue_reads import QueueReads
from shared.storage.connection import parse


def _queue(conn: str) -> QueueClient:
    client = QueueClient.from_connection_string(conn, f"r{uuid.uuid4().hex[:12]}")
    client.create_queue()
    return client


def _receive(reads: QueueReads, count: int, lease: int):
    async def go():
        try:
            return await reads.receive(count, lease)
        finally:
            await reads.close()
    return asyncio.run(go())


def test_messages_come_back_as_the_sdk_gives_them(conn):
    client = _queue(conn)
    sent = [client.send_message(text) for text in ("first <&> one", "second", "")]
    reads = QueueReads.lean(conn, client.url)
    assert reads is not None
    got = _receive(reads, 2, 1)
    assert [m.content for m in got] == ["first <&> one", "second"]
    for message, original in zip(got, sent, strict=False):
        assert message.id == original.id
        assert message.inserted_on == original.inserted_on
        assert message.expires_on == original.expires_on
        assert message.dequeue_count == 1
        assert message.next_visible_on > datetime.now(UTC) - timedelta(seconds=5)
    # one second later they are visible again: the SDK sees the same ones, dequeued twice
    again: list = []
    deadline = datetime.now(UTC) + timedelta(seconds=20)
    while len(again) < 3 and datetime.now(UTC) < deadline:
        again += list(client.receive_messages(max_messages=3, visibility_timeout=30))
    by_id = {m.id: m for m in again}
    for message in got:
        sdk = by_id[message.id]
        assert (sdk.content, sdk.inserted_on, sdk.expires_on, sdk.dequeue_count) == (
            message.content, message.inserted_on, message.expires_on, 2)
    assert by_id[sent[2].id].content == ""  # an empty message reads as empty, not None


def test_a_lean_receipt_deletes_and_a_stale_one_is_refused(conn):
    client = _queue(conn)
    client.send_message("settle me")
    reads = QueueReads.lean(conn, client.url)

    async def go():
        try:
            [message] = await reads.receive(1, 30)
            await reads.delete(message.id, message.pop_receipt)
            with pytest.raises(ResourceNotFoundError):  # gone: as the SDK raises
                await reads.delete(message.id, message.pop_receipt)
        finally:
            await reads.close()

    asyncio.run(go())
    assert client.peek_messages() == []


def test_a_missing_queue_raises_resource_not_found(conn):
    url = QueueClient.from_connection_string(conn, f"missing{uuid.uuid4().hex[:8]}").url
    reads = QueueReads.lean(conn, url)
    with pytest.raises(ResourceNotFoundError):
        _receive(reads, 1, 1)


def test_a_connection_strings_own_sas_is_used_and_its_limits_hold(conn):
    client = _queue(conn)
    client.send_message("by sas")
    parts = parse(conn)

    def sas_conn(permission: AccountSasPermissions) -> str:
        sas = generate_account_sas(parts["AccountName"], parts["AccountKey"],
                                   ResourceTypes(object=True), permission,
                                   expiry=datetime.now(UTC) + timedelta(hours=1))
        return (f"QueueEndpoint={parts['QueueEndpoint']};SharedAccessSignature={sas}")

    allowed = QueueReads.lean(sas_conn(AccountSasPermissions(process=True)), client.url)
    assert [m.content for m in _receive(allowed, 1, 30)] == ["by sas"]
    read_only = QueueReads.lean(sas_conn(AccountSasPermissions(read=True)), client.url)
    with pytest.raises(HttpResponseError) as refused:
        _receive(read_only, 1, 30)
    assert refused.value.status_code == 403


def test_without_a_key_or_sas_the_sdk_does_it():
    assert QueueReads.lean("QueueEndpoint=https://acc.queue.core.windows.net/",
                           "https://acc.queue.core.windows.net/q") is None
