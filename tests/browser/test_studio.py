"""A new user's Studio steps, in order, in a real headless Chromium against the real local host:
enter the key, register a model, create an endpoint and two deployments (form and YAML),
create a job on a datastore folder (with a corrupt file), watch it complete, see the failed
item, download the predictions, switch the default, find the default's delete refused and
explained, delete the other deployment, delete the endpoint (its jobs stay)."""

from __future__ import annotations

import csv
import io
import re
import uuid

import httpx
import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from devhost.testing import wait_for
from samples import data, models
from tests.browser.studio import HOW_TO_ENABLE
from tests.e2e.conftest import register

if HOW_TO_ENABLE:
    pytest.skip(HOW_TO_ENABLE, allow_module_level=True)
pytestmark = pytest.mark.timeout(240)
FILES = 12
FOLDER = f"studio-{uuid.uuid4().hex[:6]}/digits"
ENDPOINT = "studio-" + uuid.uuid4().hex[:6]
JOB = {}


@pytest.fixture(scope="module")
def http(service):
    with httpx.Client(base_url=service.api, timeout=30,
                      headers={"x-functions-key": service.function_key}) as client:
        yield client


@pytest.fixture(scope="module", autouse=True)
def sample_inputs(store, api):
    container = store.container("workspaceblobstore")
    for name, blob, _ in data.digit_pngs(FILES):
        container.upload_blob(f"{FOLDER}/{name}", blob, overwrite=True)
    container.upload_blob(f"{FOLDER}/zz-corrupt.png", data.CORRUPT_PNG, overwrite=True)
    # a drop for no endpoint: the host rejects it while the other steps run
    store.container("inbox").upload_blob("no-such-endpoint/day-1/a.png", b"x", overwrite=True)
    register(api, "studio-digits", "2", models.digits_classifier())


def test_the_page_asks_for_the_key_and_explains_a_wrong_one(studio, service):
    studio.open()
    studio.wait_for("main h1", "Settings")
    assert "Welcome to Studio" in studio.text()
    studio.fill("Function key", "not-the-key")
    studio.click("Save")
    assert "refused the credentials (401)" in studio.wait_for(".notice.error").text
    studio.shot("settings", doc=True)
    studio.fill("Function key", service.function_key)
    studio.click("Save")
    studio.wait_for("main h1", "Batch endpoints")  # where the user was going
    assert service.function_key not in studio.driver.current_url
    assert studio.wait_for("#who").text == "function key set"


def test_register_a_model_by_upload(studio, tmp_path):
    onnx = tmp_path / "digits.onnx"
    onnx.write_bytes(models.digits_classifier())
    studio.open("models")
    studio.fill("Name", "studio-digits")
    studio.field("ONNX file").send_keys(str(onnx))
    studio.click("Register model")
    studio.wait_for("main .notice.ok", "Registered azureml:studio-digits:1")
    assert "Inputs" in studio.text() and "X float32 [?, 64]" in studio.text()
    studio.shot("models", doc=True)


def test_create_an_endpoint(studio):
    studio.open("endpoints")
    studio.fill("Name", "1-not-a-valid-name")
    studio.click("Create endpoint")  # the browser's own check stops it: nothing is sent
    assert studio.driver.execute_script(
        "return document.querySelector('input[name=name]').validity.valid") is False
    studio.fill("Name", ENDPOINT)
    studio.fill("Description", "digits scored from Studio")
    studio.click("Create endpoint")
    studio.wait_for("main h1", ENDPOINT)
    assert "No deployments yet" in studio.text()


def test_add_a_deployment_with_the_form_then_one_from_yaml(studio, http):
    studio.click("Add deployment")
    studio.wait_for("main h1", "New deployment")
    studio.fill("Name", "blue")
    studio.choose("Model", "azureml:studio-digits:1")
    studio.fill("Mini-batch size", "4")
    studio.shot("deployment-form", doc=True)
    studio.click("Create deployment")
    studio.wait_for("#default-deployment", "blue")

    studio.click("Add deployment")
    studio.click("YAML")
    yaml = studio.field("deployment.yml")
    text = yaml.get_attribute("value")
    assert "mini_batch_size: 10" in text and "size: [8, 8]" in text
    # (the form preselects the first model listed: other tests' models may come first)
    text = re.sub(r"^model: .*$", "model: azureml:studio-digits:2",
                  text.replace("name: ''", "name: green"), flags=re.MULTILINE)
    studio.driver.execute_script("arguments[0].value = arguments[1]", yaml,
                                 text.replace("mini_batch_size: 10", "mini_batch_size: 0"))
    studio.click("Create deployment")
    refused = studio.wait_for(".notice.error").text
    assert refused.startswith("settings.mini_batch_size: ") or \
        refused.startswith("mini_batch_size: "), refused
    studio.driver.execute_script("arguments[0].value = arguments[1]", yaml, text)
    studio.click("Create deployment")
    row = studio.wait_for("main tbody tr", "green")
    assert "azureml:studio-digits:2" in row.text
    assert ("image, 8×8, mode L, layout flat, dtype float32 → classification, probabilities"
            in row.text)
    assert "mini_batch_size 10" in row.text
    studio.shot("endpoint", doc=True)
    has_preview = bool(studio.driver.find_elements(By.ID, "preview-h"))
    assert has_preview == offers(http, f"/endpoints/{ENDPOINT}/deployments/none/preview")
    if has_preview:  # a few files scored at once, before a job
        first = data.digit_pngs(1)[0][0]
        studio.fill("Files", "\n".join(
            f"azureml://datastores/workspaceblobstore/paths/{FOLDER}/{name}"
            for name in (first, "zz-corrupt.png")))
        studio.click("Preview", within="form[aria-labelledby=preview-h]")
        panel = "form[aria-labelledby=preview-h] table"
        assert first in studio.wait_for(panel, "probability").text
        assert "zz-corrupt.png" in studio.wait_for(panel, "reason").text
        studio.shot("preview", doc=True)


