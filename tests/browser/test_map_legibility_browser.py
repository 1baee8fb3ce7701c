"""Read from the drawn map: a time gap is a different grey from the band highlight's out-of-band grey
(inside and outside the band), and the colour bar's saturation note follows a colour range typed in
the page (assets/stamp_dashboard.js applyColour recounts the drawn cells, as the engine does)."""

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
from stamp_engine.figures.colour_axis import saturation_note
from stamp_engine.figures.common import _ValueScale
from tests.helpers import band_pixels, pixels
from tests.helpers.pages import open_plot_page
from tests.helpers.paths import REPO

pytestmark = pytest.mark.browser

PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
BANDS_JS = REPO / "stamp_engine" / "web" / "stamp_bands.js"
DASHBOARD_JS = REPO / "assets" / "stamp_dashboard.js"
BAND = Band("Middle", 2.5, 3.5)
RNG = np.random.default_rng(3)


def _cube(flux: np.ndarray, hours: np.ndarray, unit=u.percent) -> Cube:
    cube = Cube(np.linspace(1.0, 5.0, flux.shape[1]), Time(60000.0 + hours / 24.0, format="mjd", scale="tdb"),
                flux, np.full_like(flux, 0.1), unit)
    if unit == u.percent:
        cube = cube.replace(reference=np.ones((1, flux.shape[1])), reference_unit=u.Jy)
    return cube.split_visits(gap_hours=1.5)


def _page(driver, tmp_path, fig) -> None:
    html = f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<script>window.dash_clientside = {{no_update: {{}}}};</script>
<script src="{PLOTLY_JS.as_uri()}"></script><script src="{BANDS_JS.as_uri()}"></script>
<script src="{DASHBOARD_JS.as_uri()}"></script>
</head><body style="margin:0;background:white"><div id="heatmap-graph"><div id="map" style="width:800px;height:440px"></div></div>
<script>
  window.FIG = {fig.to_json()};
  Plotly.newPlot("map", FIG.data, FIG.layout, {{displayModeBar: false}}).then(function () {{ window.READY = true; }},
                                                    function (e) {{ window.ERROR = String(e); }});
