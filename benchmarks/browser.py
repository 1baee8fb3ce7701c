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

:func:`browser_targets` (``python -m benchmarks.browser [--quick]``) measures each browser
target — first view, cold and cached opens of the big ZIP, the 3D surface, band click,
colour scale and range, Play, hidden-view redraws, surface highlight — as
:class:`BrowserRow` rows (target, median measured, limit, verdict).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, NamedTuple

from . import datasets
from .common import REPO_ROOT, SectionNotRun, SectionResult, last_lines, print_table

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_ARGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--window-size=1400,1000",
)

#: How often a wait asks the page whether it has drawn (or enabled a button).  The times are the page's own (its clock at
#: Plotly's afterplot), so this only sets how soon the benchmark goes on; each ask is a round trip
#: through chromedriver, the browser process and the renderer, and asking every 30 ms took
#: 0.4–0.5 CPU s from a 10,000 × 2,040 cold open on 2 cores (heatmap 5.06 s → 4.62 s, median of 3).
WAIT_POLL_S = 0.25

#: Cold opens of the big ZIP (the median is reported), each under another name of the same file.
COLD_OPENS = 3

# Ids from dashboard/ids.py, read at run time so a rename shows up as "not run", not as a crash.
_ID_NAMES = ("HEATMAP", "PROCESS", "SERVER_FILES", "SERVER_OPEN", "JOB_MESSAGE")
#: A job that ended (Process enabled again) without a new drawing for this long has failed.
ENDED_WITHOUT_DRAWING_S = 10.0

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
  message: (document.getElementById(arguments[2]) || {}).innerText || '',
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
    print()
    print("Click to plots in headless Chromium (dashboard in a subprocess, fresh cache)")
    timings: dict[str, float] = {}
    failures: dict[str, str] = {}
    cache = Path(tempfile.mkdtemp(prefix="stamp-bench-cache-"))
    data_dir = data.paths[0].parent if data else None
    app = _start_app(cache, data_dir)
    driver = None
    try:
        driver = _new_driver()

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
    # the first view: the surface is drawn only when its tab is shown (it waited 180–1800 s here for nothing)
    return driver.execute_script(_GRAPH_STATE_JS, ids["HEATMAP"], ids["PROCESS"], ids["JOB_MESSAGE"])


def _wait_for_plots(driver, ids, t0: float, timeout: float, need_change: bool = True, expect: str | None = None) -> float:
    deadline = t0 + timeout
    state: dict[str, Any] = {}
    seen_busy = False
    idle_since = None
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
        # a failed job re-enables Process and says why, with no new drawing: report it, not a timeout
        ended = seen_busy and state and not state.get("busy") and not state.get("loading")
        idle_since = (idle_since or time.perf_counter()) if ended else None
        if idle_since is not None and time.perf_counter() - idle_since > ENDED_WITHOUT_DRAWING_S:
            raise RuntimeError(f"the job ended without drawing: {state.get('message') or 'no message'}")
        time.sleep(0.05)
    raise TimeoutError(f"plots not drawn within {timeout:.0f} s (last state {state})")


