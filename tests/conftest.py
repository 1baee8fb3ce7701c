"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path

import pytest

from stamp_engine.settings import numpy_without_huge_pages
from tests.helpers.paths import REPO

numpy_without_huge_pages()  # as the server runs; on THP-defrag VMs, fresh large arrays are 10× cheaper

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


@pytest.fixture
def stamp_commands(tmp_path_factory, monkeypatch):
    """The ``stamp.commands`` entry points this checkout's pyproject.toml declares, visible to
    :mod:`importlib.metadata` here and in subprocesses (through ``PYTHONPATH``).

    An editable install's metadata is written at install time, so it may predate the
    checkout's pyproject.toml: the tests read the declarations themselves, and
    ``.ci/wheel-smoke`` checks the built wheel's.
    """
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    commands = project["entry-points"]["stamp.commands"]
    site = tmp_path_factory.mktemp("stamp-metadata")
    info = site / f"{project['name']}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    (info / "entry_points.txt").write_text(
        "[stamp.commands]\n" + "".join(f"{name} = {target}\n" for name, target in commands.items()))
    # Ahead of site-packages, so this distribution is found before an installed 'stamp' (it holds
    # no code: the checkout's is imported).
    monkeypatch.syspath_prepend(str(site))
    paths = [str(REPO), str(site), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(dict.fromkeys(paths)))
    return commands
