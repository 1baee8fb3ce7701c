"""The spectrum's ±1σ band in pixels: it follows value ± error in every column with data and
leaves a gap over masked (NaN) columns, as the engine draws it (stamp_engine.figures.spectrum)
and as the browser rebuilds it (window.stampBandPolygons, assets/stamp_dashboard.js, used by
the spectrum player and the explore panel)."""

from __future__ import annotations

import json
from pathlib import Path

import astropy.units as u
import numpy as np
import plotly
import pytest
from astropy.time import Time

from stamp_engine import figures
from stamp_engine.cube import Cube
from tests.helpers import pixels
from tests.helpers.pages import open_plot_page
from tests.helpers.paths import REPO

pytestmark = pytest.mark.browser

PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
DASHBOARD_JS = REPO / "assets" / "stamp_dashboard.js"
WAVELENGTH = np.linspace(4.0, 14.0, 40)
NAN_COLUMNS = slice(5, 10)  # masked run: the band must have a gap from column 4 to column 10
ROW = 3
#: rgba(31,119,180,0.3) over white
BAND_RGB = np.array([188, 214, 232])


def _cube() -> Cube:
    """Flux that curves along wavelength (a sine: a chord across it leaves the band), error growing with λ."""
    hours = np.arange(8) * 0.1
    scale = 1.0 + 0.05 * np.arange(hours.size)[:, None]
    flux = scale * (10.0 + 3.0 * np.sin(WAVELENGTH))[None, :]
    error = np.broadcast_to(0.4 + 0.04 * WAVELENGTH, flux.shape).copy()
    flux[:, NAN_COLUMNS] = np.nan
    error[:, NAN_COLUMNS] = np.nan
    return Cube(WAVELENGTH, Time(60000.0 + hours / 24.0, format="mjd", scale="tdb"), flux, error, u.Jy)


@pytest.fixture(scope="module")
def band_page(driver, tmp_path_factory):
    cube = _cube()
    fig = figures.spectrum_figure(cube, ROW, mode="flux")
    value, error = cube.flux[ROW].tolist(), cube.error[ROW].tolist()
    html = f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<script>window.dash_clientside = {{no_update: {{}}}};</script>
<script src="{PLOTLY_JS.as_uri()}"></script>
<script src="{DASHBOARD_JS.as_uri()}"></script>
</head><body style="margin:0">
<div id="python" style="width:700px;height:420px"></div>
<div id="js" style="width:700px;height:420px"></div>
<script>
  var fig = {fig.to_json()};
  var x = {json.dumps(WAVELENGTH.tolist())}, value = {json.dumps(value)}, error = {json.dumps(error)};
  // without the function the "js" graph draws no band (and its test says so)
  var band = window.stampBandPolygons ? window.stampBandPolygons(x, value, error) : {{x: [], y: []}};
  var rebuilt = fig.data.map(function (t, i) {{ return i === 0 ? Object.assign({{}}, t, {{x: band.x, y: band.y}}) : t; }});
  Promise.all([Plotly.newPlot("python", fig.data, fig.layout), Plotly.newPlot("js", rebuilt, fig.layout)])
    .then(function () {{ window.READY = true; }}, function (e) {{ window.ERROR = String(e); }});