def _click_and_wait(driver, ids, element_id: str, timeout: float, expect: str | None = None) -> float:
    from selenium.webdriver.common.by import By

    button = driver.find_element(By.ID, element_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    driver.execute_script(_SNAPSHOT_JS, ids["HEATMAP"])
    t0 = time.perf_counter()
    driver.execute_script("arguments[0].click();", button)  # a JS click: no overlay can intercept it
    return _wait_for_plots(driver, ids, t0, timeout, expect=expect)


def _pick_server_files(driver, ids, names: list[str]) -> None:
    """Choose files in the server-folder dropdown (Dash 4: a button opening a checkbox list)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    # dcc.Dropdown is rendered from a chunk of its own: on a page opened from the browser's cache it
    # can come after the first heatmap
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    trigger = WebDriverWait(driver, 30).until(expected_conditions.presence_of_element_located((By.ID, ids["SERVER_FILES"])))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", trigger)
    time.sleep(0.5)
    if not driver.find_elements(By.CSS_SELECTOR, "[role=option]"):
        raise RuntimeError("the server-folder picker did not open")
    for option in driver.find_elements(By.CSS_SELECTOR, "[role=option]"):
        boxes = option.find_elements(By.CSS_SELECTOR, "input[type=checkbox]")
        if option.get_attribute("aria-selected") == "true" and boxes and boxes[0].get_attribute("value") not in names:
            driver.execute_script("arguments[0].click();", option)  # picked before: unpick
            time.sleep(0.2)
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


# ============================================ browser targets: first view, interactions, surface
#: Installed before any page script (Chrome DevTools ``Page.addScriptToEvaluateOnNewDocument``):
#: counts the Dash callback requests (and those that carry a graph's figure) and records,
#: per graph, when Plotly finished each drawing (``plotly_afterplot`` plus two animation
#: frames, so WebGL has painted), on the page's ``performance.now()`` clock.
_PROBE_JS = r"""
(function () {
  var bench = window.__stampBench = {requests: 0, figureRequests: 0, draws: {}, hooked: [], calls: []};
  var plainFetch = window.fetch;
  window.fetch = function (input, init) {
    var url = typeof input === 'string' ? input : (input && input.url) || '';
    if (url.indexOf('_dash-update-component') >= 0) {
      bench.requests += 1;
      var body = init && typeof init.body === 'string' ? init.body : '';
      if (/-graph\.figure/.test(body.slice(0, 4000))) { bench.figureRequests += 1; }
      // the request's timeline (what it asked for, when it left, when its answer was read)
      var output = (/"output":"([^"]{0,120})/.exec(body.slice(0, 2000)) || [])[1] || '?';
      var call = {output: output, start: performance.now(), end: null, bytes: 0, status: 0,
                  poll: url.indexOf('job=') >= 0 || /"cacheKey"/.test(url)};
      bench.calls.push(call);
      return plainFetch.apply(this, arguments).then(function (response) {
        call.status = response.status;
        var copy = response.clone();
        copy.text().then(function (text) { call.end = performance.now(); call.bytes = text.length; });
        return response;
      });
    }
    return plainFetch.apply(this, arguments);
  };
  function hook() {
    var plots = document.querySelectorAll('.js-plotly-plot');
    for (var i = 0; i < plots.length; i++) {
      var gd = plots[i];
      if (gd.__stampBenchHooked || !gd.on) { continue; }
      gd.__stampBenchHooked = true;
      (function (gd) {
        var holder = gd.closest('[id$="-graph"]');
        var name = holder ? holder.id : 'graph';
        bench.draws[name] = bench.draws[name] || [];
        gd.on('plotly_afterplot', function () {
          requestAnimationFrame(function () { requestAnimationFrame(function () {
            var traces = gd.data || [];
            bench.draws[name].push({t: performance.now(), n: traces.length,
                                    type: traces.length ? (traces[0].type || 'scatter') : ''});
          }); });
        });
      })(gd);
    }
  }
  // Long tasks (≥ 50 ms of main thread): a click landing in one waits for its end.
  bench.longTasks = [];
  try {
    new PerformanceObserver(function (list) {
      list.getEntries().forEach(function (e) { bench.longTasks.push([e.startTime, e.startTime + e.duration]); });
    }).observe({type: 'longtask', buffered: true});
  } catch (e) { /* no long-task timing: usable is then drawn and enabled only */ }
  // When each watched button last turned enabled (page clock).
  bench.enabledAt = {};
  var wasEnabled = {};
  function watchButtons() {
    (window.__stampBenchButtons || []).forEach(function (id) {
      var el = document.getElementById(id), on = !!el && !el.disabled;
      if (on && !wasEnabled[id]) { bench.enabledAt[id] = performance.now(); }
      wasEnabled[id] = on;
    });
  }
  // Both are looked at as the page changes, not on a clock: the probe once looked every animation
  // frame (and hooked graphs every 20 ms), which kept a page with nothing to do drawing frames —
  // 0.09 CPU s a second of the renderer and the GPU process, 0.5 CPU s of the 2 cores while a
  // 10,000 × 2,040 ZIP opened cold; a user's page idles at ≈ 0.
  new MutationObserver(function () { hook(); watchButtons(); }).observe(document, {
    subtree: true, childList: true, attributes: true, attributeFilter: ['class', 'disabled']});
})();
"""

#: The page-open measurement: the graph drawn and the button enabled (as the page saw them, not
#: when a poll from here got an answer), then moved on past every long task (≥ 50 ms of main
#: thread) until the main thread has had USABLE_QUIET_S with none: a click in that work would wait.
USABLE_QUIET_S = 0.5
_USABLE_JS = """
const bench = window.__stampBench || {};
const draws = (bench.draws || {})[arguments[0]] || [];
const enabled = (bench.enabledAt || {})[arguments[1]];
const quiet = arguments[2] * 1000;
if (!draws.length || enabled === undefined) { return null; }
let ready = Math.max(draws[draws.length - 1].t, enabled);
for (let moved = true; moved;) {
  moved = false;
  for (const [start, end] of (bench.longTasks || [])) {
    if (end > ready && start < ready + quiet) { ready = end; moved = true; }
  }
}
return {ready: ready, now: performance.now()};
"""

_GRAPH_JS = """
const holder = document.getElementById(arguments[0]);
const gd = holder && holder.querySelector('.js-plotly-plot');
const traces = gd && gd.data ? gd.data : [];
const title = gd && gd.layout && gd.layout.title ? String(gd.layout.title.text || gd.layout.title) : '';
const loading = !!(holder && (holder.closest('[data-dash-is-loading="true"]') || holder.querySelector('[data-dash-is-loading="true"]')));
const draws = (window.__stampBench && window.__stampBench.draws[arguments[0]]) || [];
const failed = document.querySelector('#job-message .alert-danger');
const process = document.getElementById('process');
return {type: traces.length ? (traces[0].type || 'scatter') : '', n: traces.length, title: title, loading: loading,
        draws: draws.length, last: draws.length ? draws[draws.length - 1].t : null, now: performance.now(),
        requests: window.__stampBench ? window.__stampBench.requests : 0,
        figureRequests: window.__stampBench ? window.__stampBench.figureRequests : 0,
        jobError: failed && process && !process.disabled ? failed.textContent : ''};
