"""Headless Chromium for the dashboard's browser tests (dash[testing] + selenium).

Run with ``python -m pytest tests/browser --headless -q``; Debian's chromium and
chromedriver are used (``/usr/bin/chromium``, ``/usr/bin/chromedriver`` on PATH).
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest
from selenium.webdriver.chrome.options import Options

CHROMIUM = os.environ.get("STAMP_TEST_CHROMIUM", "/usr/bin/chromium")


def pytest_setup_options():
    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--window-size=1400,1000",
    ):
        options.add_argument(argument)
    return options


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def _private_dash_port():
    """Each test's dash server on a port the OS just handed out.

    dash.testing numbers ports from 8050 in every process, so two test runs on one
    machine (CI beside a developer's run) would otherwise fight over the same port.
    """
    from dash.testing.application_runners import BaseDashRunner

    BaseDashRunner._next_port = _free_port()
    yield


class RequestLog:
    """Paths of the requests the app's Flask server received (counted server-side)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.paths: list[str] = []

    def add(self, path: str) -> None:
        with self._lock:
            self.paths.append(path)

    def count(self, fragment: str) -> int:
        with self._lock:
            return sum(fragment in p for p in self.paths)


@pytest.fixture
def make_app(tmp_path: Path):
    """Build a dashboard with a private cache folder; returns (app, request log)."""
    from flask import request

    from dashboard.app import close_app, create_app
    from dashboard.server.config import Config

    built = []

    def build(loader=None, **settings):
        settings.setdefault("cache_dir", tmp_path / "cache")
        config = Config(**settings)
        app = create_app(config, loader=loader)
        built.append(app)
        log = RequestLog()

        @app.server.before_request
        def _count():
            log.add(request.path)

        return app, log

    yield build
    for app in built:
        close_app(app)
