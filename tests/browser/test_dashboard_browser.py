"""The dashboard in a real headless Chromium.

    python -m pytest tests/browser --headless -q

3D surfaces are expensive in a GPU-less browser (software WebGL), so each test draws
the surface only when that is what it checks; the others work on the heatmap tab.
"""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path

import numpy as np
import psutil
import pytest
import requests
from selenium.common.exceptions import TimeoutException

import stamp_engine
from dashboard import ids
from dashboard.features import job
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.x1dints import write_segments

pytestmark = pytest.mark.browser

WAIT = 90  # seconds; software WebGL on a loaded 2-core machine is slow

TRACES_JS = """
var gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!gd || !gd.data) { return null; }
return gd.data.map(function (t) {
  return {type: t.type, opacity: (t.opacity === undefined ? 1 : t.opacity), meta: t.meta || null};
});
"""


def traces(duo, graph: str):
    """Type, opacity and meta of each trace drawn in ``graph`` (None before it is drawn).

    While the browser builds a 3D surface its main thread is busy and a script can
    time out: that counts as "not drawn yet".
    """
    try:
        return duo.driver.execute_script(TRACES_JS, graph)
    except TimeoutException:
        return None


def wait_until(condition, timeout: float = WAIT, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for_traces(duo, graph: str, kind: str):
    return wait_until(lambda: [t for t in (traces(duo, graph) or []) if t["type"] == kind] or None,
                      what=f"{kind} traces in #{graph}")


def wait_for_explore_payload(duo, timeout: float = WAIT):
    """Wait until the page holds the exploration payload of the heatmap's result: the page at rest.

    The payload is asked for once the first view is drawn (and the page idle), by a request
    that also brings the exploration panels' figures; a test counting requests starts after it.
    """
    from dashboard.features.explore import PAYLOAD_HELD_JS

    wait_until(lambda: duo.driver.execute_script(PAYLOAD_HELD_JS, ids.EXPLORE_SENT, ids.HEATMAP),
               timeout=timeout, what="the exploration payload of the shown result")


def open_tab(duo, label: str):
    duo.find_element(f"#{ids.TABS}").find_element("link text", label).click()


def upload(duo, *paths: Path):
    # the page may still be rendering its layout right after start_server
    duo.wait_for_element(f"#{ids.UPLOAD} input[type=file]", timeout=30).send_keys("\n".join(str(p) for p in paths))


def record_progress(duo) -> None:
    """From now on, note every (bar width, text) the progress bar shows in ``window.progressSeen``."""
    duo.driver.execute_script("""
        window.progressSeen = [];
        var bar = document.getElementById(arguments[0]);
        var text = document.getElementById(arguments[1]);
        var note = function () {
          var inner = bar.querySelector('.progress-bar');
          window.progressSeen.push([inner ? inner.style.width : '', text.innerText]);
        };
        new MutationObserver(note).observe(bar, {attributes: true, subtree: true, childList: true});
        new MutationObserver(note).observe(text, {characterData: true, subtree: true, childList: true});
    """, ids.PROGRESS, ids.PROGRESS_TEXT)


def visits_of(surface_traces) -> set[int]:
    return {t["meta"]["visit"] for t in surface_traces}


def two_visit_files(directory: Path, n_integrations: int = 240, n_wave: int = 120) -> list[Path]:
    """x1dints segments of a two-visit synthetic observation (each visit its own exposure)."""
    obs = make_observation(kind="variability", n_integrations=n_integrations, n_visits=2, visit_gap_hours=2.0,
                           wavelength=np.linspace(0.8, 5.0, n_wave), seed=11)
    return write_segments(directory, obs, n_segments=2)


def test_opens_on_the_demo_with_heatmap_then_surface(dash_duo, make_app):
    app, _ = make_app()
    dash_duo.start_server(app)
    heatmaps = wait_for_traces(dash_duo, ids.HEATMAP, "heatmap")  # opens on the heatmap (fast everywhere)
    assert visits_of(heatmaps) == {0, 1}
    dash_duo.wait_for_contains_text(f"#{ids.SUMMARY}", "STAMP-BD-1", timeout=10)
    wait_until(lambda: "Ready" in dash_duo.find_element(f"#{ids.PROGRESS_TEXT}").text, timeout=20, what="Ready")
    open_tab(dash_duo, "3D surface")  # one click away
    surfaces = wait_for_traces(dash_duo, ids.SURFACE, "surface")
    assert visits_of(surfaces) == {0, 1}  # the demo has two visits: one surface each
    assert dash_duo.find_elements(".stamp-problems") == []
    assert dash_duo.get_logs() == []


def test_zip_upload_shows_progress_then_one_map_per_visit(dash_duo, make_app, tmp_path):
    files = two_visit_files(tmp_path / "mast", n_integrations=1600, n_wave=200)
    archive = tmp_path / "MAST_download.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in files:
            z.write(f, f"MAST/{f.name}")

    def slow_disk_loader(paths, progress=None, workdir=None):
        # The real loader, on a disk slow enough that the job outlasts a few progress
        # polls (a small upload on a fast machine finishes before the first one).
        def report(stage, done, total):
            progress(stage, done, total)
            time.sleep(0.4)

        return stamp_engine.load(paths, progress=report, workdir=workdir)

    app, _ = make_app(demo_path=None, loader=slow_disk_loader)
    dash_duo.start_server(app)
    dash_duo.wait_for_contains_text(f"#{ids.JOB_MESSAGE}", "Upload files", timeout=20)
    record_progress(dash_duo)
    upload(dash_duo, archive)
    heatmaps = wait_for_traces(dash_duo, ids.HEATMAP, "heatmap")
    assert visits_of(heatmaps) == {0, 1}
    seen = dash_duo.driver.execute_script("return window.progressSeen;")
    widths = {float(w.rstrip("%")) for w, _ in seen if w}
    texts = [t for _, t in seen]
    assert any(0 < w < 100 for w in widths), seen
    assert any(" / " in t and ("Reading" in t or "Assembling" in t) for t in texts), texts
    dash_duo.wait_for_contains_text(f"#{ids.SUMMARY}", "1600", timeout=10)
    assert dash_duo.find_element(f"#{ids.PROGRESS_TEXT}").text == "Ready"


def test_bad_file_is_named_while_the_rest_loads(dash_duo, make_app, tmp_path):
    files = two_visit_files(tmp_path / "mast")
    broken = tmp_path / "broken_nis_x1dints.fits"
    broken.write_bytes(b"SIMPLE  =                    T" + os.urandom(3000))
    app, _ = make_app(demo_path=None)
    dash_duo.start_server(app)
    open_tab(dash_duo, "Heatmap")
    upload(dash_duo, *files, broken)
    dash_duo.wait_for_contains_text(".stamp-problems", "broken_nis_x1dints.fits", timeout=WAIT)
    heatmaps = wait_for_traces(dash_duo, ids.HEATMAP, "heatmap")
    assert visits_of(heatmaps) == {0, 1}
    assert "could not be used" in dash_duo.find_element(".stamp-problems").text
    dash_duo.wait_for_contains_text(f"#{ids.SUMMARY}", f"{len(files)} used of {len(files) + 1}", timeout=10)


def test_works_under_a_url_prefix(dash_duo, make_app):
    prefix = "/portal/tools/stamp/"
    app, log = make_app(url_prefix=prefix)
    dash_duo.start_server(app, navigate=False)
    base = dash_duo.server.url.rstrip("/")
    dash_duo.server_url = base + prefix + "?view=heatmap"
    wait_for_traces(dash_duo, ids.HEATMAP, "heatmap")
    dash_duo.wait_for_contains_text(f"#{ids.SUMMARY}", "STAMP-BD-1", timeout=10)
    assert requests.get(base + prefix + "healthz", timeout=10).json() == {"status": "ok"}
    assert log.count(prefix + "_dash-update-component") > 0
    # the page asked for nothing outside the prefix ("/" is the test runner's start-up probe)
    outside = [p for p in log.paths if p != "/" and not p.startswith(prefix)]
    assert outside == []


def test_cancel_stops_the_job(dash_duo, make_app, tmp_path, monkeypatch):
    # the demo is small enough to open in a plain request (no job to cancel): make it "large"
    monkeypatch.setattr(job, "PLAIN_REQUEST_MAX_BYTES", 0)
    pid_file, done_file = tmp_path / "job.pid", tmp_path / "job.done"

    def slow_loader(paths, progress=None, workdir=None):
        # runs in the job's process: record it, then take ~20 s
        pid_file.write_text(str(os.getpid()))
        for i in range(100):
            progress("Waiting for a slow disk", i, 100)
            time.sleep(0.2)
        cube = stamp_engine.load(paths, progress=progress, workdir=workdir)
        done_file.write_text("finished")
        return cube

    app, _ = make_app(loader=slow_loader)
    dash_duo.start_server(app)
    dash_duo.wait_for_contains_text(f"#{ids.PROGRESS_TEXT}", "Waiting for a slow disk", timeout=30)
    pid = int(pid_file.read_text())
    assert psutil.pid_exists(pid)
    cancel = dash_duo.find_element(f"#{ids.CANCEL}")
    assert cancel.is_enabled() and not dash_duo.find_element(f"#{ids.PROCESS}").is_enabled()
    cancel.click()

    def job_gone():
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_until(job_gone, timeout=20, what="the job process to end")
    wait_until(lambda: dash_duo.find_element(f"#{ids.PROCESS}").is_enabled(), timeout=20, what="Process re-enabled")
    assert not done_file.exists()
    assert not [t for t in (traces(dash_duo, ids.SURFACE) or []) if t["type"] == "surface"]


def test_light_curves_and_spectrum_player(dash_duo, make_app):
    app, _ = make_app()
    dash_duo.start_server(app, navigate=False)
    dash_duo.server_url = dash_duo.server.url.rstrip("/") + "/?view=lightcurves"
    curves = wait_for_traces(dash_duo, ids.LIGHTCURVES, "scatter")
    names = dash_duo.driver.execute_script(
        "return document.querySelector('#' + arguments[0] + ' .js-plotly-plot').data.map(t => t.name);", ids.LIGHTCURVES)
    assert any("White light" in (n or "") for n in names) and any("H2O 1.4" in (n or "") for n in names)
    open_tab(dash_duo, "Spectrum player")
    wait_for_traces(dash_duo, ids.SPECTRUM, "scatter")
    title = lambda: dash_duo.driver.execute_script(  # noqa: E731
        "var gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');"
        "return gd && gd.layout && gd.layout.title ? JSON.stringify(gd.layout.title) : '';", ids.SPECTRUM)
    first = title()
    dash_duo.find_element(f"#{ids.PLAY}").click()
    wait_until(lambda: title() != first, timeout=20, what="the player to move on")
    assert "Pause" in dash_duo.find_element(f"#{ids.PLAY}").text
    dash_duo.find_element(f"#{ids.PLAY}").click()
    # the button's label is set by a clientside callback, after the click returns
    wait_until(lambda: "Play" in dash_duo.find_element(f"#{ids.PLAY}").text, timeout=10, what="the player to pause")