</script></body></html>"""
    open_plot_page(driver, tmp_path / "page.html", html)


def _rows(area: np.ndarray, minutes_low: float, minutes_high: float, y_range=(-0.5, 139.5)) -> np.ndarray:
    minutes = np.linspace(y_range[1], y_range[0], area.shape[0])
    return area[(minutes > minutes_low) & (minutes < minutes_high)]


def test_a_gap_is_a_different_grey_from_the_out_of_band_grey(driver, tmp_path):
    # 40 one-minute rows, a 1 h gap inside the visit, 40 rows
    hours = np.concatenate([np.arange(40), 100 + np.arange(40)]) / 60.0
    fig = figures.heatmap_figure(_cube(RNG.normal(0, 1, (80, 60)), hours), bands=[BAND])
    _page(driver, tmp_path, fig)
    assert "outside the highlighted band" not in _map_text(driver)  # nothing is highlighted yet
    driver.execute_async_script("""
      var done = arguments[arguments.length - 1];
      stampHighlightDiv("map", arguments[0], [arguments[1]]).then(function () { setTimeout(done, 100); });
    """, BAND.name, {"name": BAND.name, "start": BAND.start, "end": BAND.end})
    graph = driver.find_element("id", "map")
    (left, top, right, bottom), (b0, b1) = band_pixels.heatmap_area(driver, graph, [BAND.start, BAND.end])
    image = pixels.screenshot(driver)
    area = image[int(top) + 2:int(bottom) - 2]
    inside = area[:, int(b0) + 4:int(b1) - 4]
    outside = area[:, int(left) + 4:int(b0) - 4]
    gap_in_band = _rows(inside, 45, 95).reshape(-1, 3).astype(float)
    gap_out_of_band = _rows(outside, 45, 95).reshape(-1, 3).astype(float)
    dimmed = np.concatenate([_rows(outside, 5, 35), _rows(outside, 105, 135)]).reshape(-1, 3).astype(float)
    assert band_pixels.is_overlay_grey(dimmed).mean() > 0.98, "data rows outside the band are not the band grey"
    gap_colour, dim_colour = np.median(gap_in_band, axis=0), np.median(dimmed, axis=0)
    assert np.abs(gap_colour - dim_colour).max() >= 40, (gap_colour, dim_colour)
    # outside the band the gap keeps its grey: the highlight does not paint over "no data"
    assert np.abs(gap_out_of_band - gap_colour).max(axis=1).mean() <= 4, np.median(gap_out_of_band, axis=0)
    assert np.abs(gap_in_band - gap_colour).max(axis=1).mean() <= 4
    # and the key under the map names both greys while the band is highlighted, and only then
    text = _map_text(driver)
    assert "no data" in text and "outside the highlighted band" in text
    driver.execute_async_script("""
      var done = arguments[arguments.length - 1];
      stampHighlightDiv("map", "All", [arguments[0]]).then(function () { setTimeout(done, 100); });
    """, {"name": BAND.name, "start": BAND.start, "end": BAND.end})
    text = _map_text(driver)
    assert "no data" in text and "outside the highlighted band" not in text


def test_a_band_over_the_whole_map_greys_nothing_and_the_key_does_not_name_a_grey(driver, tmp_path):
    everything = Band("Everything", 0.5, 6.0)
    hours = np.arange(40) / 60.0
    fig = figures.heatmap_figure(_cube(RNG.normal(0, 1, (40, 60)), hours), bands=[everything, BAND])
    _page(driver, tmp_path, fig)
    highlight = """
      var done = arguments[arguments.length - 1];
      stampHighlightDiv("map", arguments[0], arguments[1]).then(function () { setTimeout(done, 100); });"""
    bands = [{"name": b.name, "start": b.start, "end": b.end} for b in (everything, BAND)]
    driver.execute_async_script(highlight, everything.name, bands)
    graph = driver.find_element("id", "map")
    (left, top, right, bottom), _ = band_pixels.heatmap_area(driver, graph, [BAND.start, BAND.end])
    area = pixels.screenshot(driver)[int(top) + 2:int(bottom) - 2, int(left) + 2:int(right) - 2]
    assert band_pixels.is_overlay_grey(area.reshape(-1, 3)).mean() < 0.02  # nothing is outside it
    assert "outside the highlighted band" not in _map_text(driver)
    driver.execute_async_script(highlight, BAND.name, bands)  # a narrower band: its grey, and the key names it
    assert "outside the highlighted band" in _map_text(driver)


def _map_text(driver) -> str:
    """The text the map's annotations draw, leaving out those drawn at opacity 0 (not seen)."""
    return driver.execute_script("""
      return Array.from(document.querySelectorAll('#map g.annotation')).filter(function (g) {
        return parseFloat(getComputedStyle(g).opacity) > 0;
      }).map(function (g) { return g.textContent; }).join(' ');""")


def _typed_range(driver, scale: str, low: float, high: float) -> str:
    """applyColour as the dashboard calls it on a typed range; the colour bar's drawn title text."""
    return driver.execute_async_script("""
      var done = arguments[arguments.length - 1];
      window.dash_clientside.stampDashboard.applyColour(arguments[0], arguments[1], arguments[2], "tab-heatmap");
      setTimeout(function () {
        var title = document.querySelector("#map .colorbar .cbtitle");
        done(title ? title.textContent : null);
      }, 200);
    """, scale, low, high)


