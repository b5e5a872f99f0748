"""bench/faultproxy.py in front of a real Azurite: each fault as the app's clients see it,
and every retry path of the app waiting what a 503's Retry-After asks for."""

from __future__ import annotations

import time

import pytest
from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from bench.faultproxy import FaultProxy, FaultRates
from shared.storage.clients import Storage

RETRY_AFTER = 3  # seconds: longer than any backoff before a first retry (0-2 s)


@pytest.fixture
def proxy(azurite):
    with FaultProxy(azurite.ports, FaultRates(retry_after=RETRY_AFTER, stall_seconds=1.0),
                    seed=7) as p:
        yield p


@pytest.fixture
def through(proxy):
    """The app's storage clients, talking to Azurite through the proxy."""
    return Storage(Storage.from_connection_string(proxy.connection_string).account)


def _gap(proxy: FaultProxy, service: str, call) -> float:
    """Seconds between the faulted request and the retry that succeeded."""
    proxy.force(service, "busy")
    call()
    (faulted,) = [e for e in proxy.events if e[1] == service and e[4] == "busy"]
    return time.monotonic() - faulted[0]


@pytest.mark.parametrize("path", ["blob SDK", "queue SDK", "table SDK", "signed GET",
                                  "signed PUT", "table transaction"])
def test_every_retry_path_waits_for_retry_after(proxy, through, unique_name, path):
    """azure-core's RetryPolicy (the tables SDK) sleeps what Retry-After says
    (`RetryPolicy.sleep` → `_sleep_for_retry`); the blob and queue SDKs' own
    ExponentialRetry ignores it (15 s ± 3 first) unless given shared/storage/retries.py;
    urllib3's Retry honours it for 503 (`respect_retry_after_header`)."""
    container = through.container(unique_name)  # made before the fault
    table = through.table(unique_name)
    through.put(unique_name, "a.txt", b"hello")
    calls = {
        "blob SDK": lambda: container.upload_blob("b.txt", b"x", overwrite=True),
        "queue SDK": lambda: through.send(unique_name, "m"),
        "table SDK": lambda: table.upsert_entity({"PartitionKey": "p", "RowKey": "s"}),
        "signed GET": lambda: through.reads.get(unique_name, "a.txt", limit=100),
        "signed PUT": lambda: through.puts.put(unique_name, "c.txt", b"y"),
        "table transaction": lambda: through.transactions.submit(
            unique_name, [("create", {"PartitionKey": "p", "RowKey": "r"})]),
    }
    if path == "queue SDK":
        through.send(unique_name, "first")  # the queue exists before the fault
    service = {"queue SDK": "queue", "table SDK": "table", "table transaction": "table"}.get(
        path, "blob")
    gap = _gap(proxy, service, calls[path])
    assert RETRY_AFTER - 0.2 <= gap <= RETRY_AFTER + 3, (path, gap)


def test_a_reset_answer_hides_a_done_write(azurite, proxy, through, unique_name):
    """`reset` forwards the request and loses the answer: the write happened, and the client
    (after its retries, all reset too) reports a failure: what the app must survive."""
    through.container(unique_name)
    proxy.force("blob", *["reset"] * 5)  # the lean PUT tries 5 times
    with pytest.raises((ServiceRequestError, ServiceResponseError)):
        through.puts.put(unique_name, "done.txt", b"written")
    assert proxy.counts[("blob", "reset")] == 5
    direct = Storage.from_connection_string(azurite.connection_string)
    assert direct.reads.get(unique_name, "done.txt", limit=100) == b"written"


def test_a_partitioned_service_resets_every_connection_until_healed(proxy, through,
                                                                    unique_name):
    through.put(unique_name, "a.txt", b"hello")
    proxy.partition("blob")
    with pytest.raises(ServiceRequestError):
        through.reads.get(unique_name, "a.txt", limit=100)
    through.send(unique_name, "the queue service is still reachable")
    proxy.heal("blob")
    assert through.reads.get(unique_name, "a.txt", limit=100) == b"hello"
    assert proxy.counts[("blob", "partition")] >= 1
