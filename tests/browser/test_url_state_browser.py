"""The view's link, the spectral element picker and the masked columns, in headless Chromium.

    python -m pytest tests/browser/test_url_state_browser.py --headless -q

Small generated files in a server data folder (no demo): a two-order NIRISS SOSS
exposure written by ``stamp_engine.synthetic``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qsl

import numpy as np
import pytest
from selenium.webdriver.support.ui import Select

import stamp_engine
from dashboard import ids
from stamp_engine import figures
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.x1dints import make_mode_observation, write_segments
from tests.helpers.band_pixels import heatmap_area
from tests.helpers import pixels
from tests.browser.test_dashboard_browser import open_tab, wait_for_traces, wait_until

pytestmark = pytest.mark.browser

#: What a heatmap shows, in numbers: every trace's x, y, z and the colour axis.
FIGURE_JS = """
var gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!gd || !gd.data || !gd.data.length || gd.data[0].type !== arguments[1]) { return null; }
var plain = function (a) {
  return a && typeof a === 'object' && a.length !== undefined ? Array.prototype.map.call(a, plain) : a;
};
return JSON.stringify({
  traces: gd._fullData.map(function (t) { return {x: plain(t.x), y: plain(t.y), z: plain(t.z)}; }),
  coloraxis: gd.layout.coloraxis ? {cmin: gd.layout.coloraxis.cmin, cmax: gd.layout.coloraxis.cmax,
                                    colorscale: gd.layout.coloraxis.colorscale} : null,
  shapes: (gd.layout.shapes || []).length, title: gd.layout.title.text});