@pytest.mark.parametrize("case", ["variability", "flux"])
def test_the_saturation_note_follows_a_typed_colour_range(driver, tmp_path, case):
    hours = np.arange(60) / 60.0
    if case == "variability":
        flux = RNG.normal(0, 1.0, (60, 40))
        flux[:, 5] = np.nan
        cube, unit, scale = _cube(flux, hours), "%", "RdBu_r"
        ranges = [(-1.0, 1.0), (-0.3, 0.9), (-50.0, 50.0)]
    else:
        flux = RNG.uniform(1000.0, 40000.0, (60, 40))
        cube, unit, scale = _cube(flux, hours, u.Jy), "Jy", "Viridis"
        ranges = [(1200.0, 31000.0), (0.5, 0.9)]
    fig = figures.heatmap_figure(cube)
    _page(driver, tmp_path, fig)
    drawn_note = driver.execute_script("return document.querySelector('#map .colorbar .cbtitle').textContent")
    values = cube.flux
    auto = (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax)
    assert saturation_note(_ValueScale("", unit), values, auto) in drawn_note
    for low, high in ranges:
        expected = saturation_note(_ValueScale("", unit), values, (low, high))
        assert expected in _typed_range(driver, scale, low, high), (low, high)
    # a range beyond every cell says so; the ±1 % range clips about a third of N(0, 1 %)
    if case == "variability":
        assert "0 % of cells beyond" in _typed_range(driver, scale, -50.0, 50.0)
        share = float(_typed_range(driver, scale, -1.0, 1.0).split(": ")[1].split(" %")[0])
        assert 25.0 < share < 40.0


def test_two_uneven_channels_are_drawn_as_wide_as_the_files_channels(driver, tmp_path):
    # +1 % in the narrow channel 1.0–1.5 µm, −1 % in the wide one 1.5–3.0 µm (centres 1.25 and 2.25)
    flux = np.tile([1.0, -1.0], (30, 1))
    cube = Cube(np.array([1.25, 2.25]), Time(60000.0 + np.arange(30) / 1440.0, format="mjd", scale="tdb"), flux,
                np.full_like(flux, 0.1), u.percent, meta={"channel_edges": {"centre": [1.25, 2.25], "low": [1.0, 1.5],
                                                                              "high": [1.5, 3.0]}})
    cube = cube.replace(reference=np.ones((1, 2)), reference_unit=u.Jy)
    _page(driver, tmp_path, figures.heatmap_figure(cube, zrange=(-2.0, 2.0)))
    graph = driver.find_element("id", "map")
    (left, top, right, bottom), (x_low, x_edge, x_mid, x_high) = band_pixels.heatmap_area(
        driver, graph, [1.0, 1.5, 1.75, 3.0])
    row = pixels.screenshot(driver)[int((top + bottom) / 2), int(left):int(right)].astype(int)
    red = (row[:, 0] - row[:, 2]) > 40
    blue = (row[:, 2] - row[:, 0]) > 40
    first_red, last_red = np.flatnonzero(red)[[0, -1]] + int(left)
    first_blue, last_blue = np.flatnonzero(blue)[[0, -1]] + int(left)
    assert abs(last_red - x_edge) <= 2 and abs(first_blue - x_edge) <= 2, (last_red, first_blue, x_edge, x_mid)
    assert abs(first_red - x_low) <= 2 and abs(last_blue - x_high) <= 2


def test_noisy_edge_channels_get_a_strip_above_the_map_and_keep_their_cells(driver, tmp_path):
    from stamp_engine.figures.map_overlays import NOISY_COLOUR
    from stamp_engine.recipe import ProcessOptions, process
    from tests.engine.science.test_noisy_channels import EDGE, _noisy_edge_cube

    cube = process(_noisy_edge_cube(), ProcessOptions())
    fig = figures.heatmap_figure(cube)
    _page(driver, tmp_path, fig)
    edges = np.asarray(fig.data[0].x, dtype=float)
    graph = driver.find_element("id", "map")
    (left, top, right, bottom), (blue_end, red_start) = band_pixels.heatmap_area(driver, graph, [edges[EDGE], edges[-EDGE - 1]])
    image = pixels.screenshot(driver)
    strip = image[int(top) - 3, int(left):int(right)].astype(float)
    orange = np.abs(strip - np.array([float(v) for v in NOISY_COLOUR[4:-1].split(",")])).max(axis=1) <= 20
    x = np.arange(int(left), int(right))
    assert orange[x < blue_end - 2].mean() > 0.9 and orange[x > red_start + 2].mean() > 0.9
    assert not orange[(x > blue_end + 2) & (x < red_start - 2)].any(), "a channel that is not noisy is marked"
    cells = image[int(top) + 3:int(bottom) - 3, int(left) + 2:int(blue_end) - 2]
    assert pixels.coloured_fraction(cells) > 0.5  # the noisy channels are drawn, not hidden
