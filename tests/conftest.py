"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
import tempfile

import pytest

#: Debian's Chromium and ChromeDriver (installed by .ci/run); override for other machines.
CHROMIUM = os.environ.get("STAMP_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("STAMP_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")

#: Headless, and quiet on this machine's closed network (no background fetches).
CHROMIUM_ARGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--window-size=1200,1000",
)


@pytest.fixture(scope="module")
def driver():
    """A headless Chromium for pages opened from files; any network request fails.

    Standalone exports must work offline, so the proxy points nowhere: a page that
    tried to fetch plotly.js from a CDN would show no plot.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.TemporaryDirectory(prefix="stamp-chromium-")
    for arg in (*CHROMIUM_ARGS, f"--user-data-dir={profile.name}",
                "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield browser
    finally:
        browser.quit()
        profile.cleanup()
