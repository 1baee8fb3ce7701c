"""Figures section, part 2: time from a click to plots drawn, in a real headless Chromium.

The dashboard runs in its own process (``dashboard.app.create_app`` on a free loopback
port) with ``STAMP_DATA_DIR`` at the benchmark dataset and a fresh, empty
``STAMP_CACHE_DIR`` (so the first run of each dataset reads its files: cold).  Selenium
drives Debian's chromium.  "Plots drawn" means: the job is over (the "process" button is
enabled again), the 3-D surface graph holds a figure different from the one before the
click, with traces (for the dataset: titled with its target), and Dash no longer marks the
graph as loading.  The page is polled
every 50 ms, so times are ±0.05 s.

Timings:

* **demo, page open → plots**: a first-time user opening the app (it processes the
  shipped demo on load);
* **demo, click "process" → plots**: the same options again (the cube is cached);
* **dataset, click "Open picked files" → plots**: files picked in the server data-folder
  picker; opening them starts the job (read + process + figures + drawing), cold cache;
* **dataset, click "process" → plots**: again with the cube cached.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from . import datasets
from .common import REPO_ROOT, SectionNotRun, SectionResult, last_lines, print_table

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_ARGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--window-size=1400,1000",
)

# Ids from dashboard/ids.py, read at run time so a rename shows up as "not run", not as a crash.
_ID_NAMES = ("SURFACE", "PROCESS", "SERVER_FILES", "SERVER_OPEN")

_GRAPH_STATE_JS = """
const root = document.getElementById(arguments[0]);
const gd = root && (root.classList.contains('js-plotly-plot') ? root : root.querySelector('.js-plotly-plot'));
const button = document.getElementById(arguments[1]);
const loading = !!(root && (root.closest('[data-dash-is-loading="true"]') || root.querySelector('[data-dash-is-loading="true"]')));
return {
  hasGraph: !!gd,
  traces: gd && gd.data ? gd.data.length : 0,
  changed: !!(gd && gd.data && gd.data !== window.__stampBenchBefore),
  drawn: !!(gd && gd._fullLayout && gd.querySelector('.main-svg')),
  busy: !button || button.disabled,
  loading: loading,
  title: gd && gd.layout && gd.layout.title ? String(gd.layout.title.text || gd.layout.title) : '',
};
"""

_SNAPSHOT_JS = """
const root = document.getElementById(arguments[0]);
const gd = root && (root.classList.contains('js-plotly-plot') ? root : root.querySelector('.js-plotly-plot'));
window.__stampBenchBefore = gd ? gd.data : null;
"""


def run(result: SectionResult, data: datasets.Dataset | None, spec: datasets.DatasetSpec, quick: bool) -> None:
    """Time the clicks; fills ``result`` (raises SectionNotRun when it cannot run at all)."""
    ids = _dashboard_ids()
    _check_browser()
    if data is None:
        try:
            data = datasets.ensure(spec)
        except Exception as exc:  # noqa: BLE001
            data = None
            result.not_run["click to plots (dataset)"] = f"no dataset: {type(exc).__name__}: {exc}"
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    print()
    print("Click to plots in headless Chromium (dashboard in a subprocess, fresh cache)")
    timings: dict[str, float] = {}
    failures: dict[str, str] = {}
    cache = Path(tempfile.mkdtemp(prefix="stamp-bench-cache-"))
    data_dir = data.paths[0].parent if data else None
    app = _start_app(cache, data_dir)
    driver = None
    try:
        options = Options()
        options.binary_location = CHROMIUM
        for arg in CHROME_ARGS:
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(120)

        def measure(name: str, action) -> None:
            try:
                timings[name] = action()
            except Exception as exc:  # noqa: BLE001 - one timing failing leaves the others
                failures[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"

        def open_page() -> float:
            t0 = time.perf_counter()
            driver.get(app["url"])
            return _wait_for_plots(driver, ids, t0, timeout=180, need_change=False)

        measure("demo: page open → plots", open_page)
        measure("demo: click process → plots (cached)", lambda: _click_and_wait(driver, ids, ids["PROCESS"], 180))
        if data is not None:
            label = f"dataset {spec.n_integrations:,}×{spec.n_wavelengths:,}"
            _pick_server_files(driver, ids, [p.name for p in data.paths])
            measure(f"{label}: click open → plots (cold)",
                    lambda: _click_and_wait(driver, ids, ids["SERVER_OPEN"], 1800, expect=datasets.TARGET))
            measure(f"{label}: click process → plots (cached)",
                    lambda: _click_and_wait(driver, ids, ids["PROCESS"], 1800, expect=datasets.TARGET))
    except SectionNotRun:
        raise
    except Exception as exc:  # noqa: BLE001 - reported with what was measured so far
        result.not_run["click to plots"] = (f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}; "
                                            f"app log: {last_lines(_app_log(app), 3)}")
    finally:
        if driver is not None:
            driver.quit()
        _stop_app(app)
        app_log = _app_log(app)
        shutil.rmtree(cache, ignore_errors=True)
    if failures:
        log = last_lines(app_log, 2)
        for name, reason in failures.items():
            result.not_run[f"click to plots: {name}"] = f"{reason}; app log: {log}"
    if timings:
        result.measurements["click_to_plots_s"] = timings
        print_table(["what", "seconds"], [[name, f"{seconds:.2f}"] for name, seconds in timings.items()])


def _dashboard_ids() -> dict[str, str]:
    try:
        from dashboard import ids as dash_ids
        from dashboard.app import create_app  # noqa: F401
    except Exception as exc:  # noqa: BLE001
        raise SectionNotRun(f"the dashboard is not importable yet ({type(exc).__name__}: {exc})") from None
    missing = [name for name in _ID_NAMES if not hasattr(dash_ids, name)]
    if missing:
        raise SectionNotRun(f"dashboard ids not stable yet: dashboard/ids.py lacks {', '.join(missing)}")
    return {name: getattr(dash_ids, name) for name in _ID_NAMES}


def _check_browser() -> None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            raise SectionNotRun(f"{path} not found: headless Chromium timings need Debian's chromium and chromium-driver")
    try:
        import selenium  # noqa: F401
    except ImportError:
        raise SectionNotRun("selenium is not installed: pip install -e '.[bench]'") from None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_APP_SCRIPT = """
