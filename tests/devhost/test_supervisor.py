"""The host as a process: ready line, function list, worker restarts, timeouts, clean stop;
and a second configuration (routePrefix "", messageEncoding none, functionTimeout 2 s, a
project with only local.settings.sample.json)."""

from __future__ import annotations

import json
import os
import re
import uuid

import httpx
import pytest

from devhost.testing import HostProcess, wait_for
from tests.devhost.support import FAST, calls, make_project, peek, send


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ready_line_function_list_and_keys(host):
    logs = host.logs()
    assert re.search(r"^devhost ready: http://127\.0\.0\.1:\d+ workers=2$", logs, re.M)
    assert f"hello: [GET] {host.url}/api/hello/{{name}} (auth: anonymous)" in logs
    assert "work: queueTrigger (queue dh-work)" in logs
    assert "inbox: blobTrigger (path dh-inbox/{name})" in logs
    assert "on_event: eventGridTrigger POST " in logs
    assert f"default function key: {host.function_key}" in logs


def test_supervisor_restarts_a_killed_worker(host):
    pid = host.kill_worker(1)
    wait_for(lambda: host.worker_pids()[1] != pid, 30, message="a new worker 1")
    assert not alive(pid)
    for _ in range(6):  # connections spread over both workers keep being answered
        assert httpx.get(f"{host.api}/hello/again").status_code == 200


def test_a_second_host_on_the_same_port_is_refused(host):
    other = HostProcess(host.project_dir, port=int(host.url.rsplit(":", 1)[1]))
    with pytest.raises(RuntimeError, match="did not start"):
        other.start()
    assert "is already in use" in other.logs()


def test_a_function_with_an_invalid_queue_name_is_disabled_not_the_host(azurite, tmp_path):
    project = make_project(tmp_path / "bad", azurite.connection_string, queue="Bad_Name")
    with HostProcess(project, env=FAST) as h:
        h.wait_for_log("function work is not served: 'Bad_Name' is not a valid queue name")
        assert httpx.get(f"{h.api}/hello/still").text == "hello still"


@pytest.fixture(scope="module")
def alt(azurite, tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("dhalt"), azurite.connection_string, {
        "version": "2.0", "functionTimeout": "00:00:02",
        "extensions": {"http": {"routePrefix": ""},
                       "queues": {"messageEncoding": "none", "visibilityTimeout": "00:00:00"}}},
        queue=f"dh-alt-{uuid.uuid4().hex[:6]}", settings_file="local.settings.sample.json")
    with HostProcess(project, env={**FAST, "DEVHOST_QUEUE_LEASE_SECONDS": "3"}) as h:
        yield h


def test_local_settings_copied_from_the_sample(alt):
    folder = alt.project_dir
    assert (folder / "local.settings.json").read_text() == (
        folder / "local.settings.sample.json").read_text()


def test_empty_route_prefix(alt):
    assert alt.api == alt.url
    assert httpx.get(f"{alt.url}/hello/x").text == "hello x"
    assert httpx.get(f"{alt.url}/api/hello/x").status_code == 404


def test_missing_queue_then_encoding_none_round_trip(alt, conn, blobs):
    queue = _queue_name(alt)
    alt.wait_for_log(f"queue '{queue}' does not exist yet")  # the host does not create it
    body = f"plain-{uuid.uuid4().hex[:8]}"
    send(conn, queue, body, encoding="none")
    wait_for(lambda: calls(blobs, "queue", body), 30, message="the plain message")
    wait_for(lambda: f"done:{body}" in peek(conn, f"{queue}-out"), 30,
             message="the plain output message")


def test_http_timeout_is_500_and_the_worker_restarts(alt):
    pid = alt.worker_pids()[0]
    assert httpx.get(f"{alt.url}/sleepy?s=5", timeout=30).status_code == 500
    alt.wait_for_log("function=sleepy trigger=httpTrigger")
    wait_for(lambda: alt.worker_pids()[0] != pid, 30, message="a new worker")
    wait_for(lambda: _get(f"{alt.url}/hello/back") == 200, 30, message="the new worker")


def test_queue_timeout_fails_the_message_and_restarts_the_worker(alt, conn, blobs):
    queue = _queue_name(alt)
    pid = alt.worker_pids()[0]
    body = f"slow-{uuid.uuid4().hex[:8]}"  # never released: runs past functionTimeout
    send(conn, queue, body, encoding="none")
    wait_for(lambda: len(calls(blobs, "queue", body)) >= 2, 60,
             message="the message after the timeout")
    assert sorted(c["dequeue_count"] for c in calls(blobs, "queue", body))[:2] == [1, 2]
    assert alt.worker_pids()[0] != pid
    assert "Timeout value of 2 s exceeded" in alt.logs()


def test_clean_stop(alt):
    pids = list(alt.worker_pids().values())
    assert alt.stop() == 0
    assert not any(alive(p) for p in pids)
    assert alt.logs().splitlines()[-1].endswith("stopped")


def _queue_name(host: HostProcess) -> str:
    return json.loads((host.project_dir / "local.settings.json").read_text())["Values"][
        "DH_QUEUE"]


def _get(url: str) -> int:
    try:
        return httpx.get(url).status_code
    except httpx.HTTPError:
        return 0