def test_edit_a_deployment(studio):
    studio.click("Edit", within="main tbody tr:nth-child(2)")
    studio.wait_for("main h1", "Edit deployment green")
    assert not studio.field("Name").is_enabled()
    studio.fill("Mini-batch size", "8")
    studio.click("Save deployment")
    studio.wait_for("main tbody tr", "mini_batch_size 8")


def test_create_a_job_on_a_datastore_folder_and_watch_it_complete(studio, http):
    studio.click("Create job")
    studio.wait_for("main h1", "Create job")
    deployment = studio.field("Deployment")
    studio.until(lambda d: deployment.get_attribute("value") == "blue", "blue preselected")
    top, inner = FOLDER.split("/")
    studio.click(f"{top}/", within=".browser")
    studio.click(f"{inner}/", within=".browser")
    studio.wait_for(".browser li", "zz-corrupt.png")
    studio.click("Use this folder", within=".browser")
    assert studio.field("Input path").get_attribute("value") == \
        f"azureml://datastores/workspaceblobstore/paths/{FOLDER}/"
    studio.fill("Mini-batch size", "3")
    studio.shot("create-job", doc=True)
    studio.click("Create job", within="form")
    studio.wait_for("main h1", "Job ")
    JOB["name"] = studio.driver.find_element(By.CSS_SELECTOR, "main h1").text.split()[-1]
    try:  # for the docs: the page while the job runs (it may well have ended already)
        studio.wait_for(".title-row .badge", "Running", timeout=10)
        studio.shot("job-running", doc=True)
    except TimeoutException:
        pass
    studio.wait_for(".title-row .badge", "Completed", timeout=90)
    studio.wait_for("#items", f"{FILES} succeeded")
    assert "1 failed" in studio.wait_for("#items").text
    assert "5 of 5 mini-batches ran" in studio.text()
    assert studio.driver.find_elements(By.CSS_SELECTOR, "svg.chart polyline")
    retry = [b for b in studio.driver.find_elements(By.CSS_SELECTOR, "main button")
             if b.text == "Retry canceled and failed items"]
    assert bool(retry) == offers(http, "/jobs/no-such-job/retry")
    failed = studio.wait_for("main table tbody tr", "zz-corrupt.png")
    assert "not a readable image" in failed.text
    studio.shot("job", doc=True)


def test_download_the_predictions(studio):
    studio.click("Download predictions")
    file = studio.downloads / "predictions.csv"
    wait_for(lambda: file.exists() and not list(studio.downloads.glob("*.crdownload")),
             20, message="predictions.csv to be downloaded")
    rows = list(csv.reader(io.StringIO(file.read_text())))
    assert rows[0][:2] == ["file_name", "row"]
    assert [r[0] for r in rows[1:]] == [f"digit-{i:05d}.png" for i in range(FILES)]


def test_upload_files_from_this_computer_and_score_them(studio, tmp_path):
    chosen = []
    for name, blob, _ in data.digit_pngs(2, start=40):
        (tmp_path / name).write_bytes(blob)
        chosen.append(str(tmp_path / name))
    studio.open(f"create-job?endpoint={ENDPOINT}")
    studio.field("Or upload files").send_keys("\n".join(chosen))
    studio.click("Upload and use")
    studio.wait_for("main .upload", "Uploaded 2 file(s)")
    path = studio.field("Input path").get_attribute("value")
    assert path.startswith("azureml://datastores/workspaceblobstore/paths/uploads/")
    studio.wait_for(".browser li", "digit-00041.png")
    studio.click("Create job", within="form")
    studio.wait_for(".title-row .badge", "Completed", timeout=60)
    studio.wait_for("#items", "2 succeeded")


