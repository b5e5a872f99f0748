"""Issue 30's bad-input reproductions, each a request through the real local host: a 4xx
naming the field, before any storage call (no 80 s of SDK retries), never a 500."""

from __future__ import annotations

import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samples import data, models
from tests.api.test_contract import call, error_of
from tests.domain import addresses
from tests.domain.test_netrules import accepted_address_is_allowed
from tests.e2e.conftest import put_deployment, put_endpoint, register
from tests.e2e.test_batch_jobs import upload

WEBHOOK = "notifications.webhook_url"


@pytest.mark.parametrize("url", [
    "http://[::1",                      # urlsplit raised outside the check: a 500
    "http://100.64.0.1/x",              # shared address space (RFC 6598)
    "http://[2002:7f00:1::]/x",         # 6to4 wrapping 127.0.0.1
    "http://[64:ff9b::a00:1]/x",        # NAT64 wrapping 10.0.0.1
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x",  # Teredo
    "http://[::ffff:10.0.0.1]/x",       # IPv4-mapped private
    "http://168.63.129.16/x",           # Azure's wire server
    "http://exa\nmple.com/x",           # urlsplit drops the newline
    "http://example.com:99999/x",
    "http://user:pw@example.com/x",
    "ftp://example.com/x",
])
def test_webhook_urls_that_must_be_refused(service, url):
    error = error_of(call(service, "PUT", "/endpoints/hook-refused",
                          json={"notifications": {"webhook_url": url}}))
    assert error["target"] == WEBHOOK, error


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(url=st.one_of(addresses.LITERAL_URLS, addresses.JUNK, st.integers(), st.none()))
def test_generated_webhook_urls_are_a_4xx_or_public(service, url):
    """Through the real host: never a 500; accepted only where the address is loopback (the
    test host's switch) or passes the test's own reading of what is public."""
    r = call(service, "PUT", "/endpoints/hook-generated",
             json={"notifications": {"webhook_url": url}})
    assert r.status_code in (200, 201, 400), (url, r.status_code, r.text)
    if r.status_code == 400:
        assert r.json()["error"]["target"] == WEBHOOK
    elif url:
        stored = r.json()["notifications"]["webhook_url"]
        assert stored == url
        assert accepted_address_is_allowed(url, allow_loopback=True), url


def test_the_loopback_switch_lets_loopback_only(service):
    """The test host runs with BATCH_ALLOW_LOOPBACK_WEBHOOKS=true: 127.0.0.1 and ::1 pass,
    a private or wrapped address still does not."""
    for url in ("http://127.0.0.1:9/x", "http://[::1]:9/x"):
        r = call(service, "PUT", "/endpoints/hook-loopback",
                 json={"notifications": {"webhook_url": url}})
        assert r.status_code in (200, 201), r.text
    assert error_of(call(service, "PUT", "/endpoints/hook-loopback", json={
        "notifications": {"webhook_url": "http://[2002:7f00:1::]/x"}}))["target"] == WEBHOOK


def test_a_job_name_with_a_trailing_newline_is_a_400(service, digits_endpoint):
    error = error_of(call(service, "POST", f"/endpoints/{digits_endpoint}/jobs", json={
        "inputs": {"x": {"path": "workspaceblobstore/x"}}, "job_name": "nljob-1\n"}))
    assert error["target"] == "job_name" and "control characters" in error["message"]


@pytest.mark.parametrize("container", ["batch-jobs\n", "abc\x00", "app-package",
                                       "app-package-myapp-1a2b3c", "inbox-deadletter",
                                       "azure-webjobs-blobtrigger-host1",
                                       "webjobs-blobtrigger-poison", "batch-events-poison"])
def test_datastore_containers_refused(service, container):
    error = error_of(call(service, "PUT", "/datastores/sneaky2",
                          json={"container_name": container}))
    assert error["target"] == "container_name", error
    assert call(service, "GET", "/datastores/sneaky2").status_code == 404


def test_a_nul_in_a_browse_prefix_is_a_400_at_once(service):
    started = time.monotonic()
    error = error_of(call(service, "GET", "/datastores/workspaceblobstore/paths",
                          params={"prefix": "a\x00b"}))
    assert error["target"] == "prefix" and "U+0000" in error["message"]
    assert time.monotonic() - started < 10  # no storage call, so no SDK retries


def test_a_browsed_datastore_name_is_checked_first(service):
    for name in ("bad%01name", "sp%20ace"):
        error = error_of(call(service, "GET", f"/datastores/{name}/paths"))
        assert error["target"] == "name", error


