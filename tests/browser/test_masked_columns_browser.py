"""Masked columns stay dark on a heatmap with a band highlighted (stamp_engine/web/stamp_bands.js):
the grey that dims out-of-band columns must not hide missing data ("dark columns: masked")."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
import plotly
import pytest
from astropy.time import Time

from stamp_engine import figures
from stamp_engine.bands import Band
from stamp_engine.cube import Cube
from stamp_engine.figures.map_overlays import MASK_COLOUR
from tests.helpers import band_pixels, pixels
from tests.helpers.pages import open_plot_page
from tests.helpers.paths import REPO

pytestmark = pytest.mark.browser

PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
BANDS_JS = REPO / "stamp_engine" / "web" / "stamp_bands.js"
WAVELENGTH = np.linspace(4.0, 14.0, 60)
MASKED = slice(0, 12)  # like MIRI LRS below 4.3 µm, but wider, so the strip is many pixels
BAND = Band("Middle", 8.0, 11.0)
MASK_RGB = np.array([int(c) for c in MASK_COLOUR[4:-1].split(",")])


def _cube() -> Cube:
    hours = np.arange(40) * 0.05
    flux = 1.0 + 0.02 * np.sin(hours)[:, None] * np.cos(WAVELENGTH)[None, :]
    flux[:, MASKED] = np.nan
    error = np.full_like(flux, 0.01)
    return Cube(WAVELENGTH, Time(60000.0 + hours / 24.0, format="mjd", scale="tdb"), flux, error, u.Jy)


@pytest.fixture(scope="module")
def heatmap_page(driver, tmp_path_factory):
    fig = figures.heatmap_figure(_cube(), bands=[BAND])
    html = f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<script>window.dash_clientside = {{no_update: {{}}}};</script>
<script src="{PLOTLY_JS.as_uri()}"></script>
<script src="{BANDS_JS.as_uri()}"></script>
</head><body style="margin:0"><div id="map" style="width:800px;height:420px"></div>
<script>
  window.FIG = {fig.to_json()};
  Plotly.newPlot("map", FIG.data, FIG.layout).then(function () {{ window.READY = true; }},
                                                    function (e) {{ window.ERROR = String(e); }});
</script></body></html>"""
    path = tmp_path_factory.mktemp("masked-columns") / "page.html"
    open_plot_page(driver, path, html)
    return driver


def _regions(driver):
    graph = driver.find_element("id", "map")
    edges = [WAVELENGTH[MASKED.stop - 1] + 0.5 * (WAVELENGTH[1] - WAVELENGTH[0]), BAND.start, BAND.end]
    (left, top, _, bottom), (mask_end, b0, _) = band_pixels.heatmap_area(driver, graph, edges)
    rows = pixels.screenshot(driver)[int(top) + 4:int(bottom) - 4]
    masked = rows[:, int(left) + 4:int(mask_end) - 4]
    other = rows[:, int(mask_end) + 4:int(b0) - 4]
    return masked.astype(int), other


def _mask_fraction(image: np.ndarray) -> float:
    return float(np.mean(np.abs(image - MASK_RGB).max(axis=-1) <= 10))


def test_masked_columns_stay_dark_when_a_band_greys_the_rest(heatmap_page):
    driver = heatmap_page
    masked, _ = _regions(driver)
    assert _mask_fraction(masked) > 0.9, "masked columns are not dark before any band is highlighted"
    driver.execute_async_script("""
      var done = arguments[arguments.length - 1];
      var fig = stampHighlight(FIG, arguments[0], [arguments[1]]);
      Plotly.react("map", fig.data, fig.layout).then(function () { setTimeout(done, 100); });
    """, BAND.name, {"name": BAND.name, "start": BAND.start, "end": BAND.end})
    masked, other = _regions(driver)
    assert _mask_fraction(masked) > 0.9, f"only {_mask_fraction(masked):.0%} of the masked columns are dark under the band grey"
    assert band_pixels.is_overlay_grey(other).mean() > 0.98, "out-of-band columns with data are not the band grey"
    driver.execute_async_script("""
      var done = arguments[arguments.length - 1];
      var fig = stampHighlight(stampHighlight(FIG, arguments[0], [arguments[1]]), "All");
      Plotly.react("map", fig.data, fig.layout).then(function () { setTimeout(done, 100); });
    """, BAND.name, {"name": BAND.name, "start": BAND.start, "end": BAND.end})
    masked, other = _regions(driver)
    assert _mask_fraction(masked) > 0.9 and pixels.coloured_fraction(other) > 0.9, "All did not bring the map back"