"""


def figure(duo, graph=ids.HEATMAP, kind="heatmap"):
    text = duo.driver.execute_script(FIGURE_JS, graph, kind)
    return json.loads(text) if text else None


def x_extent(shown) -> tuple[float, float]:
    xs = [x for t in shown["traces"] for x in t["x"]]
    return min(xs), max(xs)


def search(duo) -> dict:
    return dict(parse_qsl(duo.driver.execute_script("return window.location.search;").lstrip("?")))


def button_class(duo, band: str) -> str:
    element_id = json.dumps(ids.band_button(band), sort_keys=True, separators=(",", ":"))  # Dash's spelling of a dict id
    return duo.driver.execute_script("var b = document.getElementById(arguments[0]); return b ? b.className : '';",
                                     element_id)


def settled(duo, quiet_s: float = 1.0) -> None:
    """Wait until the page has had no callback pending for ``quiet_s`` seconds."""
    since = [None]

    def quiet():
        if duo.redux_state_rqs:
            since[0] = None
            return False
        since[0] = since[0] or time.monotonic()
        return time.monotonic() - since[0] >= quiet_s

    wait_until(quiet, timeout=30, what="the page's callbacks to settle")


def ready(duo):
    wait_until(lambda: "Ready" in duo.find_element(f"#{ids.PROGRESS_TEXT}").text, timeout=60, what="the job's end")


def soss_folder(root: Path) -> list[str]:
    order1, extra = make_mode_observation("niriss_soss", 30, n_wavelengths=40, snr=300, kind="variability")
    paths = write_segments(root, order1, 2, layout="old", extra_spectra=extra)
    return [p.relative_to(root).as_posix() for p in paths]


def open_soss(duo, make_app, soss) -> None:
    """The dashboard on the SOSS files of the server folder, opened by a link, its heatmap drawn."""
    root, files = soss
    app, _ = make_app(data_dir=root, demo_path=None)
    duo.start_server(app, navigate=False)
    duo.driver.get(duo.server.url.rstrip("/") + "/?data=server&" + "&".join(f"file={f}" for f in files))
    wait_for_traces(duo, ids.HEATMAP, "heatmap")
    ready(duo)


@pytest.fixture
def soss(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    return root, soss_folder(root)


def test_a_link_restores_the_same_view(dash_duo, make_app, soss):
    root, files = soss
    app, log = make_app(data_dir=root, demo_path=None)
    dash_duo.start_server(app, navigate=False)
    query = ("&".join(f"file={f}" for f in files) + "&data=SERVER&element=Order+2&bin_wavelength=2&clip_sigma=4"
             "&colorscale=viridis&zrange=-0.5,0.5&band=Blue:0.7:0.9&band=Red:1.0:1.3&highlight=red")
    dash_duo.driver.get(dash_duo.server.url.rstrip("/") + "/?" + query)
    wait_for_traces(dash_duo, ids.HEATMAP, "heatmap")
    ready(dash_duo)
    first = wait_until(lambda: figure(dash_duo), what="the heatmap")

    # the view is the link's: order 2 (0.6–1.4 µm), binned by 2, Viridis on -0.5…0.5 %
    lo, hi = x_extent(first)
    assert 0.55 < lo and hi < 1.45
    assert (first["coloraxis"]["cmin"], first["coloraxis"]["cmax"]) == (-0.5, 0.5)
    assert first["coloraxis"]["colorscale"][0][1].lower() == dict(figures.COLORSCALES["Viridis"])[0.0].lower()
    loaded = stamp_engine.load([root / f for f in files], element="order 2")
    assert len(first["traces"][0]["z"][0]) == -(-loaded.n_wavelengths // 2)  # bins of 2, the last one partial
    assert dash_duo.find_element(f"#{ids.BIN_WAVE}").get_attribute("value") == "2"
    assert dash_duo.find_element(f"#{ids.CLIP_SIGMA}").get_attribute("value") == "4"
    assert Select(dash_duo.find_element(f"#{ids.ELEMENT}")).first_selected_option.text == "Order 2"
    dash_duo.wait_for_contains_text(f"#{ids.SUMMARY}", "order 2 shown (of order 1, order 2)", timeout=10)
    wait_until(lambda: "active" in button_class(dash_duo, "Red"), timeout=10, what="Red highlighted")
    assert "active" not in button_class(dash_duo, "Blue")

    # the page rewrote the link in its own spelling: everything is in it, nothing of the session
    written = search(dash_duo)
    assert written["data"] == "server" and written["element"] == "order 2" and written["colorscale"] == "Viridis"
    assert written["bin_wavelength"] == "2" and written["clip_sigma"] == "4" and written["highlight"] == "Red"
    assert "session" not in json.dumps(written) and not dash_duo.find_elements(f"#{ids.URL_MESSAGE} .alert")

    # a tab change goes into the link
    open_tab(dash_duo, "Light curves")
    wait_until(lambda: search(dash_duo).get("view") == "lightcurves", timeout=15, what="view=lightcurves in the URL")
    curves = wait_until(lambda: figure(dash_duo, ids.LIGHTCURVES, "scatter"), what="the light curves")
    # a band click goes into the link without a server request
    requests = log.count("_dash-update-component")
    dash_duo.driver.execute_script("document.getElementById(arguments[0]).click();",
                                   json.dumps(ids.band_button("Blue"), sort_keys=True, separators=(",", ":")))
    wait_until(lambda: search(dash_duo).get("highlight") == "Blue", timeout=10, what="highlight=Blue in the URL")
    assert log.count("_dash-update-component") == requests
    link = dash_duo.driver.current_url
    jobs = log.count("_dash-update-component")

    # opening the link again (a new page: new session, new job) shows the same figure
    dash_duo.driver.get(link)
    wait_for_traces(dash_duo, ids.LIGHTCURVES, "scatter")  # on the link's tab
    ready(dash_duo)
    assert dash_duo.find_element(f"#{ids.TABS} .nav-link.active").text == "Light curves"
    assert wait_until(lambda: figure(dash_duo, ids.LIGHTCURVES, "scatter"), what="the light curves again") == curves
    wait_until(lambda: "active" in button_class(dash_duo, "Blue"), timeout=10, what="Blue highlighted again")
    open_tab(dash_duo, "Heatmap")
    wait_for_traces(dash_duo, ids.HEATMAP, "heatmap")
    assert wait_until(lambda: figure(dash_duo), what="the heatmap again") == first
    assert log.count("_dash-update-component") > jobs
    assert dash_duo.get_logs() == []


def test_a_bad_link_says_what_it_could_not_use(dash_duo, make_app, soss):
    root, files = soss
    app, _ = make_app(data_dir=root, demo_path=None)
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.get(dash_duo.server.url.rstrip("/") + f"/?data=server&file={files[0]}&file={files[1]}"
                        "&zaxis=sideways&bin_time=2.5&view=SPECTRUM&band=x:2:1")
    dash_duo.wait_for_contains_text(f"#{ids.URL_MESSAGE}", "zaxis='sideways' is not one of variability, flux",
                                    timeout=30)
    message = dash_duo.find_element(f"#{ids.URL_MESSAGE}").text
    assert "Time binning must be a whole number" in message and "Start (2 µm) must be below end (1 µm)" in message
    # the rest of the link is used: the files open, on the spectrum tab
    wait_until(lambda: figure(dash_duo, ids.SPECTRUM, "scatter"), what="the spectrum player")
    assert dash_duo.find_element(f"#{ids.TABS} .nav-link.active").text == "Spectrum player"
    assert dash_duo.get_logs() == []


def test_the_element_picker_switches_the_data_shown(dash_duo, make_app, soss):
    open_soss(dash_duo, make_app, soss)
    order1 = figure(dash_duo)
    assert x_extent(order1)[1] > 2.5  # order 1: 0.85–2.8 µm
    dash_duo.wait_for_contains_text(f"#{ids.SUMMARY}", "order 1 shown", timeout=10)
    graph = dash_duo.find_element(f"#{ids.HEATMAP}")
    before = pixels.screenshot(dash_duo.driver, graph)

    picker = dash_duo.find_element(f"#{ids.ELEMENT}")
    assert picker.is_displayed()
    Select(picker).select_by_visible_text("Order 2")
    order2 = wait_until(lambda: (f := figure(dash_duo)) and x_extent(f)[1] < 1.5 and f, what="order 2 drawn")
    dash_duo.wait_for_contains_text(f"#{ids.SUMMARY}", "order 2 shown", timeout=20)
    assert order2["traces"] != order1["traces"]
    assert search(dash_duo).get("element") == "order 2"
    after = pixels.screenshot(dash_duo.driver, dash_duo.find_element(f"#{ids.HEATMAP}"))
    assert before.shape == after.shape
    changed = np.abs(before.astype(int) - after.astype(int)).max(axis=-1) > 30
    assert changed.mean() > 0.2  # another spectrum, not a retitled copy
    assert dash_duo.get_logs() == []


def test_masked_columns_are_drawn_dark(dash_duo, make_app, tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    obs = make_observation(kind="variability", n_integrations=40, wavelength=np.linspace(1.0, 3.0, 60), seed=5)
    name = write_segments(root, obs, 1)[0].relative_to(root).as_posix()
    dead = slice(20, 26)  # six dead columns, 1.68–1.85 µm

    def loader(paths, progress=None, **options):
        cube = stamp_engine.load(paths, progress=progress, **options)
        flux, error = cube.flux.copy(), cube.error.copy()
        flux[:, dead] = np.nan
        error[:, dead] = np.nan
        flux[:25, 40] = np.nan  # 62 % flagged: masked too
        flux[:5, 50] = np.nan   # 12 %: its cells are simply empty
        return cube.replace(flux=flux, error=error)

    app, _ = make_app(loader=loader, data_dir=root, demo_path=None)
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.get(dash_duo.server.url.rstrip("/") + f"/?data=server&file={name}")
    wait_for_traces(dash_duo, ids.HEATMAP, "heatmap")
    ready(dash_duo)
    wait_until(lambda: (figure(dash_duo) or {}).get("shapes"), what="the mask")
    graph = dash_duo.find_element(f"#{ids.HEATMAP} .js-plotly-plot")
    wave = obs.wavelength
    centres = [float(wave[dead].mean()), float(wave[40]), float(wave[50]), float(wave[10])]
    (left, top, right, bottom), xs = heatmap_area(dash_duo.driver, graph, centres)
    image = pixels.screenshot(dash_duo.driver)
    ratio = image.shape[1] / dash_duo.driver.execute_script("return window.innerWidth;")

    def column(x: float) -> np.ndarray:
        c = int(round(x * ratio))
        return image[int((top + 4) * ratio):int((bottom - 4) * ratio), c - 1:c + 2].reshape(-1, 3)

    mask = np.array([int(v) for v in figures.MASK_COLOUR[4:-1].split(",")])

    def dark_fraction(x: float) -> float:
        return float(np.mean(np.abs(column(x).astype(int) - mask).max(axis=-1) <= 6))

    assert dark_fraction(xs[0]) > 0.95      # dead columns: the mask all the way up
    assert 0.5 < dark_fraction(xs[1]) < 0.75  # 62 % flagged: the mask where it is NaN, data elsewhere
    assert dark_fraction(xs[2]) < 0.02      # 12 %: not masked (its empty cells are the light gap grey)
    assert dark_fraction(xs[3]) == 0.0      # good data
    assert pixels.saturation(column(xs[3])[None]).mean() > 0.1  # and it is coloured
    assert "dark columns: masked" in dash_duo.find_element(f"#{ids.HEATMAP}").text


def test_back_and_forward_walk_through_the_views(dash_duo, make_app, soss):
    open_soss(dash_duo, make_app, soss)

    def active() -> str:
        return dash_duo.find_element(f"#{ids.TABS} .nav-link.active").text

    open_tab(dash_duo, "Light curves")
    wait_until(lambda: search(dash_duo).get("view") == "lightcurves", timeout=15, what="view=lightcurves")
    dash_duo.driver.back()
    wait_until(lambda: active() == "Heatmap", timeout=15, what="back on the heatmap")
    # restoring the view must not write the URL again (a rewrite would cut the forward history);
    # the restore's chained callbacks (bands, highlight) settle first, as they do before a person clicks
    settled(dash_duo)
    dash_duo.driver.forward()
    wait_until(lambda: active() == "Light curves", timeout=15, what="forward on the light curves")
    assert dash_duo.get_logs() == []
