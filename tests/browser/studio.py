"""What a user does in Studio, in a few verbs (open, fill, click, wait, shot), so the tests
read as the steps a user takes."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 20.0
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
# Why the browser tests cannot run here and how to change that ("" when they can).
HOW_TO_ENABLE = "" if CHROMIUM.exists() and CHROMEDRIVER.exists() else (
    "browser tests skipped: they need Debian's chromium and chromium-driver; scripts/test "
    "installs them when run as root, or: apt-get install chromium chromium-driver")


class Studio:
    def __init__(self, driver: WebDriver, url: str, screenshots: Path, docs: Path | None,
                 downloads: Path):
        self.driver = driver
        self.downloads = downloads  # where the browser saves downloaded files
        self.url = url
        self.screenshots = screenshots
        self.docs = docs

    def open(self, route: str = "") -> None:
        """Go to `#/route` and wait until its page has rendered."""
        self.driver.get(f"{self.url}#/{route}" if route else self.url)
        self.wait_for("main h1")

    def wait_for(self, css: str, text: str | None = None, timeout: float = WAIT) -> WebElement:
        """The first visible element matching `css` (containing `text`), once there is one."""

        def find(driver: WebDriver) -> WebElement | bool:
            try:
                for el in driver.find_elements(By.CSS_SELECTOR, css):
                    if el.is_displayed() and (text is None or text in el.text):
                        return el
            except StaleElementReferenceException:
                pass  # the page re-rendered under us: look again
            return False

        message = f"{css!r}" + (f" containing {text!r}" if text else "")
        return WebDriverWait(self.driver, timeout, 0.1).until(find, message)

    def until(self, condition, message: str, timeout: float = WAIT):
        """Wait for `condition(driver)`; a re-render under it just means "look again"."""
        return WebDriverWait(self.driver, timeout, 0.1, ignored_exceptions=(
            StaleElementReferenceException,)).until(condition, message)

    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "main").text

    def field(self, label: str) -> WebElement:
        """The input a <label> names, as a screen reader would find it."""
        el = self.wait_for("label", label)
        return self.driver.find_element(By.ID, el.get_attribute("for"))

    def fill(self, label: str, value: str) -> None:
        el = self.field(label)
        el.clear()
        el.send_keys(value)

    def choose(self, label: str, option_text: str) -> None:
        Select(self.field(label)).select_by_visible_text(option_text)

    def button(self, text: str, within: str = "main") -> WebElement:
        return self.wait_for(f"{within} button, {within} a.button", text)

    def click(self, text: str, within: str = "main") -> None:
        self.button(text, within).click()

    def shot(self, name: str, doc: bool = False) -> Path:
        """A full-page screenshot (docs/studio-<name>.png too when docs are being made)."""
        d = self.driver
        d.execute_script("window.scrollTo(0, 0); document.activeElement.blur()")
        chrome_height, page_height = d.execute_script(
            "return [window.outerHeight - window.innerHeight,"
            " document.documentElement.scrollHeight]")
        d.set_window_size(1366, min(chrome_height + page_height, 2400))
        path = self.screenshots / f"{name}.png"
        d.save_screenshot(str(path))
        d.set_window_size(1366, 900)
        if doc and self.docs:  # a palette of 128 colours: a third of the bytes, same look
            Image.open(path).convert("RGB").quantize(128, dither=Image.Dither.NONE).save(
                self.docs / f"studio-{name}.png", optimize=True)
        return path
