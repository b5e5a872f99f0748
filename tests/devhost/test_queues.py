"""Queue triggers through the real host process and a real Azurite."""

from __future__ import annotations

import time
import uuid

from devhost.testing import wait_for
from tests.devhost.support import calls, decoded, peek, send


def test_failing_message_runs_max_dequeue_count_times_then_poison(host, conn, blobs):
    body = f"fail-{uuid.uuid4().hex[:8]}"
    send(conn, "dh-work", body)
    wait_for(lambda: body in decoded(conn, "dh-work-poison"), 60,
             message="the message in dh-work-poison")
    assert decoded(conn, "dh-work-poison").count(body) == 1  # same (base64) encoding
    assert sorted(c["dequeue_count"] for c in calls(blobs, "queue", body)) == [1, 2, 3]


def test_invalid_base64_goes_to_poison_without_an_invocation(host, conn, blobs):
    body = f"not base64 {uuid.uuid4().hex[:8]}!"
    send(conn, "dh-work", body, encoding="none")
    wait_for(lambda: body in peek(conn, "dh-work-poison"), 30, message="the raw message")
    assert calls(blobs, "queue", body) == []
    host.wait_for_log("is not valid base64")


def test_flaky_message_succeeds_on_retry_and_output_is_written(host, conn, blobs):
    body = f"flaky-{uuid.uuid4().hex[:8]}"
    send(conn, "dh-work", body)
    wait_for(lambda: f"done:{body}" in decoded(conn, "dh-work-out"), 30,
             message="the output binding's message")
    seen = calls(blobs, "queue", body)
    assert sorted(c["dequeue_count"] for c in seen) == [1, 2]
    # decoded by the worker's converter from the host's typed data and trigger metadata
    assert {c["class"] for c in seen} == {"azure.functions.queue.QueueMessage"}
    assert all(c["pop_receipt"] and c["times"] == ["datetime.datetime"] * 3 for c in seen)
    host.wait_for_log("function=work trigger=queueTrigger")


def test_output_binding_not_written_when_function_raises(host, conn, blobs):
    body = f"out-raise-{uuid.uuid4().hex[:8]}"
    send(conn, "dh-work", body)
    wait_for(lambda: body in decoded(conn, "dh-work-poison"), 60, message="poison")
    assert len(calls(blobs, "queue", body)) == 3
    assert f"done:{body}" not in decoded(conn, "dh-work-out")


def test_messages_are_shared_by_workers_and_each_processed_once(host, conn, blobs):
    bodies = [f"ok-{uuid.uuid4().hex[:8]}" for _ in range(20)]
    for body in bodies:
        send(conn, "dh-work", body)
    wait_for(lambda: all(calls(blobs, "queue", b) for b in bodies), 60,
             message="all 20 messages")
    records = [c for b in bodies for c in calls(blobs, "queue", b)]
    assert len(records) == 20
    assert {r["pid"] for r in records} <= set(host.worker_pids().values())


def test_lease_is_renewed_while_the_function_runs(host, conn, blobs):
    body = f"slow-{uuid.uuid4().hex[:8]}"
    send(conn, "dh-work", body)
    wait_for(lambda: calls(blobs, "queue", body), 30, message="the slow start")
    started = time.monotonic()
    # the lease is 4 s: without renewal the message would come back during this wait
    wait_for(lambda: time.monotonic() - started > 9, 15, message="two lease periods")
    blobs.get_blob_client("dhcalls", f"release/{body}").upload_blob(b"")
    wait_for(lambda: f"done:{body}" in decoded(conn, "dh-work-out"), 30, message="the output")
    assert [c["dequeue_count"] for c in calls(blobs, "queue", body)] == [1]


def test_killed_worker_message_reappears_with_higher_dequeue_count(host, conn, blobs):
    body = f"slow-{uuid.uuid4().hex[:8]}"
    send(conn, "dh-work", body)
    first = wait_for(lambda: calls(blobs, "queue", body), 30, message="the slow start")[0]
    index = next(i for i, pid in host.worker_pids().items() if pid == first["pid"])
    host.kill_worker(index)
    wait_for(lambda: len(calls(blobs, "queue", body)) >= 2, 60,
             message="redelivery after the lease")
    assert sorted(c["dequeue_count"] for c in calls(blobs, "queue", body))[:2] == [1, 2]
    wait_for(lambda: host.worker_pids().get(index) not in (None, first["pid"]), 30,
             message="the supervisor to restart the worker")
    host.wait_for_log(f"worker {index} (pid {first['pid']}) exited")