def test_switch_the_default_then_the_default_cannot_be_deleted(studio):
    studio.open(f"endpoints/{ENDPOINT}")
    studio.choose("Default deployment", "green")
    studio.click("Update default deployment")
    studio.wait_for("#default-deployment", "green")
    green = studio.wait_for("main tbody tr", "green")
    delete = green.find_element(By.CSS_SELECTOR, "button.danger")
    assert not delete.is_enabled()
    reason = green.find_element(By.CSS_SELECTOR, ".reason").text
    assert "default deployment cannot be deleted" in reason
    assert delete.get_attribute("aria-describedby") == "why-green"
    blue = studio.wait_for("main tbody tr", "blue")
    assert blue.find_element(By.CSS_SELECTOR, "button.danger").is_enabled()
    studio.shot("default-switched", doc=True)


def test_delete_the_other_deployment(studio):
    blue = studio.wait_for("main tbody tr", "blue")
    blue.find_element(By.CSS_SELECTOR, "button.danger").click()
    studio.wait_for("dialog[open]").send_keys(Keys.ESCAPE)  # Esc: nothing is deleted
    studio.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"),
                 "the dialog to close")
    blue = studio.wait_for("main tbody tr", "blue")
    blue.find_element(By.CSS_SELECTOR, "button.danger").click()
    dialog = studio.wait_for("dialog[open]")
    assert "Its jobs and their outputs are kept" in dialog.text
    dialog.find_element(By.CSS_SELECTOR, "[data-confirm]").click()
    studio.until(lambda d: "blue" not in d.find_element(By.CSS_SELECTOR, "main tbody").text,
                 "blue to be gone")


def test_jobs_list_by_deployment_and_state(studio):
    studio.open(f"endpoints/{ENDPOINT}/jobs?status=Completed")
    studio.wait_for("main tbody tr", JOB["name"])
    studio.open(f"endpoints/{ENDPOINT}/jobs?status=Failed")
    studio.wait_for("main .empty", "No jobs match")
    studio.open(f"endpoints/{ENDPOINT}/jobs?deployment=blue")  # deleted; its jobs are kept
    studio.wait_for("main tbody tr", JOB["name"])
    studio.open(f"endpoints/{ENDPOINT}/jobs?deployment=green")
    studio.wait_for("main .empty", "No jobs match")
    studio.open("jobs")
    studio.wait_for("main tbody tr", JOB["name"])


def test_delete_the_endpoint_keeps_its_jobs(studio):
    studio.open("endpoints")
    row = studio.wait_for("main tbody tr", ENDPOINT)
    assert "green" in row.text and "Completed" in row.text
    studio.shot("endpoints", doc=True)
    studio.click("Delete", within=f"main tr:has(a[href='#/endpoints/{ENDPOINT}'])")
    dialog = studio.wait_for("dialog[open]")
    assert "jobs and their outputs are kept" in dialog.text
    studio.shot("delete-endpoint", doc=True)
    dialog.find_element(By.CSS_SELECTOR, "[data-confirm]").click()
    studio.until(lambda d: ENDPOINT not in d.find_element(By.TAG_NAME, "main").text,
                 "the endpoint to be gone")
    studio.open(f"jobs/{JOB['name']}")
    studio.wait_for(".title-row .badge", "Completed")
    # no dead link to the endpoint, no Retry that could only fail
    assert "(deleted)" in studio.wait_for("#endpoint-gone").text
    assert not studio.driver.find_elements(By.CSS_SELECTOR, f"a[href='#/endpoints/{ENDPOINT}']")
    assert "Retry canceled and failed items" not in studio.text()


@pytest.mark.parametrize("route, heading", [
    ("datastores", "Datastores"), ("datastores/workspaceblobstore", "Datastore"),
    ("drops", "Rejected drops"), ("create-job", "Create job"), ("no/such/page", "not found"),
])
def test_every_other_page_renders(studio, route, heading):
    studio.open(route)
    studio.wait_for("main h1", heading)
    assert "Could not show this page" not in studio.text()


def test_a_drop_that_cannot_become_a_job_is_listed_with_its_reason(studio):
    def listed():
        studio.open("drops")
        return "no batch endpoint named 'no-such-endpoint'" in studio.text()

    wait_for(listed, 60, interval=0.5, message="the rejected drop on the page")
    row = studio.wait_for("main tbody tr", "no-such-endpoint")
    assert "inbox/no-such-endpoint/day-1/a.png" in row.text


def test_a_job_that_does_not_exist_is_said_in_words(studio):
    studio.open("jobs/no-such-job")
    studio.wait_for("main h1", "Could not show this page")
    assert "job no-such-job not found" in studio.wait_for(".notice.error").text


def test_lists_are_read_in_both_shapes(studio):
    studio.open("settings")
    items = studio.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        import("./js/api.js").then(({ page }) => done([
          page([1]), page({ value: [2] }), page({ value: [3], nextLink: "/jobs?skip=1" })]));
    """)
    assert items == [{"items": [1], "next": None}, {"items": [2], "next": None},
                     {"items": [3], "next": "/jobs?skip=1"}]


def offers(http, path: str) -> bool:
    """The same question the page asks: does the API have this route?"""
    r = http.post(path, json={})
    return r.status_code != 404 or b'"error"' in r.content
