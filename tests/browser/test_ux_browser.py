"""What a user meets first, in headless Chromium: the spectrum player, the page at 1280×720, job feedback.

    python -m pytest tests/browser/test_ux_browser.py --headless -q

Every test works on the heatmap or spectrum tab (the 3D surface is slow in software WebGL)
and on the bundled demo or small generated files.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.keys import Keys

import stamp_engine
from dashboard import ids
from dashboard.features import job
from dashboard.server.config import Config
from dashboard.features.views import DEFAULT_FPS
from stamp_engine import figures
from stamp_engine.recipe import ProcessOptions, process
from tests.helpers import pixels
from tests.browser.test_dashboard_browser import open_tab, record_progress, traces, two_visit_files, upload, wait_for_traces, wait_until

pytestmark = pytest.mark.browser

TITLE_JS = """
var gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
return gd && gd.layout && gd.layout.title ? (gd.layout.title.text || '') : '';
"""

BOX_JS = """
var el = document.querySelector(arguments[0]);
if (!el) { return null; }
var r = el.getBoundingClientRect();
return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height,
        viewport_height: window.innerHeight, viewport_width: window.innerWidth};
"""


def title(duo, graph: str = ids.SPECTRUM) -> str:
    return duo.driver.execute_script(TITLE_JS, graph) or ""


def box(duo, selector: str):
    return duo.driver.execute_script(BOX_JS, selector)


def set_number(duo, control: str, value) -> None:
    field = duo.find_element(f"#{control}")
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", field)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(str(value), Keys.ENTER)


def press_process(duo) -> None:
    button = duo.find_element(f"#{ids.PROCESS}")
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()


def test_player_animates_binned_frames_in_the_browser_with_no_server_request(dash_duo, make_app):
    app, log = make_app()
    dash_duo.start_server(app, navigate=False)
    dash_duo.server_url = dash_duo.server.url.rstrip("/") + "/?view=spectrum"
    wait_until(lambda: "frame 1 of 520: integration" in title(dash_duo), what="the demo's first frame")
    assert "Variability (%)" in dash_duo.driver.execute_script(
        "return document.querySelector('#' + arguments[0] + ' .js-plotly-plot').layout.yaxis.title.text;", ids.SPECTRUM)

    # bin 4 integrations: the title names the integrations and hours of each bin, from 1
    loaded = stamp_engine.load([Config().demo_path])
    expected = figures.frame_labels(figures.display_cube(process(loaded, ProcessOptions(bin_time=4))))
    set_number(dash_duo, ids.BIN_TIME, 4)
    press_process(dash_duo)
    wait_until(lambda: f"bin 1 of {len(expected)}:" in title(dash_duo), what="the binned frames")
    handle = dash_duo.find_element(f"#{ids.SPECTRUM_SLIDER} [role=slider]")
    handle.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    wait_until(lambda: title(dash_duo).endswith(expected[2]), timeout=10, what="frame 3")
    assert f"integrations {loaded.integration[8]}–{loaded.integration[11]}, " in expected[2]
    assert expected[2].startswith(f"bin 3 of {len(expected)}: ")
    assert handle.get_attribute("aria-valuenow") == "3"  # the slider counts from 1, as the title
    box_value = dash_duo.find_element(f"#{ids.SPECTRUM_SLIDER} input[type=number]").get_attribute("value")
    assert box_value == "3"  # and so does its number box

    graph = dash_duo.find_element(f"#{ids.SPECTRUM} .js-plotly-plot")
    before_pixels = pixels.screenshot(dash_duo.driver, graph)
    time.sleep(0.5)
    requests_before = log.count("_dash-update-component")
    # the titles drawn while playing, recorded in the page
    dash_duo.driver.execute_script("""
        var gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
        window.titlesSeen = {};
        window.titleTimer = setInterval(function () { window.titlesSeen[gd.layout.title.text] = 1; }, 20);
    """, ids.SPECTRUM)
    dash_duo.find_element(f"#{ids.PLAY}").click()
    time.sleep(3.0)
    seen = set(dash_duo.driver.execute_script("clearInterval(window.titleTimer); return Object.keys(window.titlesSeen);"))
    after_pixels = pixels.screenshot(dash_duo.driver, graph)
    dash_duo.find_element(f"#{ids.PLAY}").click()
    time.sleep(0.5)
    assert log.count("_dash-update-component") == requests_before  # no round trip per frame
    print(f"spectrum player: {len(seen)} frames drawn in 3 s at {DEFAULT_FPS} frames/s asked")
    assert len(seen) >= 10, sorted(seen)  # ≥ 3 frames/s drawn (was 1.7 with a server round trip each)
    assert all(t.split(" — ")[-1] in expected for t in seen)
    changed = np.mean(np.any(before_pixels != after_pixels, axis=-1))
    assert changed > 0.005, changed  # the drawn spectrum moved, not only the title


def test_page_at_1280x720_keeps_the_plot_in_view_and_opens_on_the_heatmap(dash_duo, make_app):
    app, _ = make_app()
    dash_duo.driver.set_window_size(1280, 720)
    dash_duo.start_server(app)
    wait_for_traces(dash_duo, ids.HEATMAP, "heatmap")
    assert not [t for t in (traces(dash_duo, ids.SURFACE) or []) if t["type"] == "surface"]  # surface not drawn
    set_number(dash_duo, ids.BIN_TIME, 2)
    press_process(dash_duo)
    dash_duo.wait_for_contains_text(f"#{ids.SUMMARY}", "260 integrations", timeout=60)
    process_box = box(dash_duo, f"#{ids.PROCESS}")
    graph = box(dash_duo, f"#{ids.HEATMAP}")
    assert 0 <= process_box["top"] and process_box["bottom"] <= process_box["viewport_height"]
    # the plot is in view beside the button just pressed
    assert graph["top"] >= 0 and graph["bottom"] <= graph["viewport_height"] + 1, graph
    assert graph["height"] >= 300 and graph["right"] <= graph["viewport_width"] + 1

    open_tab(dash_duo, "3D surface")
    surface = wait_until(lambda: (b := box(dash_duo, f"#{ids.SURFACE}")) and b["height"] > 0 and b, what="surface")
    assert surface["bottom"] <= surface["viewport_height"] + 1, surface  # its axes fit the window

    open_tab(dash_duo, "Spectrum player")
    wait_until(lambda: "frame 1 of" in title(dash_duo) or "bin 1 of" in title(dash_duo), what="the spectrum")
    spectrum = box(dash_duo, f"#{ids.SPECTRUM}")
    assert spectrum["bottom"] <= spectrum["viewport_height"] + 1, spectrum
    heading = box(dash_duo, f"#{ids.SPECTRUM} .gtitle")
    toolbar = box(dash_duo, f"#{ids.SPECTRUM} .modebar-container")
    assert heading["top"] >= spectrum["top"] and heading["right"] <= spectrum["right"]
    overlaps = (heading["left"] < toolbar["right"] and toolbar["left"] < heading["right"]
                and heading["top"] < toolbar["bottom"] and toolbar["top"] < heading["bottom"])
    assert not overlaps, (heading, toolbar)


def test_job_feedback_says_waiting_cancelled_and_what_is_loaded(dash_duo, make_app, tmp_path, monkeypatch):
    # the uploads here are small enough for a plain request (no progress to show): make them "large"
    monkeypatch.setattr(job, "PLAIN_REQUEST_MAX_BYTES", 0)
    demo = Config().demo_path

    def slow_for_uploads(paths, progress=None, workdir=None):
        if [str(p) for p in paths] != [str(demo)]:
            for i in range(100):  # a slow disk: ~20 s, long enough to cancel
                progress("Waiting for a slow disk", i, 100)
                time.sleep(0.2)
        return stamp_engine.load(paths, progress=progress, workdir=workdir)

    app, _ = make_app(loader=slow_for_uploads)
    dash_duo.start_server(app)
    dash_duo.wait_for_contains_text(f"#{ids.DATASET_LABEL}", "Demo", timeout=60)
    wait_until(lambda: dash_duo.find_element(f"#{ids.PROCESS}").is_enabled(), what="the first job to end")
    record_progress(dash_duo)

    files = two_visit_files(tmp_path / "mast", n_integrations=60, n_wave=40)
    upload(dash_duo, *files)
    dash_duo.wait_for_contains_text(f"#{ids.PROGRESS_TEXT}", "Waiting for a slow disk", timeout=60)
    seen = dash_duo.driver.execute_script("return window.progressSeen;")
    waiting = [w for w, t in seen if t == "Waiting for a worker…"]
    assert waiting and all(w in ("", "0%") for w in waiting), seen  # an empty bar, not a full one saying Ready
    # nothing on the page keeps repainting while the job runs: no moving stripes, and the bar jumps
    # to each value (a width transition restarted by every poll repaints for the whole job)
    moving = dash_duo.driver.execute_script(
        "return document.getAnimations().map(a => a.animationName || a.transitionProperty);")
    assert moving == [], moving
    dash_duo.find_element(f"#{ids.CANCEL}").click()
    dash_duo.wait_for_contains_text(f"#{ids.JOB_MESSAGE}", "Cancelled", timeout=20)
    label = dash_duo.find_element(f"#{ids.DATASET_LABEL}").text
    # the sidebar names what Process will load (the upload), not the demo still shown
    assert "Demo" not in label and files[0].name in label and "not processed yet" in label

    # a refused value is said, never silently replaced by the default
    set_number(dash_duo, ids.BIN_TIME, 2.5)
    dash_duo.wait_for_contains_text(f"#{ids.OPTIONS_MESSAGE}", "whole number", timeout=20)


def test_dataset_label_names_the_files_that_loaded_not_a_rejected_one(dash_duo, make_app, tmp_path):
    files = two_visit_files(tmp_path / "mast", n_integrations=60, n_wave=40)
    broken = tmp_path / "a_broken_x1dints.fits"  # sorts first
    broken.write_bytes(b"SIMPLE  =                    T" + os.urandom(3000))
    app, _ = make_app(demo_path=None)
    dash_duo.start_server(app)
    upload(dash_duo, broken, *files)
    dash_duo.wait_for_contains_text(f"#{ids.DATASET_LABEL}", "files used", timeout=90)
    label = dash_duo.find_element(f"#{ids.DATASET_LABEL} span").get_attribute("title")
    assert broken.name not in label and files[0].name in label
    assert f"{len(files)} of {len(files) + 1} files used" in label


def wait_until_or_none(condition, timeout: float):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if condition():
                return True
        except StaleElementReferenceException:
            pass
        time.sleep(0.05)
    return None


def test_miri_data_get_the_mid_ir_band_preset_and_a_band_between_samples_is_refused(dash_duo, make_app, tmp_path):
    from stamp_engine.synthetic import make_observation
    from stamp_engine.synthetic.eureka import write_eureka_s3

    obs = make_observation("variability", n_integrations=40, wavelength=np.linspace(5.0, 12.0, 71), seed=5,
                           meta={"target": "MIRI-UX"})
    path = write_eureka_s3(tmp_path / "S3_miri_SpecData.h5", obs)
    app, _ = make_app(demo_path=None)
    dash_duo.start_server(app)
    upload(dash_duo, path)
    dash_duo.wait_for_contains_text(f"#{ids.BAND_BUTTONS}", "Silicates 10", timeout=90)
    names = [b.text for b in dash_duo.find_elements(f"#{ids.BAND_BUTTONS} button")]
    assert "H2O 6.3" in names and "CH4 2.3" not in names
    assert dash_duo.find_elements(f"#{ids.BAND_MESSAGE} .alert") == []  # no band "outside the data"
    # samples are 0.1 µm apart: 6.02–6.07 µm holds none
    dash_duo.find_element(f"#{ids.BAND_ADD}").click()
    cells = lambda column: dash_duo.find_elements(f"#{ids.BAND_TABLE} td[data-dash-column={column}]")  # noqa: E731
    wait_until(lambda: len(cells("name")) == len(names) + 1, timeout=20, what="the new row")
    shown = "const i = arguments[0].querySelector('input'); return i ? i.value : arguments[0].innerText.trim();"

    def select(column: str) -> bool:
        # The table re-renders when the checks of the previous edit come back, and a click landing
        # in that re-render can leave the previous cell selected: click until this one is selected.
        try:
            cells(column)[-1].click()
            return bool(wait_until_or_none(lambda: "cell--selected" in cells(column)[-1].get_attribute("class"), 1.0))
        except StaleElementReferenceException:  # replaced by that re-render between finding and clicking
            return False

    def shows(column: str, text: str) -> bool:
        try:
            return dash_duo.driver.execute_script(shown, cells(column)[-1]) == text
        except StaleElementReferenceException:
            return False

    for column, text in (("name", "narrow"), ("start", "6.02"), ("end", "6.07")):
        wait_until(lambda: select(column), timeout=20, what=f"the new row's {column} cell to take the keys")
        dash_duo.driver.switch_to.active_element.send_keys(text, Keys.ENTER)
        wait_until(lambda: shows(column, text), timeout=20, what=f"{text} shown in the {column} cell")
    dash_duo.wait_for_contains_text(f"#{ids.BAND_MESSAGE}", "no wavelength sample", timeout=20)
    message = dash_duo.find_element(f"#{ids.BAND_MESSAGE}").text
    assert "narrow" in message and "6 µm" in message and "6.1 µm" in message
    assert "narrow" not in [b.text for b in dash_duo.find_elements(f"#{ids.BAND_BUTTONS} button")]
