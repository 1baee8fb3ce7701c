"""Standalone test pages: write one, open it in the browser and wait until it has plotted."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def open_plot_page(driver: Any, path: Path, html: str, timeout: float = 60.0) -> Any:
    """Write ``html`` to ``path``, open it and wait for ``window.READY`` (fail on ``window.ERROR``)."""
    path.write_text(html, encoding="utf-8")
    driver.get(path.as_uri())
    deadline = time.monotonic() + timeout
    while not driver.execute_script("return window.READY || window.ERROR || null"):
        assert time.monotonic() < deadline, "the page did not finish plotting"
        time.sleep(0.1)
    assert driver.execute_script("return window.ERROR || null") is None
    return driver