"""


class BrowserRow(NamedTuple):
    """One browser target: what, the median measured (s, or a count), its limit, the verdict."""

    target: str
    measured: float | None
    limit: float
    verdict: str


def _verdict(value: float | None, limit: float) -> str:
    return "NOT RUN" if value is None else ("PASS" if value <= limit else "FAIL")


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _browser_data(quick: bool) -> tuple[Path, dict[str, str]]:
    """A data folder for the app: the real MIRI file (small), the big dataset as one ZIP, the old-layout file.

    Hard links into ``benchmarks/_data/browser[-quick]/`` (made once); returns the folder
    and the relative names the server picker offers.
    """
    import zipfile

    new_spec, old_spec = datasets.ingest_specs(quick)
    big, old = datasets.ensure(new_spec), datasets.ensure(old_spec)
    folder = datasets.DATA_DIR / ("browser-quick" if quick else "browser")
    folder.mkdir(parents=True, exist_ok=True)
    small_source = REPO_ROOT / "tests/data/real/jwst_x1dints/jw02783-o002_t001_miri_p750l-slitlessprism_x1dints.fits"
    names = {"small": small_source.name, "old": old.paths[0].name, "big": f"{new_spec.name}.zip"}
    for key, source in (("small", small_source), ("old", old.paths[0])):
        target = folder / names[key]
        if not target.exists():
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)
    archive = folder / names["big"]
    if not archive.exists():
        partial = archive.with_suffix(".partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zipped:
            for path in big.paths:
                zipped.write(path, path.name)
        partial.rename(archive)
    # The cube cache knows data by path, size and modification time: each further cold open takes
    # another name of the same bytes (a hard link: the same pages in the page cache).
    names["big_cold"] = [names["big"]]
    for copy in range(2, COLD_OPENS + 1):
        other = archive.with_name(f"{archive.stem}-cold{copy}.zip")
        if not other.exists():
            os.link(archive, other)
        names["big_cold"].append(other.name)
    return folder, names


def _new_driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(120)
    driver.set_script_timeout(120)
    buttons = json.dumps([_ids().PROCESS])
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                           {"source": f"window.__stampBenchButtons = {buttons};\n{_PROBE_JS}"})
    return driver


def _graph(driver, graph: str) -> dict[str, Any]:
    return driver.execute_script(_GRAPH_JS, graph)


def _now(driver) -> float:
    return driver.execute_script("return performance.now();")


def _usable(driver, graph: str, button: str, timeout: float = 60) -> float:
    """Seconds (page clock) until ``graph`` was drawn, ``button`` enabled and the main thread then quiet
    for :data:`USABLE_QUIET_S` (see ``_USABLE_JS``); waits until that quiet time has passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = driver.execute_script(_USABLE_JS, graph, button, USABLE_QUIET_S)
        if seen is None:
            raise RuntimeError(f"the page did not record #{graph} drawn or #{button} enabled")
        if seen["now"] >= seen["ready"] + USABLE_QUIET_S * 1000 + 100:
            return seen["ready"] / 1000.0
        time.sleep(0.1)
    raise TimeoutError(f"the page's main thread was not quiet for {USABLE_QUIET_S} s within {timeout:.0f} s")


