"""The findings of the API review, each as a request through the real local host: bad
input is a 4xx naming the field and the rule, never a 500."""

from __future__ import annotations

import httpx
import pytest


def call(service, method, route, **kwargs):
    return httpx.request(method, f"{service.api}{route}", timeout=30,
                         headers={"x-functions-key": service.function_key,
                                  **kwargs.pop("headers", {})}, **kwargs)


def error_of(r: httpx.Response, status: int = 400) -> dict:
    assert r.status_code == status, r.text
    return r.json()["error"]


DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("route", ["/endpoints/deep-one", "/endpoints/deep-one/jobs"])
def test_deep_nesting_is_a_400(service, route):
    method = "PUT" if route.count("/") == 2 else "POST"
    error = error_of(call(service, method, route, content=DEEP,
                          headers={"content-type": "application/json"}))
    assert error["target"] == "body" and "nested deeper" in error["message"]


@pytest.mark.parametrize("body, target", [
    ({"inputs": {"x": {"path": "workspaceblobstore/x"}}, "mini_batch_size": "²"},
     "mini_batch_size"),
    ({"inputs": {"x": {"path": "workspaceblobstore/x"}}, "retry_settings": {"timeout": "²"}},
     "retry_settings.timeout"),
    ({"inputs": {"x": {"path": "workspaceblobstore/x"}}, "mini_bach_size": 2},
     "mini_bach_size"),
])
def test_bad_invoke_fields(service, digits_endpoint, body, target):
    error = error_of(call(service, "POST", f"/endpoints/{digits_endpoint}/jobs", json=body))
    assert error["target"] == target
    if target == "mini_bach_size":
        assert "did you mean 'mini_batch_size'" in error["message"]


@pytest.mark.parametrize("body, target", [
    ({"description": "x" * 900_000}, "body"),
    ({"description": "x" * 5000}, "description"),
    ({"tags": {f"k{i}": "v" for i in range(5000)}}, "tags"),
    ({"tags": {"nested": {"a": "b"}}}, "tags.nested"),
    ({"description": {"an": "object"}}, "description"),
    ({"notifications": {"webhook_url": "http://169.254.169.254/latest/meta-data"}},
     "notifications.webhook_url"),
    ({"notifications": {"webhook_url": "http://10.1.2.3/hook"}}, "notifications.webhook_url"),
    ({"notifications": {"webhook_url": "http://[::ffff:169.254.169.254]/"}},
     "notifications.webhook_url"),
    ({"auth_mod": "key"}, "auth_mod"),
])
def test_bad_endpoint_bodies(service, body, target):
    error = error_of(call(service, "PUT", "/endpoints/limits-ep", json=body))
    assert error["target"] == target, error


def test_a_document_over_the_table_row_limit_is_a_400(service, digits_endpoint):
    """Each field within its limit, the whole over Table storage's 64 KiB property."""
    exclude = [f"column-{i:05d}-{'x' * 24}" for i in range(4000)]  # ~150 KB
    error = error_of(call(service, "PUT", f"/endpoints/{digits_endpoint}/deployments/huge",
                          json={"model": "azureml:digits-e2e:1",
                                "scoring": {"input": {"type": "tabular", "exclude": exclude}}}))
    assert error["target"] == "body" and "too large to store" in error["message"]


@pytest.mark.parametrize("container", ["batch-models", "batch-jobs", "azure-webjobs-hosts",
                                       "azure-webjobs-secrets", "batch-plan"])
def test_internal_containers_are_not_datastores(service, container):
    error = error_of(call(service, "PUT", "/datastores/sneaky",
                          json={"container_name": container}))
    assert error["target"] == "container_name"


def test_ignored_fields_come_back_as_warnings(service, digits_endpoint):
    from samples import models

    r = call(service, "PUT", f"/endpoints/{digits_endpoint}/deployments/warned", json={
        "model": {"name": "digits-e2e", "version": "1", "path": "./digits.onnx"},
        "environment": "azureml:sklearn:1", "compute": "azureml:cpu-cluster",
        "resources": {"instance_count": 1, "instance_type": "Standard_DS3_v2"},
        "scoring": models.DIGITS_SCORING})
    assert r.status_code == 201, r.text
    fields = [w.split(":")[0] for w in r.json()["warnings"]]
    assert fields == ["compute", "environment", "model.path", "resources.instance_type"]
    assert "warnings" not in call(service, "GET",
                                  f"/endpoints/{digits_endpoint}/deployments/warned").json()
    call(service, "DELETE", f"/endpoints/{digits_endpoint}/deployments/warned")


def test_lists_are_paged_with_next_links(service):
    names = [f"page-ep-{i}" for i in range(5)]
    for name in names:
        assert call(service, "PUT", f"/endpoints/{name}", json={}).status_code in (200, 201)
    seen, url, pages = [], "/endpoints?$top=2", 0
    while url:
        body = call(service, "GET", url.removeprefix(service.api)).json()
        assert len(body["value"]) <= 2
        seen += [e["name"] for e in body["value"]]
        url, pages = body.get("nextLink"), pages + 1
        assert url is None or "$skiptoken=" in url and "code=" not in url
    assert set(names) <= set(seen) and len(seen) == len(set(seen)) and pages >= 3
    assert error_of(call(service, "GET", "/endpoints?$top=0"))["target"] == "$top"
    assert error_of(call(service, "GET", "/endpoints?$skiptoken=bogus"))["target"] == "$skiptoken"


def test_openapi_document_and_reference_page_are_served(service):
    doc = httpx.get(f"{service.api}/openapi.json").json()  # anonymous
    assert doc["openapi"] == "3.1.0" and "/endpoints/{endpoint}/jobs" in doc["paths"]
    page = httpx.get(f"{service.api}/docs")
    assert page.status_code == 200 and "BatchEndpoints_Invoke" not in page.text
    assert "/endpoints/{endpoint}/jobs" in page.text and "<script" not in page.text


def test_the_master_key_is_never_printed(service):
    call(service, "GET", f"/jobs?code={service.keys['masterKey']}")
    assert service.keys["masterKey"] not in service.logs()


@pytest.mark.parametrize("how, target", [
    ({"json": {"path": "workspaceblobstore/m.onnx", "description": {"an": "object"}}},
     "description"),
    ({"json": {"path": "workspaceblobstore/m.onnx", "tags": {"a": {"b": "c"}}}}, "tags.a"),
    ({"content": b"onnx?", "params": {"tags": '{"a": {"b": "c"}}'}}, "tags.a"),
    ({"content": b"onnx?", "params": {"description": "d" * 5000}}, "description"),
])
def test_model_metadata_must_be_strings(service, how, target):
    headers = {"content-type": "application/json" if "json" in how
               else "application/octet-stream"}
    error = error_of(call(service, "PUT", "/models/meta/versions/1", headers=headers, **how))
    assert error["target"] == target