</script></body></html>"""
    path = tmp_path_factory.mktemp("spectrum-band") / "page.html"
    open_plot_page(driver, path, html)
    return driver, cube


def _plot_rows(driver, graph: str) -> slice:
    top, height = driver.execute_script("""
      var gd = document.getElementById(arguments[0]), ya = gd._fullLayout.yaxis;
      return [gd.getBoundingClientRect().top + ya._offset, ya._length];""", graph)
    return slice(int(np.ceil(top)) + 1, int(np.floor(top + height)) - 1)


def _to_pixels(driver, graph: str, xs, ys) -> tuple[np.ndarray, np.ndarray]:
    out = driver.execute_script("""
      var gd = document.getElementById(arguments[0]), r = gd.getBoundingClientRect();
      var xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
      return [arguments[1].map(function (v) { return r.left + xa._offset + xa.l2p(v); }),
              arguments[2].map(function (v) { return r.top + ya._offset + ya.l2p(v); })];
    """, graph, list(map(float, xs)), list(map(float, ys)))
    return np.asarray(out[0]), np.asarray(out[1])


@pytest.mark.parametrize("graph", ["python", "js"])
def test_band_follows_value_plus_minus_error_and_has_a_gap_over_masked_columns(band_page, graph):
    driver, cube = band_page
    value, error = cube.flux[ROW], cube.error[ROW]
    image = pixels.screenshot(driver).astype(int)
    is_band = np.abs(image - BAND_RGB).max(axis=-1) <= 16
    # band, spectrum line or the red reference line over it: anything coloured, not white or grid grey
    coloured = pixels.saturation(image.astype(np.uint8)) > 0.12
    px_w, _ = _to_pixels(driver, graph, WAVELENGTH, WAVELENGTH * 0)
    runs = [(0, NAN_COLUMNS.start - 1), (NAN_COLUMNS.stop, WAVELENGTH.size - 1)]
    plot = _plot_rows(driver, graph)
    checked = 0
    for first, last in runs:
        for px in range(int(np.ceil(px_w[first])) + 2, int(np.floor(px_w[last])) - 1):
            # the polygon's edges are straight between columns: value ± error interpolated in λ
            lam = np.interp(px, px_w, WAVELENGTH)
            v, e = np.interp(lam, WAVELENGTH[first:last + 1], value[first:last + 1]), \
                np.interp(lam, WAVELENGTH[first:last + 1], error[first:last + 1])
            _, (top, bottom) = _to_pixels(driver, graph, [lam, lam], [v + e, v - e])
            rows = plot.start + np.flatnonzero(is_band[plot, px])
            assert rows.size, f"{graph}: no band at λ = {lam:.3f} µm"
            assert rows.min() >= top - 2 and rows.max() <= bottom + 2, (
                f"{graph}: band pixels at λ = {lam:.3f} µm span rows {rows.min()}–{rows.max()}, "
                f"value ± error is {top:.1f}–{bottom:.1f}")
            inner = coloured[int(np.ceil(top)) + 2:int(np.floor(bottom)) - 1, px]
            assert inner.mean() > 0.8, f"{graph}: the band covers only {inner.mean():.0%} of ±1σ at λ = {lam:.3f} µm"
            checked += 1
    assert checked > 300
    gap = slice(int(np.ceil(px_w[NAN_COLUMNS.start - 1])) + 3, int(np.floor(px_w[NAN_COLUMNS.stop])) - 2)
    assert not is_band[plot, gap].any(), f"{graph}: band colour over the masked columns"


def test_a_one_channel_cube_draws_its_spectrum_point(driver, tmp_path):
    """A one-point line draws nothing: with few columns the spectrum has markers."""
    hours = np.arange(6) * 0.1
    cube = Cube(np.array([5.0]), Time(60000.0 + hours / 24.0, format="mjd", scale="tdb"),
                (1.0 + 0.01 * np.arange(6))[:, None], np.full((6, 1), 0.01), u.Jy)
    fig = figures.spectrum_figure(cube, 2, mode="flux")
    fig.data[2].visible = False  # the reference: the point alone must be visible
    open_plot_page(driver, tmp_path / "one.html", f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<script src="{PLOTLY_JS.as_uri()}"></script></head><body style="margin:0">
<div id="one" style="width:600px;height:400px"></div>
<script>var fig = {fig.to_json()};
Plotly.newPlot("one", fig.data, fig.layout).then(function () {{ window.READY = true; }},
                                                 function (e) {{ window.ERROR = String(e); }});</script>
</body></html>""")
    (x,), (y,) = _to_pixels(driver, "one", [5.0], [float(cube.flux[2, 0])])
    image = pixels.screenshot(driver).astype(int)
    around = image[int(y) - 6:int(y) + 7, int(x) - 6:int(x) + 7]
    line_rgb = np.array([31, 119, 180])
    assert (np.abs(around - line_rgb).max(axis=-1) <= 30).sum() >= 20, "no spectrum point drawn at its value"