def _wait_drawn(driver, graph: str, kind: str, since: float, timeout: float, title: str | None = None,
                draws_before: int | None = None) -> float:
    """Seconds from ``since`` (page clock, ms) until ``graph`` shows a ``kind`` figure, drawn after ``since``."""
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            state = _graph(driver, graph)
        except Exception:  # noqa: BLE001 - page still loading, or WebGL busy
            state = {}
        if (state.get("type") == kind and state.get("last") is not None and state["last"] > since
                and not state.get("loading") and (title is None or title in state.get("title", ""))
                and (draws_before is None or state["draws"] > draws_before)):
            return (state["last"] - since) / 1000.0
        if state.get("jobError") and state.get("now", 0) - since > 2000:
            raise RuntimeError(f"the job failed: {state['jobError'][:200]}")
        time.sleep(WAIT_POLL_S)
    raise TimeoutError(f"#{graph} did not show a drawn {kind} within {timeout:.0f} s (last state {state})")


def _click(driver, css: str) -> float:
    """Click the element (a JS click, scrolled into view); returns the page clock at the click."""
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.CSS_SELECTOR, css)
    return driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});"
        "const t = performance.now(); arguments[0].click(); return t;", element)


def _click_tab(driver, tab_id: str) -> float:
    from selenium.webdriver.common.by import By

    links = driver.find_elements(By.CSS_SELECTOR, f"#{_ids().TABS} .nav-link")
    index = [_ids().TAB_HEATMAP, _ids().TAB_SURFACE, _ids().TAB_LIGHTCURVES, _ids().TAB_SPECTRUM].index(tab_id)
    return driver.execute_script("const t = performance.now(); arguments[0].click(); return t;", links[index])


def _ids():
    from dashboard import ids

    return ids


def _band_button(driver, name: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.XPATH, f"//*[@id='{_ids().BAND_BUTTONS}']//button[normalize-space()='{name}'] | "
                                         f"//button[@id='{_ids().BAND_ALL}' and normalize-space()='{name}']")


def _press_band(driver, name: str) -> float:
    button = _band_button(driver, name)
    return driver.execute_script("const t = performance.now(); arguments[0].click(); return t;", button)


def _first_band(driver) -> str:
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        buttons = driver.find_elements(By.CSS_SELECTOR, f"#{_ids().BAND_BUTTONS} button")
        if buttons:
            return buttons[0].text.strip()
        time.sleep(0.1)
    raise TimeoutError("no band buttons")


def _open_server_file(driver, name: str) -> float:
    ids = _ids()
    _pick_server_files(driver, {"SERVER_FILES": ids.SERVER_FILES}, [name])
    return _click(driver, f"#{ids.SERVER_OPEN}")


