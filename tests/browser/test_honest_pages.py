"""Studio pages that tell the truth, in a real headless Chromium against the real local host:
creating a name that exists overwrites nothing and links to the edit form, an edit names the
version it read, and a canceled job asks first and then shows what ran and what was canceled,
with a retry of the canceled items."""

from __future__ import annotations

import uuid

import pytest
from selenium.webdriver.common.by import By

from samples import data, models
from tests.browser.studio import HOW_TO_ENABLE
from tests.e2e.conftest import put_deployment, put_endpoint, register

if HOW_TO_ENABLE:
    pytest.skip(HOW_TO_ENABLE, allow_module_level=True)
pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("signed_in")]
SIZE = 160  # a convolutional model of ~0.5 GFLOP an image: a job that runs for seconds


def test_create_does_not_overwrite_and_edit_names_the_version_read(studio, api):
    name = "taken-" + uuid.uuid4().hex[:6]
    put_endpoint(api, name, {"description": "mine", "tags": {"owner": "ana"}})
    studio.open("endpoints")
    studio.fill("Name", name)
    studio.fill("Description", "theirs")
    studio.click("Create endpoint")
    refused = studio.wait_for("main .notice.error", "exists already")
    assert api.batch_endpoints.get(name).description == "mine"
    assert api.batch_endpoints.get(name).tags == {"owner": "ana"}
    refused.find_element(By.LINK_TEXT, f"Open {name} to edit it").click()
    studio.wait_for("main h1", name)
    studio.fill("Description", "edited in Studio")
    studio.fill("Tags", "owner=ana\nteam=vision")
    studio.click("Save endpoint")
    studio.wait_for("main p", "edited in Studio")
    assert api.batch_endpoints.get(name).tags == {"owner": "ana", "team": "vision"}
    put_endpoint(api, name, {"description": "changed elsewhere"})  # after the page read it
    studio.fill("Description", "stale")
    studio.click("Save endpoint")
    studio.wait_for("main .notice.error", "changed (or deleted) since the page was loaded")
    assert api.batch_endpoints.get(name).description == "changed elsewhere"


def test_cancel_asks_first_then_the_page_shows_what_was_canceled(studio, api, store):
    name = "cancel-" + uuid.uuid4().hex[:6]
    register(api, "cnn-studio", name, models.heavy_cnn(SIZE))
    put_endpoint(api, name)
    put_deployment(api, name, "cnn", {"model": f"cnn-studio:{name}",
                                      "scoring": models.heavy_scoring(SIZE)})
    folder = f"cancel/{uuid.uuid4().hex}"
    container = store.container("workspaceblobstore")
    for file_name, blob in data.photos(200, size=SIZE):
        container.upload_blob(f"{folder}/{file_name}", blob)
    job = api.batch_endpoints.invoke(
        name, input=f"azureml://datastores/workspaceblobstore/paths/{folder}",
        mini_batch_size=1, instance_count=1)
    studio.open(f"jobs/{job.name}")
    studio.click("Cancel job")
    dialog = studio.wait_for("dialog[open]")
    assert "No new mini-batches start" in dialog.text
    dialog.find_element(By.XPATH, ".//button[text()='Cancel']").click()  # changed my mind
    studio.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"), "closed")
    assert api.jobs.get(job.name).status not in ("CancelRequested", "Canceled")
    studio.click("Cancel job")
    studio.wait_for("dialog[open]").find_element(By.CSS_SELECTOR, "[data-confirm]").click()
    studio.wait_for(".title-row .badge", "Canceled", timeout=120)
    done = api.jobs.get(job.name)
    mb, items = done.progress["mini_batches"], done.progress["items"]
    assert mb["canceled"] > 0 and items["canceled"] > 0
    banner = studio.wait_for("#cancel-banner", "The job was canceled")
    assert f"{mb['canceled']} were canceled ({items['canceled']} items not scored)" \
        in banner.text
    assert not studio.driver.find_elements(By.CSS_SELECTOR, "main .notice.error")
    assert f"{items['canceled']} canceled" in studio.wait_for("#items").text
    ran = mb["succeeded"] + mb["failed"]
    assert f"{ran} of {mb['total']} mini-batches ran · {mb['canceled']} canceled" \
        in studio.text()
    assert studio.driver.find_elements(By.CSS_SELECTOR, "svg.chart polyline.canceled")
    assert studio.wait_for("#canceled-items").text.startswith(f"{items['canceled']} items")
    studio.shot("job-canceled", doc=True)
    studio.click("Retry canceled and failed items")
    studio.wait_for("main h1", f"Job {job.name}-retry-")
    again = studio.driver.find_element(By.CSS_SELECTOR, "main h1").text.split()[-1]
    api.jobs.begin_cancel(again)  # its items were scored once already: spare the machine
    assert api.jobs.get(job.name).extra["retried_by"] == again


def test_a_model_version_is_deleted_after_asking_and_one_in_use_is_not(studio, api):
    name = "del-" + uuid.uuid4().hex[:6]
    for version in ("1", "2"):
        register(api, name, version, models.digits_classifier())
    put_endpoint(api, name)
    put_deployment(api, name, "uses-2", {"model": f"{name}:2",
                                         "scoring": models.DIGITS_SCORING})
    studio.open("models")

    def delete(version: str) -> None:
        studio.wait_for(f"button[aria-label='Delete model {name} version {version}']").click()
        dialog = studio.wait_for("dialog[open]")
        assert "other versions stay" in dialog.text
        dialog.find_element(By.CSS_SELECTOR, "[data-confirm]").click()

    delete("1")
    studio.until(lambda d: not d.find_elements(
        By.CSS_SELECTOR, f"button[aria-label='Delete model {name} version 1']"), "v1 gone")
    assert [m.version for m in api.models.list(name)] == ["2"]
    delete("2")
    refused = studio.wait_for("main .notice.error", "is used by deployment(s)")
    assert f"{name}:2" in refused.text and "uses-2" in refused.text
    assert [m.version for m in api.models.list(name)] == ["2"]
