"""The Studio pages Azure ML users look for, in a real headless Chromium against the real local
host: an endpoint's Consume tab, whose REST and Python snippets (run here as shown, the key
from $KEY) start real jobs, and a finished job's outputs with the first prediction rows."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import uuid

import pytest
from selenium.webdriver.common.by import By

from samples import data
from tests.browser.studio import HOW_TO_ENABLE
from tests.e2e.conftest import ROOT, digits_endpoint, output  # noqa: F401 (a fixture)

if HOW_TO_ENABLE:
    pytest.skip(HOW_TO_ENABLE, allow_module_level=True)
pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("signed_in")]


def _folder(store, count: int) -> str:
    folder = f"consume/{uuid.uuid4().hex}"
    for name, blob, _ in data.digit_pngs(count):
        store.container("workspaceblobstore").upload_blob(f"{folder}/{name}", blob)
    return f"azureml://datastores/workspaceblobstore/paths/{folder}"


def _snippet(studio, kind: str, path: str) -> str:
    text = studio.wait_for(f"pre[data-snippet={kind}]").text
    lines = [line for line in text.splitlines() if not line.startswith("KEY=")]
    return "\n".join(lines).replace("azureml://datastores/workspaceblobstore/paths/<folder>",
                                    path)


def test_the_consume_tab_gives_snippets_that_work(studio, service, api, store,
                                                  digits_endpoint):  # noqa: F811
    studio.open(f"endpoints/{digits_endpoint}")
    studio.click("Consume")
    studio.wait_for("main h1", f"Consume {digits_endpoint}")
    uri = api.batch_endpoints.get(digits_endpoint).scoring_uri
    assert studio.wait_for("#scoring-uri").text == uri
    assert service.function_key not in studio.driver.page_source  # the key is never shown
    assert f"--url {service.api}" in studio.wait_for("pre[data-snippet=bep]").text
    studio.shot("consume", doc=True)
    env = {**os.environ, "KEY": service.function_key, "PYTHONPATH": str(ROOT)}
    curl = subprocess.run(["bash", "-c", _snippet(studio, "curl", _folder(store, 2))],
                          env=env, capture_output=True, text=True, timeout=60, check=True)
    started = api.jobs.stream(json.loads(curl.stdout)["name"], timeout=120)
    assert started.endpoint_name == digits_endpoint and started.status == "Completed"
    python = _snippet(studio, "python", _folder(store, 3))
    ran = subprocess.run([sys.executable, "-c", python], env=env, cwd=studio.downloads,
                         capture_output=True, text=True, timeout=180)
    assert ran.returncode == 0, ran.stderr
    assert (studio.downloads / "named-outputs" / "score" / "predictions.csv").exists()
    studio.click("Jobs", within="nav.tabs")
    studio.wait_for("main h1", f"Jobs of {digits_endpoint}")
    newest = next(iter(api.batch_endpoints.list_jobs(digits_endpoint))).name
    assert newest != started.name  # the Python snippet's job, started after it
    assert studio.wait_for("main tbody tr").text.split()[0] == newest


def test_a_finished_job_shows_its_outputs_and_first_predictions(studio, api, store,
                                                                digits_endpoint):  # noqa: F811
    job = api.batch_endpoints.invoke(digits_endpoint, input=_folder(store, 12))
    api.jobs.stream(job.name, timeout=120)
    studio.open(f"jobs/{job.name}")
    listed = studio.wait_for("#outputs table", "predictions.csv")
    assert "job_summary.json" in listed.text
    preview = studio.wait_for("#score-preview table")
    heads = [th.text for th in preview.find_elements(By.CSS_SELECTOR, "thead th")]
    shown = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
             for tr in preview.find_elements(By.CSS_SELECTOR, "tbody tr")]
    written = list(csv.reader(io.StringIO(output(api, job.name).decode())))
    assert heads == written[0] and shown == written[1:11]
    assert "The first 10 rows" in studio.wait_for("#score-preview").text
    studio.shot("job-outputs", doc=True)