def _set_select(driver, element_id: str, value: str) -> float:
    """Choose ``value`` in a native <select> the way a user does (React sees a change event)."""
    return driver.execute_script("""
const el = document.getElementById(arguments[0]);
const setter = Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value').set;
const t = performance.now();
setter.call(el, arguments[1]);
el.dispatchEvent(new Event('change', {bubbles: true}));
return t;""", element_id, value)


def _set_number(driver, element_id: str, value: float) -> None:
    """Type a number into a debounced Dash input (committed on blur, as a user's Tab does)."""
    driver.execute_script("""
const el = document.getElementById(arguments[0]);
const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
el.focus(); setter.call(el, String(arguments[1]));
el.dispatchEvent(new Event('input', {bubbles: true}));""", element_id, value)


def _blur(driver, element_id: str) -> float:
    return driver.execute_script("""
const el = document.getElementById(arguments[0]);
const t = performance.now();
el.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', keyCode: 13, which: 13, bubbles: true}));
el.blur();
return t;""", element_id)


def _wait_explore_payload(driver, timeout: float = 60) -> None:
    """Wait until the page holds the exploration payload of the result its heatmap shows."""
    ids = _ids()
    from dashboard.features.explore import PAYLOAD_HELD_JS

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if driver.execute_script(PAYLOAD_HELD_JS, ids.EXPLORE_SENT, ids.HEATMAP):
            return
        time.sleep(0.05)
    raise TimeoutError(f"the exploration payload of the shown result did not come within {timeout:.0f} s")


def _requests(driver) -> tuple[int, int]:
    state = driver.execute_script("return [window.__stampBench.requests, window.__stampBench.figureRequests];")
    return int(state[0]), int(state[1])


def _draw_count(driver, graph: str, kind: str | None = None) -> int:
    """Drawings of ``graph`` so far (only those showing a ``kind`` figure, when given)."""
    if kind is None:
        return int(_graph(driver, graph)["draws"])
    return int(driver.execute_script("return (window.__stampBench.draws[arguments[0]] || [])"
                                     ".filter(d => d.type === arguments[1]).length;", graph, kind))


