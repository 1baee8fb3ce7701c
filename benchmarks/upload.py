"""Browser target: a 1 GB upload, from the last byte to the heatmap drawn, in headless Chromium.

``python -m benchmarks.upload [--quick]``.  The dashboard runs in its own process (as in
:mod:`benchmarks.browser`) with a fresh cube cache and no data folder; the page opens on the
demo, then two segment files of the benchmark's new-layout dataset (4,000 × 2,040, 1.09 GB;
400 × 2,040 with ``quick``) are chosen in the upload widget's file input, the way a user
picks them.  The page sends them in chunks (``assets/stamp_upload.js``) to the upload route,
which streams them to disk; when the last file is received the job reads and processes them.

Rows: the time from the last upload request answered (the page's resource timing of its
``…/upload/…`` requests) to the heatmap drawn (≤ 10 s, the issue's target); the upload's
throughput over loopback; the growth of the server's resident memory while it received the
files (constant memory: a bounded figure, not a fraction of the upload).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

from . import browser, datasets

#: The upload is this many segment files of the new-layout dataset (each 2,000 × 2,040, 544 MB).
SEGMENTS = 2
#: The issue's target, seconds from the last byte to the first drawn view.
LIMIT_S = 10.0
#: Growth of the server's resident memory allowed while it receives the upload.
RSS_GROWTH_LIMIT_MB = 64.0

_LAST_UPLOAD_BYTE_JS = """
const done = performance.getEntriesByType('resource')
  .filter(e => e.name.indexOf('/upload/') >= 0 && e.initiatorType === 'xmlhttprequest');
return done.length ? {n: done.length, end: Math.max(...done.map(e => e.responseEnd)),
                      start: Math.min(...done.map(e => e.startTime))} : null;
"""


class _RssPeak:
    """Peak resident memory of a process tree (the app and its job workers) while running."""

    def __init__(self, pid: int, every_s: float = 0.05):
        import psutil

        self.root = psutil.Process(pid)
        self.baseline = self._rss()
        self.peak = self.baseline
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        # The server process only: job workers are forked later and read the files, which is the job's memory.
        return self.root.memory_info().rss

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(self._every_s)

    def __enter__(self) -> "_RssPeak":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


def _wait_received(driver, names: list[str], timeout: float) -> None:
    """Until the page says the upload was received ("Received <name>" or "Received <n> files")."""
    from selenium.webdriver.common.by import By

    ids = browser._ids()
    said = f"Received {names[0]}" if len(names) == 1 else f"Received {len(names)} files"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if said in driver.find_element(By.ID, ids.UPLOAD_MESSAGE).text:
            return
        time.sleep(0.05)
    raise TimeoutError(f"the page did not say {said!r} within {timeout:.0f} s")


def upload_targets(quick: bool, timeline: bool = False) -> list[browser.BrowserRow]:
    """Upload two segment files through the page and time the view after the last byte (rows as in browser_targets).

    ``timeline``: print the Dash requests made after the last byte (as ``benchmarks.browser --timeline`` does).
    """
    from selenium.webdriver.common.by import By

    browser._check_browser()
    ids = browser._ids()
    spec = datasets.ingest_specs(quick)[0]
    files = datasets.ensure(spec).paths[:SEGMENTS]
    total = sum(path.stat().st_size for path in files)
    n_rows = spec.n_integrations * SEGMENTS // spec.n_segments
    label = f"1 GB upload ({total / 1e9:.2f} GB, {n_rows:,} × {spec.n_wavelengths:,})"
    rows: list[browser.BrowserRow] = []
    cache = Path(tempfile.mkdtemp(prefix="stamp-bench-upload-"))
    app = browser._start_app(cache, None)
    driver = browser._new_driver()
    try:
        driver.get(app["url"])
        browser._wait_drawn(driver, ids.HEATMAP, "heatmap", 0.0, 120)
        browser._wait_enabled(driver, ids.PROCESS)
        driver.execute_script("performance.setResourceTimingBufferSize(100000);")
        with _RssPeak(app["process"].pid) as rss:
            driver.find_element(By.CSS_SELECTOR, f"#{ids.UPLOAD} input[type=file]").send_keys(
                "\n".join(str(path) for path in files))
            _wait_received(driver, [path.name for path in files], 900)
        timing = driver.execute_script(_LAST_UPLOAD_BYTE_JS)
        if not timing:
            raise RuntimeError("the page made no upload request that resource timing saw")
        # Counted from the last byte: a drawing from before it (the demo's) cannot be taken for the upload's.
        after_last = browser._wait_drawn(driver, ids.HEATMAP, "heatmap", timing["end"], 900, title=datasets.TARGET)
        if timeline:
            browser._print_timeline(driver, timing["end"], "the upload, after its last byte")
        seconds = (timing["end"] - timing["start"]) / 1000.0
        rows.append(browser.BrowserRow(f"{label}: last byte → heatmap drawn", after_last, LIMIT_S,
                                       browser._verdict(after_last, LIMIT_S)))
        rows.append(browser.BrowserRow(f"{label}: upload throughput (MB/s, {timing['n']} requests)",
                                       total / 1e6 / seconds, float("nan"), "REPORT"))
        growth = (rss.peak - rss.baseline) / 2**20
        rows.append(browser.BrowserRow(f"{label}: server RSS growth while receiving (MB)", growth,
                                       RSS_GROWTH_LIMIT_MB, browser._verdict(growth, RSS_GROWTH_LIMIT_MB)))
    except Exception as exc:  # noqa: BLE001 - reported as not run, with the app's last words
        try:
            page = driver.find_element(By.TAG_NAME, "body").text.replace("\n", " | ")[:600]
        except Exception:  # noqa: BLE001
            page = "?"
        print(f"  upload benchmark stopped; the page said: {page}")
        rows.append(browser.BrowserRow(f"{label}: stopped: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}; "
                                       f"app log: {browser.last_lines(browser._app_log(app), 2)}",
                                       None, float("nan"), "NOT RUN"))
    finally:
        driver.quit()
        browser._stop_app(app)
        shutil.rmtree(cache, ignore_errors=True)
    return rows


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="STAMP 1 GB upload target in headless Chromium")
    parser.add_argument("--quick", action="store_true", help="1/10 of the size: a smoke run")
    parser.add_argument("--timeline", action="store_true", help="print the Dash requests after the last byte")
    arguments = parser.parse_args()
    browser.print_browser_targets(upload_targets(arguments.quick, arguments.timeline))