import sys
from dashboard.app import create_app
app = create_app()
app.run(host="127.0.0.1", port=int(sys.argv[1]), debug=False)
"""


def _start_app(cache: Path, data_dir: Path | None) -> dict[str, Any]:
    port = _free_port()
    env = {**os.environ, "STAMP_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO_ROOT)}
    env.pop("STAMP_URL_PREFIX", None)
    if data_dir is not None:
        env["STAMP_DATA_DIR"] = str(data_dir)
    log = open(cache / "app.log", "w")
    process = subprocess.Popen([sys.executable, "-c", _APP_SCRIPT, str(port)], cwd=REPO_ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    app = {"process": process, "url": f"http://127.0.0.1:{port}/", "log": cache / "app.log", "log_file": log}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _stop_app(app)
            raise SectionNotRun(f"the dashboard exited at start: {last_lines(_app_log(app))}")
        try:
            with urllib.request.urlopen(app["url"] + "healthz", timeout=2) as response:
                if response.status == 200:
                    return app
        except OSError:
            time.sleep(0.3)
    _stop_app(app)
    raise SectionNotRun(f"the dashboard did not answer /healthz within 90 s: {last_lines(_app_log(app))}")


def _app_log(app: dict[str, Any]) -> str:
    try:
        return Path(app["log"]).read_text(errors="replace")
    except OSError:
        return ""


def _stop_app(app: dict[str, Any]) -> None:
    process: subprocess.Popen = app["process"]
    if process.poll() is None:
        # the app's own process group: its background-job workers go with it
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)
    app["log_file"].close()


def _state(driver, ids) -> dict[str, Any]:
    return driver.execute_script(_GRAPH_STATE_JS, ids["SURFACE"], ids["PROCESS"])


def _wait_for_plots(driver, ids, t0: float, timeout: float, need_change: bool = True, expect: str | None = None) -> float:
    deadline = t0 + timeout
    state: dict[str, Any] = {}
    seen_busy = False
    while time.perf_counter() < deadline:
        try:
            state = _state(driver, ids)
        except Exception:  # noqa: BLE001 - page still loading
            state = {}
        seen_busy = seen_busy or bool(state.get("busy"))
        if (state.get("drawn") and state.get("traces", 0) > 0 and not state.get("busy")
                and not state.get("loading") and (state.get("changed") or not need_change)
                and (expect is None or expect in state.get("title", ""))):
            return time.perf_counter() - t0
        time.sleep(0.05)
    raise TimeoutError(f"plots not drawn within {timeout:.0f} s (last state {state})")


def _click_and_wait(driver, ids, element_id: str, timeout: float, expect: str | None = None) -> float:
    from selenium.webdriver.common.by import By

    button = driver.find_element(By.ID, element_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    driver.execute_script(_SNAPSHOT_JS, ids["SURFACE"])
    t0 = time.perf_counter()
    driver.execute_script("arguments[0].click();", button)  # a JS click: no overlay can intercept it
    return _wait_for_plots(driver, ids, t0, timeout, expect=expect)


def _pick_server_files(driver, ids, names: list[str]) -> None:
    """Choose files in the server-folder dropdown (Dash 4: a button opening a checkbox list)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    trigger = driver.find_element(By.ID, ids["SERVER_FILES"])
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", trigger)
    time.sleep(0.5)
    if not driver.find_elements(By.CSS_SELECTOR, "[role=option]"):
        raise RuntimeError("the server-folder picker did not open")
    for name in names:
        boxes = [box for box in driver.find_elements(By.CSS_SELECTOR, "[role=option] input[type=checkbox]")
                 if box.get_attribute("value") == name]
        if not boxes:
            raise RuntimeError(f"{name} is not offered by the server-folder picker")
        option = boxes[0].find_element(By.XPATH, "./ancestor::*[@role='option'][1]")
        if option.get_attribute("aria-selected") != "true":
            driver.execute_script("arguments[0].click();", option)
            time.sleep(0.2)
    chosen = [o for o in driver.find_elements(By.CSS_SELECTOR, "[role=option]") if o.get_attribute("aria-selected") == "true"]
    if len(chosen) != len(names):
        raise RuntimeError(f"picked {len(chosen)} of {len(names)} files in the server-folder picker")
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    time.sleep(0.3)