def browser_targets(quick: bool, first_view_only: bool = False, timeline: bool = False) -> list[BrowserRow]:
    """Measure every browser target (first view, interactions, 3D surface) in headless Chromium; one row per target (medians of repeats).

    The dashboard runs in a subprocess on a fresh cube cache with a data folder holding
    the real MIRI x1dints file (small), the 10,000 × 2,040 dataset as one ZIP (1,000 ×
    2,040 with ``quick``) and the 1,200 × 430 old-layout file (the predecessor's
    surface-highlight case).  Times are on the page's clock, to the moment Plotly has
    drawn and two animation frames have passed.  ``first_view_only``: only the page open, the
    small file and the big ZIP (cold and cached); ``timeline``: print each Dash request of
    those opens (what it asked for, when it left and was answered, relative to the click).
    """
    _check_browser()
    ids = _ids()
    repeats = 1 if quick else 3
    data_dir, names = _browser_data(quick)
    big_rows = names["big"].split("_")[1].split("x")[0]
    label = f"{int(big_rows):,} × 2,040"
    old_spec = datasets.ingest_specs(quick)[1]
    old_label = f"{old_spec.n_integrations:,} × {old_spec.n_wavelengths:,}"
    measured: dict[str, list[float]] = {}
    notes: list[str] = []

    def add(name: str, value: float) -> None:
        measured.setdefault(name, []).append(value)

    cache = Path(tempfile.mkdtemp(prefix="stamp-bench-cache-"))
    app = _start_app(cache, data_dir)
    driver = _new_driver()
    try:
        # page open → usable: the demo's heatmap drawn, the Process button enabled, and the main thread free
        for visit in range(repeats + 1):  # the first visit fills the demo's cube cache: not counted
            driver.get("about:blank")
            driver.get(app["url"])
            drawn = _wait_drawn(driver, ids.HEATMAP, "heatmap", 0.0, 120)
            _wait_enabled(driver, ids.PROCESS)
            usable = _usable(driver, ids.HEATMAP, ids.PROCESS)
            if visit:
                add("page open → heatmap drawn", drawn)
                add("page open → usable", usable)
        # small file → first view (server picker, the file never opened before: cold)
        for attempt in range(repeats + 1):  # the first is cold (the file never read before)
            driver.get(app["url"])
            _wait_drawn(driver, ids.HEATMAP, "heatmap", 0.0, 120)
            _wait_enabled(driver, ids.PROCESS)
            since = _open_server_file(driver, names["small"])
            add("small file → first view" if attempt else "small file → first view (cold)",
                _wait_drawn(driver, ids.HEATMAP, "heatmap", since, 120, title=None))
            if timeline:
                time.sleep(0.5)
                _print_timeline(driver, since, f"small file, open {attempt + 1}")
        # the big ZIP, cold (each time under a name the cube cache has not seen), then from the cube cache
        for cold_name in names["big_cold"][:repeats]:
            driver.get(app["url"])
            _wait_drawn(driver, ids.HEATMAP, "heatmap", 0.0, 120)
            _wait_enabled(driver, ids.PROCESS)
            _wait_explore_payload(driver)  # the page at rest: the demo's deferred payload has come
            browser_cpu = _browser_cpu_seconds()
            since = _open_server_file(driver, cold_name)
            add(f"{label} ZIP → heatmap (cold)", _wait_drawn(driver, ids.HEATMAP, "heatmap", since, 1800,
                                                           title=datasets.TARGET))
            if browser_cpu is not None:
                # Context for the cold time on 2 cores: what the page itself took from the job (a moving
                # progress bar once took 0.4–0.5 of a core; polls and the final drawing remain).
                add(f"browser CPU seconds while the {label} ZIP opens cold", _browser_cpu_seconds() - browser_cpu)
            if timeline:
                time.sleep(0.5)
                _print_timeline(driver, since, f"{label} ZIP, cold")
            _wait_enabled(driver, ids.PROCESS)
        # the cached opens below reopen the file the picker holds: the last one opened cold
        surface_draws_at_first_view = _draw_count(driver, ids.SURFACE, "surface")
        for _ in range(repeats):
            since = _click(driver, f"#{ids.DEMO_OPEN}")
            _wait_drawn(driver, ids.HEATMAP, "heatmap", since, 120)
            _wait_enabled(driver, ids.PROCESS)
            since = _click(driver, f"#{ids.SERVER_OPEN}")
            add(f"{label} ZIP → heatmap (cached)", _wait_drawn(driver, ids.HEATMAP, "heatmap", since, 600,
                                                             title=datasets.TARGET))
            if timeline:
                time.sleep(0.5)
                _print_timeline(driver, since, f"{label} ZIP, cached")
            _wait_enabled(driver, ids.PROCESS)
        if not first_view_only:  # else only the first-view targets: the page, the small file, the big ZIP
            # interactions on the big heatmap, once the result's one exploration payload has come
            # (asked for after the first view; it is not a request of the interactions measured)
            _wait_explore_payload(driver)
            band = _first_band(driver)
            before = _requests(driver)
            for _ in range(repeats):
                for name in (band, "All"):
                    draws = _draw_count(driver, ids.HEATMAP)
                    since = _press_band(driver, name)
                    add("band click on the heatmap", _wait_drawn(driver, ids.HEATMAP, "heatmap", since, 60,
                                                                 draws_before=draws))
            add("server requests for band clicks", float(_requests(driver)[1] - before[1]))
            before = _requests(driver)
            for scale in (["Viridis", "RdBu_r", "Inferno"] * repeats)[: 2 * repeats]:
                draws = _draw_count(driver, ids.HEATMAP)
                since = _set_select(driver, ids.COLORSCALE, scale)
                add("colour scale on the heatmap", _wait_drawn(driver, ids.HEATMAP, "heatmap", since, 120,
                                                               draws_before=draws))
            # a range is two edits: the first (both ends) untimed, then the upper end edited alone
            draws = _draw_count(driver, ids.HEATMAP)
            _set_number(driver, ids.Z_MIN, -2)
            _blur(driver, ids.Z_MIN)
            _set_number(driver, ids.Z_MAX, 2)
            since = _blur(driver, ids.Z_MAX)
            _wait_drawn(driver, ids.HEATMAP, "heatmap", since, 120, draws_before=draws)
            time.sleep(0.5)
            for hi in ([1.0, 3.0, 1.5] * repeats)[: 2 * repeats]:
                draws = _draw_count(driver, ids.HEATMAP)
                _set_number(driver, ids.Z_MAX, hi)
                since = _blur(driver, ids.Z_MAX)
                add("colour range on the heatmap", _wait_drawn(driver, ids.HEATMAP, "heatmap", since, 120,
                                                               draws_before=draws))
            add("server requests for colour changes", float(_requests(driver)[1] - before[1]))
            # the 3D surface of the big dataset, then back: a hidden surface must not redraw
            since = _click_tab(driver, ids.TAB_SURFACE)
            add(f"{label} 3D surface drawn", _wait_drawn(driver, ids.SURFACE, "surface", since, 600,
                                                         title=datasets.TARGET))
            since = _click_tab(driver, ids.TAB_HEATMAP)
            _wait_drawn(driver, ids.HEATMAP, "heatmap", 0.0, 120)
            surface_draws = _draw_count(driver, ids.SURFACE)
            for name in (band, "All"):
                draws = _draw_count(driver, ids.HEATMAP)
                since = _press_band(driver, name)
                _wait_drawn(driver, ids.HEATMAP, "heatmap", since, 60, draws_before=draws)
            _set_select(driver, ids.COLORSCALE, "Viridis")
            time.sleep(1.0)
            add("hidden surface redraws", float(_draw_count(driver, ids.SURFACE) - surface_draws))
            add("surface draws before the first heatmap", float(surface_draws_at_first_view))
            # Play on the spectrum player: the time between drawn frames at the fastest speed
            _click_tab(driver, ids.TAB_SPECTRUM)
            _wait_drawn(driver, ids.SPECTRUM, "scatter", 0.0, 300)
            _set_select(driver, ids.SPECTRUM_SPEED, "30")
            before = _requests(driver)
            draws = _draw_count(driver, ids.SPECTRUM)
            _click(driver, f"#{ids.PLAY}")
            time.sleep(4.0 if not quick else 2.0)
            _click(driver, f"#{ids.PLAY}")
            frames = driver.execute_script("return window.__stampBench.draws[arguments[0]].slice(arguments[1]).map(d => d.t);",
                                           ids.SPECTRUM, draws)
            gaps = [(b - a) / 1000.0 for a, b in zip(frames, frames[1:])]
            if gaps:
                add("Play frame", float(statistics.median(gaps)))
            else:
                notes.append("Play drew no frame")
            add("server requests while playing", float(_requests(driver)[1] - before[1]))
            # highlight and reset on the predecessor's surface case (1,200 × 430, old layout)
            _click_tab(driver, ids.TAB_HEATMAP)
            since = _open_server_file(driver, names["old"])
            _wait_drawn(driver, ids.HEATMAP, "heatmap", since, 600, title=datasets.TARGET)
            _wait_enabled(driver, ids.PROCESS)
            since = _click_tab(driver, ids.TAB_SURFACE)
            _wait_drawn(driver, ids.SURFACE, "surface", since, 600, title=datasets.TARGET)
            band = _first_band(driver)
            for _ in range(repeats):
                draws = _draw_count(driver, ids.SURFACE)
                since = _press_band(driver, band)
                add(f"surface highlight ({old_label})", _wait_drawn(driver, ids.SURFACE, "surface", since, 120,
                                                                   draws_before=draws))
                draws = _draw_count(driver, ids.SURFACE)
                since = _press_band(driver, "All")
                add(f"surface reset ({old_label})", _wait_drawn(driver, ids.SURFACE, "surface", since, 120,
                                                               draws_before=draws))
    except Exception as exc:  # noqa: BLE001 - what was measured is still reported; the rest is NOT RUN
        notes.append(f"stopped: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}; "
                     f"app log: {last_lines(_app_log(app), 2)}")
    finally:
        driver.quit()
        _stop_app(app)
        shutil.rmtree(cache, ignore_errors=True)
    limits = {
        "page open → usable": 2.0,
        "page open → heatmap drawn": 2.0,
        "small file → first view": 1.0,
        f"{label} ZIP → heatmap (cold)": 5.0,
        f"{label} ZIP → heatmap (cached)": 1.0,
        f"{label} 3D surface drawn": 5.0,
        "band click on the heatmap": 0.3,
        "colour scale on the heatmap": 0.3,
        "colour range on the heatmap": 0.3,
        "Play frame": 0.3,
        "server requests for band clicks": 0,
        "server requests for colour changes": 0,
        "server requests while playing": 0,
        "hidden surface redraws": 0,
        "surface draws before the first heatmap": 0,
        f"surface highlight ({old_label})": 2.7 / 3,
        f"surface reset ({old_label})": 2.7 / 3,
    }
    rows = []
    for name in [*measured, *(n for n in limits if n not in measured)]:
        value = _median(measured.get(name, []))
        limit = limits.get(name)
        rows.append(BrowserRow(name, value, float("nan") if limit is None else float(limit),
                               "REPORT" if limit is None and value is not None else _verdict(value, limit or 0)))
    for note in notes:
        rows.append(BrowserRow(note, None, float("nan"), "NOT RUN"))
    return rows


