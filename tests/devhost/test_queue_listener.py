"""The queue loop on its own, in-process against the real Azurite: how many messages it
takes at once (batchSize, newBatchThreshold)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from azure.storage.queue import QueueClient

from devhost.config import QueueSettings
from devhost.outputs import _expand
from devhost.queues import QueueListener, decode, encode


@pytest.mark.parametrize(("batch", "threshold", "most"), [(2, 0, 2), (2, 1, 3), (1, 0, 1)])
def test_in_flight_is_bounded_by_batch_size_and_new_batch_threshold(conn, batch, threshold,
                                                                    most):
    name = f"t{uuid.uuid4().hex[:12]}"
    client = QueueClient.from_connection_string(conn, name)
    client.create_queue()
    for i in range(7):
        client.send_message(encode(f"m{i}".encode(), "base64"))
    settings = QueueSettings(batch_size=batch, new_batch_threshold=threshold,
                             max_polling_interval=0.2)

    async def scenario() -> tuple[int, list[bytes]]:
        running, peak, seen = 0, 0, []

        async def handler(body, raw) -> bool:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            first = not seen and running == 1 and peak == 1
            await asyncio.sleep(0.6 if first else 0.05)  # the first is slow, the rest quick
            seen.append(body)
            running -= 1
            return True

        listener = QueueListener(conn, name, settings, handler)
        task = asyncio.create_task(listener.run())
        async with asyncio.timeout(30):
            while len(seen) < 7:
                await asyncio.sleep(0.02)
        await listener.drain(5)
        task.cancel()
        return peak, seen

    peak, seen = asyncio.run(scenario())
    assert peak == most
    assert sorted(seen) == [f"m{i}".encode() for i in range(7)]
    assert client.peek_messages() == []  # all deleted on success


def test_encodings_round_trip():
    assert decode(encode(b"\x00bin\xff", "base64"), "base64") == b"\x00bin\xff"
    assert decode(encode(b"plain", "none"), "none") == b"plain"


def test_binding_expressions_in_output_paths():
    path = _expand("out/{queueTrigger}/{name}-{rand-guid}.txt",
                   {"queueTrigger": "msg", "name": "a/b"})
    prefix, guid = path.rsplit("-", 5)[0], path.split("a/b-")[1].removesuffix(".txt")
    assert prefix == "out/msg/a/b" and str(uuid.UUID(guid)) == guid


def test_a_message_dequeued_too_often_goes_to_poison_uninvoked(conn):
    """E.g. after workers crashed on it: dequeue_count > maxDequeueCount."""
    name = f"t{uuid.uuid4().hex[:12]}"
    client = QueueClient.from_connection_string(conn, name)
    client.create_queue()
    client.send_message(encode(b"crashy", "base64"))
    for _ in range(3):  # three receives that never settled it
        message = next(iter(client.receive_messages(visibility_timeout=30)))
        client.update_message(message, visibility_timeout=0)
    invoked = []

    async def scenario() -> None:
        async def handler(body, raw) -> bool:
            invoked.append(message)
            return True

        listener = QueueListener(conn, name, QueueSettings(max_dequeue_count=2,
                                                           max_polling_interval=0.2), handler)
        task = asyncio.create_task(listener.run())
        poison = QueueClient.from_connection_string(conn, f"{name}-poison")
        async with asyncio.timeout(30):
            while not await asyncio.to_thread(_peek, poison):
                await asyncio.sleep(0.05)
        await listener.drain(5)
        task.cancel()

    asyncio.run(scenario())
    poison = QueueClient.from_connection_string(conn, f"{name}-poison")
    assert [decode(m, "base64") for m in _peek(poison)] == [b"crashy"]
    assert invoked == [] and client.peek_messages() == []


def _peek(client: QueueClient) -> list[str]:
    try:
        return [m.content for m in client.peek_messages()]
    except Exception:
        return []
