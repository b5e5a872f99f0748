"""Studio in a real headless Chromium (Debian's chromium + chromium-driver, driven by
Selenium) against the real local host serving the real function_app.py over Azurite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.studio import CHROMEDRIVER, CHROMIUM, HOW_TO_ENABLE, Studio
from tests.e2e.conftest import api, e2e_azurite, service, store  # noqa: F401 (fixtures)

FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--window-size=1366,900", "--force-device-scale-factor=1")
SCREENSHOTS = Path(os.environ.get("STUDIO_SCREENSHOTS",
                                  Path(__file__).resolve().parent / "screenshots"))
# STUDIO_DOCS=1 also writes the main screenshots to docs/studio-*.png.
DOCS = Path(__file__).resolve().parents[2] / "docs" if os.environ.get("STUDIO_DOCS") else None


@pytest.fixture(scope="package")
def chrome(tmp_path_factory, downloads):
    if HOW_TO_ENABLE:
        pytest.skip(HOW_TO_ENABLE)
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not download a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads), "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="package")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="package")
def studio(chrome, service, downloads):  # noqa: F811 (the fixture imported above)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return Studio(chrome, f"{service.api}/studio/", SCREENSHOTS, DOCS, downloads)


@pytest.fixture(scope="module")
def signed_in(studio, service):  # noqa: F811 (the fixture imported above)
    """The function key entered in Settings for one module's tests, and forgotten after them
    (the browser is shared: test_studio.py starts from a page that asks for the key)."""
    studio.open("settings")
    studio.fill("Function key", service.function_key)
    studio.click("Save")
    studio.wait_for("#who", "function key set")
    yield
    studio.driver.execute_script("localStorage.clear(); sessionStorage.clear();")