def _browser_cpu_seconds() -> float | None:
    """User + system CPU seconds used so far by the running Chromium processes (None off Linux)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    ticks = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        if name in ("chromium", "chrome", "headless_shell"):
            fields = stat[stat.rindex(")") + 2:].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _print_timeline(driver, since: float, what: str) -> None:
    """The Dash requests made since ``since`` (page clock, ms), and the heatmap drawings, in seconds after it."""
    calls = driver.execute_script("return window.__stampBench.calls.filter(c => c.start >= arguments[0]);", since)
    draws = driver.execute_script("return (window.__stampBench.draws[arguments[0]] || []).filter(d => d.t >= arguments[1]);",
                                  _ids().HEATMAP, since)
    print(f"\n  timeline of {what} (s after the click; polls of a background job marked *):")
    polls = [c for c in calls if c.get("poll")]
    for call in calls:
        if call.get("poll") and call is not polls[0] and call is not polls[-1]:
            continue
        end = "…" if call.get("end") is None else f"{(call['end'] - since) / 1000:.3f}"
        mark = "*" if call.get("poll") else " "
        print(f"   {mark} {(call['start'] - since) / 1000:7.3f} → {end:>7}  {call.get('status')}  "
              f"{call.get('bytes', 0) / 1024:9.1f} KiB  {call.get('output', '')[:90]}")
    if len(polls) > 2:
        print(f"     ({len(polls)} polls in all)")
    for draw in draws:
        print(f"     {(draw['t'] - since) / 1000:7.3f}  heatmap drawn ({draw['n']} traces)")


def _wait_enabled(driver, element_id: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if driver.execute_script("const b = document.getElementById(arguments[0]); return !!b && !b.disabled;", element_id):
            return
        time.sleep(WAIT_POLL_S)
    raise TimeoutError(f"#{element_id} stayed disabled for {timeout:.0f} s")


def print_browser_targets(rows: list[BrowserRow]) -> None:
    print_table(["browser target", "measured (median)", "limit", "verdict"],
                [[r.target, r.measured, r.limit, r.verdict] for r in rows])


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="STAMP browser targets in headless Chromium (first view, interactions, 3D surface)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--first-view", action="store_true",
                        help="only page open, the small file and the big ZIP (cold, cached)")
    parser.add_argument("--timeline", action="store_true", help="print the Dash requests of each open")
    arguments = parser.parse_args()
    print_browser_targets(browser_targets(arguments.quick, arguments.first_view, arguments.timeline))