def test_control_characters_in_an_upload_name_are_a_400(service, store):
    name = f"up-{uuid.uuid4().hex[:6]}/a%01b.png"
    error = error_of(call(service, "PUT", f"/datastores/workspaceblobstore/paths/{name}",
                          content=b"x"))
    assert error["target"] == "path"
    assert not list(store.container("workspaceblobstore").list_blobs(
        name_starts_with=name.split("/")[0]))


@pytest.mark.parametrize("path", ["workspaceblobstore/a\x01b",
                                  "azureml://datastores/workspaceblobstore/paths/a\tb",
                                  "azureml://datastores/workspaceblobstore/paths/a%00b",
                                  "workspaceblobstore/folder\n",
                                  "azureml://datastores/a#b/paths/x",
                                  "http://[::1"])
def test_control_characters_and_malformed_urls_in_inputs(service, digits_endpoint, path):
    started = time.monotonic()
    error = error_of(call(service, "POST", f"/endpoints/{digits_endpoint}/jobs",
                          json={"inputs": {"x": {"type": "uri_folder", "path": path}}}))
    assert error["target"] == "inputs.path", error
    assert time.monotonic() - started < 10


def test_outputs_checked_as_inputs_are(service, store, digits_endpoint):
    path = upload(store, uuid.uuid4().hex, [(n, b) for n, b, _ in data.digit_pngs(1)])
    error = error_of(call(service, "POST", f"/endpoints/{digits_endpoint}/jobs", json={
        "inputs": {"x": {"path": path}},
        "outputs": {"score": {"type": "uri_folder", "path": "workspaceblobstore/o\x7fut"}}}))
    assert error["target"] == "outputs.score.path", error


@pytest.mark.parametrize("route", ["/models/m%0A/versions/1", "/models/m/versions/1%0A",
                                   "/endpoints/nl-ep%0A", "/datastores/ds%0A"])
def test_names_in_routes_are_matched_whole(service, route):
    assert call(service, "GET", route).status_code == 400


@pytest.mark.parametrize("timeout", ["PT١M", "PT30ſ", "٣٠", "PT1Ｍ"])
def test_durations_are_ascii(service, digits_endpoint, timeout):
    error = error_of(call(service, "POST", f"/endpoints/{digits_endpoint}/jobs", json={
        "inputs": {"x": {"path": "workspaceblobstore/x"}},
        "retry_settings": {"timeout": timeout}}))
    assert error["target"] == "retry_settings.timeout", error


def test_unknown_filter_values_are_refused(service, digits_endpoint):
    for route in ("/jobs", f"/endpoints/{digits_endpoint}/jobs",
                  f"/endpoints/{digits_endpoint}/deployments/blue/jobs"):
        error = error_of(call(service, "GET", route, params={"status": "bogus"}))
        assert error["target"] == "status" and "Completed" in error["message"], error
    error = error_of(call(service, "GET", f"/endpoints/{digits_endpoint}/jobs",
                          params={"deployment": "blue\n"}))
    assert error["target"] == "deployment"
    assert call(service, "GET", "/jobs", params={"status": "Completed"}).status_code == 200


def test_endpoint_delete_waits_for_its_jobs_and_cancel_of_an_ended_job_is_409(
        service, api, store):
    name = "busy-" + uuid.uuid4().hex[:6]
    register(api, "digits-busy", name, models.digits_classifier())
    put_endpoint(api, name)
    put_deployment(api, name, "blue", {"model": f"azureml:digits-busy:{name}",
                                       "scoring": models.DIGITS_SCORING})
    path = upload(store, uuid.uuid4().hex, [(n, b) for n, b, _ in data.digit_pngs(200)])
    job = api.batch_endpoints.invoke(name, input=path, mini_batch_size=1, instance_count=1)

    error = error_of(call(service, "DELETE", f"/endpoints/{name}"), 409)
    assert job.name in error["message"], error
    assert call(service, "GET", f"/endpoints/{name}/deployments/blue").status_code == 200

    assert call(service, "POST", f"/jobs/{job.name}/cancel").status_code == 202
    assert call(service, "POST", f"/jobs/{job.name}/cancel").status_code == 202  # idempotent
    ended = api.jobs.stream(job.name, timeout=120, raise_on_failure=False)
    error = error_of(call(service, "POST", f"/jobs/{job.name}/cancel"), 409)
    assert error["job_status"] == ended.status == "Canceled"
    assert "can no longer be canceled" in error["message"]

    r = call(service, "DELETE", f"/endpoints/{name}")
    assert r.status_code == 200 and r.json()["deleted_deployments"] == ["blue"], r.text

