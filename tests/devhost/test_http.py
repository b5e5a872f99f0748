"""HTTP triggers through the real host process: routes, request/response shapes, keys, 500s."""

from __future__ import annotations

import re

import httpx
import pytest


def test_routes_params_and_anonymous(host):
    assert httpx.get(f"{host.api}/hello/world").text == "hello world"
    assert httpx.get(f"{host.url}/API/Hello/world").text == "hello world"  # literals: any case
    assert httpx.get(f"{host.api}/files/a/b/c.txt").text == "a/b/c.txt"  # {*path}
    assert httpx.get(f"{host.api}/files").status_code == 200
    assert httpx.delete(f"{host.api}/files/x").status_code == 200  # methods=None: all
    assert httpx.get(f"{host.url}/hello/world").status_code == 404  # routePrefix is required
    assert httpx.get(f"{host.api}/nothing-here").status_code == 404
    assert httpx.get(f"{host.api}/async-hello").text == "async"


def test_request_shape_and_function_key(host):
    url = f"{host.api}/echo/42/tail"
    r = httpx.post(url, params={"q": "1"}, content=b"payload",
                   headers={"x-functions-key": host.function_key, "x-test": "yes"})
    assert r.status_code == 201 and r.headers["content-type"].startswith("application/json")
    assert r.json() == {"method": "POST", "route": {"id": "42", "rest": "tail"},
                        "params": {"q": "1"}, "body": "payload", "header": "yes",
                        "class": "azure.functions.http.HttpRequest"}
    # {rest?} may be absent; ?code= works as well as the header
    assert httpx.post(f"{host.api}/echo/7?code={host.function_key}").json()["route"] == {
        "id": "7"}


def test_unmatched_constraint_or_method_is_404(host):
    key = {"x-functions-key": host.function_key}
    assert httpx.post(f"{host.api}/echo/abc", headers=key).status_code == 404  # {id:int}
    # a known route with a method it does not take: 404, as the real host answers
    assert httpx.get(f"{host.api}/echo/7", headers=key).status_code == 404
    assert httpx.head(f"{host.api}/hello/x").status_code == 404  # GET-only: HEAD too


@pytest.mark.parametrize("headers", [{}, {"x-functions-key": "wrong"}])
def test_missing_or_wrong_key_is_401_with_empty_body(host, headers):
    r = httpx.post(f"{host.api}/echo/1", headers=headers)
    assert r.status_code == 401 and r.content == b""
    assert httpx.post(f"{host.api}/echo/1?code=wrong").status_code == 401


def test_function_level_takes_the_master_key_admin_level_only_the_master_key(host):
    assert httpx.post(f"{host.api}/echo/1", headers={
        "x-functions-key": host.master_key}).status_code == 201
    r = httpx.get(f"{host.api}/admin-only", headers={"x-functions-key": host.function_key})
    assert r.status_code == 401 and r.content == b""
    assert httpx.get(f"{host.api}/admin-only?code={host.master_key}").text == "admin"
    # system keys are for their webhooks, not for functions
    assert httpx.post(f"{host.api}/echo/1", headers={
        "x-functions-key": host.keys["systemKeys"]["eventgrid_extension"]}).status_code == 401


def test_none_or_exception_is_500_and_logged(host):
    """None (or a dict, below) cannot be encoded as a response: 500, as in Azure."""
    assert httpx.get(f"{host.api}/returns-none").status_code == 500
    r = httpx.get(f"{host.api}/raises")
    assert r.status_code == 500
    line = host.wait_for_log("function=raises")
    assert re.search(r"\[w\d\] ERROR devhost: worker=\d function=raises trigger=httpTrigger "
                     r"id=[0-9a-f-]{36} duration=\d+ms Failed \(RuntimeError: boom\)", line)
    host.wait_for_log('raise RuntimeError("boom")')  # with its stack


def test_context_parameter(host):
    r = httpx.get(f"{host.api}/context").json()
    assert r["function_name"] == "with_context" and len(r["invocation_id"]) == 36
    assert host.wait_for_log(f"id={r['invocation_id']}")  # the same id in the log line


def test_response_shapes_as_the_python_worker_encodes_them(host):
    r = httpx.get(f"{host.api}/hello/x")
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    r = httpx.get(f"{host.api}/shapes/json")  # not text/*: no charset added
    assert (r.status_code, r.headers["content-type"], r.json()) == (
        202, "application/json", {"a": 1})
    r = httpx.get(f"{host.api}/shapes/str")  # a str return is a 200 text body
    assert (r.status_code, r.text) == (200, "plain")
    assert httpx.get(f"{host.api}/shapes/dict").status_code == 500
    r = httpx.get(f"{host.api}/shapes/cookies")
    assert r.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert r.headers["x-custom"] == "1"
