"""stamp_engine/web/stamp_bands.js in a real headless Chromium: highlighting figure dicts (heatmap
overlay shapes, surface colour, light curves, spectrum shade), rendered graphs, the Dash
clientside functions (selection only on clicks), and surface hover showing the error.
What these highlights look like on screen is checked on pixels in test_export_browser.py
and tests/browser/test_highlight_browser.py."""

from __future__ import annotations

import re
import time
from pathlib import Path

import astropy.units as u
import numpy as np
import plotly
import pytest
from astropy.time import Time
from selenium.webdriver.common.action_chains import ActionChains

from stamp_engine import figures
from stamp_engine import steps as stamp_steps
from stamp_engine.bands import Band
from stamp_engine.cube import Cube
from stamp_engine.synthetic import make_observation
from tests.helpers.pages import open_plot_page
from tests.helpers.paths import REPO

pytestmark = pytest.mark.browser

BANDS_JS = REPO / "stamp_engine" / "web" / "stamp_bands.js"
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
BANDS = (Band("H2O 1.4", 1.30, 1.50), Band("Wide", 1.40, 2.50), Band("CH4 2.3", 2.20, 2.40))

# hover check: a cube whose error encodes its own cell, error = column + 100·(row mod 5)
HOVER_TIMES, HOVER_WAVES = 60, 40
HOVER_WAVELENGTH = np.linspace(1.0, 3.0, HOVER_WAVES)
#: few channels: a surface in steps, whose vertices sit on the cells' edges (the hover names the centre)
HOVER_FEW_WAVELENGTH = np.array([1.0, 1.6, 2.2, 2.8])
HOVER_HOURS = np.arange(HOVER_TIMES) * 0.1


def _hover_cube(wavelength: np.ndarray = HOVER_WAVELENGTH) -> Cube:
    rows, cols = np.meshgrid(np.arange(HOVER_TIMES), np.arange(wavelength.size), indexing="ij")
    flux = np.sin(rows / 10.0) + cols / 40.0
    error = cols + 100.0 * (rows % 5)
    return Cube(wavelength, Time(60000.0 + HOVER_HOURS / 24.0, format="mjd", scale="tdb"), flux, error, u.Jy)


def _variability_cube() -> Cube:
    obs = make_observation("variability", n_integrations=80, wavelength=np.linspace(1.0, 3.0, 60), n_visits=2, seed=8)
    cube = obs.to_cube()
    return stamp_steps.normalize(cube)


@pytest.fixture(scope="module")
def page(driver, tmp_path_factory):
    """A page with Plotly, stamp_bands.js and three figures: a rendered surface (for hover),
    a rendered heatmap (for restyle) and a figure dict (for stampHighlight)."""
    var = _variability_cube()
    curves = var.light_curves(BANDS)
    figs = {
        "hover": figures.surface_figure(_hover_cube(), bands=[Band("A", 1.5, 2.0)]).to_json(),
        "hoverfew": figures.surface_figure(_hover_cube(HOVER_FEW_WAVELENGTH), bands=[Band("A", 1.5, 2.0)]).to_json(),
        "heatmap": figures.heatmap_figure(var, bands=BANDS, visits="one axis").to_json(),
        "panels": figures.heatmap_figure(var, bands=BANDS, visits="side by side").to_json(),
        "surface": figures.surface_figure(var, bands=BANDS).to_json(),
        "curves": figures.light_curve_figure(curves).to_json(),
        "spectrum": figures.spectrum_figure(var, 3).to_json(),
    }
    html = f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<script>
  // what Dash defines before loading assets; stamp_bands.js must keep it
  window.dash_clientside = {{no_update: {{"_dash_no_update": "_dash_no_update"}},
                            stamp: {{other: function () {{ return "kept"; }}}}}};
</script>
<script src="{PLOTLY_JS.as_uri()}"></script>
<script src="{BANDS_JS.as_uri()}"></script>
</head><body style="margin:0">
<div id="hover" style="width:400px;height:320px"></div>
<div id="hoverfew" style="width:400px;height:320px"></div>
<div id="heatmap" style="width:500px;height:300px"></div>
<script>
  window.FIGS = {{hover: {figs["hover"]}, hoverfew: {figs["hoverfew"]}, heatmap: {figs["heatmap"]}, panels: {figs["panels"]}, surface: {figs["surface"]},
                 curves: {figs["curves"]}, spectrum: {figs["spectrum"]}}};
  Promise.all([
    Plotly.newPlot("hover", FIGS.hover.data, FIGS.hover.layout),
    Plotly.newPlot("hoverfew", FIGS.hoverfew.data, FIGS.hoverfew.layout),
    Plotly.newPlot("heatmap", FIGS.heatmap.data, FIGS.heatmap.layout),
  ]).then(function () {{ window.READY = true; }}, function (e) {{ window.ERROR = String(e); }});
</script></body></html>"""
    path = tmp_path_factory.mktemp("stamp-bands") / "page.html"
    open_plot_page(driver, path, html)
    return driver


BAND_RANGES = [{"name": b.name, "start": b.start, "end": b.end} for b in BANDS]


def test_heatmap_gets_grey_shapes_over_the_other_columns_and_nothing_else_changes(page):
    result = page.execute_script("""
      var fig = FIGS.heatmap, before = JSON.stringify(fig);
      var out = stampHighlight(fig, "Wide"), again = stampHighlight(out, "Wide");
      var all = stampHighlight(out, "All");
      function grey(f) {
        /* the band grey itself; time gaps and masked columns are drawn again above it in their own colours */
        return (f.layout.shapes || []).filter(function (s) { return s.name === "stamp-band-grey" && s.fillcolor === "rgb(222,222,222)"; })
          .map(function (s) { return [s.x0, s.x1, s.fillcolor, s.opacity, s.layer]; });
      }
      return {unchanged: JSON.stringify(fig) === before, same: again === out,
              tracesShared: out.data.every(function (t, i) { return t === fig.data[i]; }),
              grey: grey(out), allGrey: grey(all), state: out.layout._stampHighlight.band,
              nothing: grey(stampHighlight(fig, "No such band")), span: fig.data[0].meta.bands[1].x,
              extent: fig.data[0].meta.extent, nullIsAll: stampHighlight(fig, null) === fig};
    """)
    assert result["unchanged"] and result["same"] and result["tracesShared"] and result["nullIsAll"]
    (x0, x1), (e0, e1) = result["span"], result["extent"]
    assert result["grey"] == [[e0, x0, "rgb(222,222,222)", 1, "above"], [x1, e1, "rgb(222,222,222)", 1, "above"]]
    assert result["state"] == "Wide" and result["allGrey"] == []
    assert [s[:2] for s in result["nothing"]] == [[e0, e1]]  # a band without data: all grey


def test_surface_keeps_its_colour_axis_and_greys_through_surfacecolor(page):
    result = page.execute_script("""
      var fig = FIGS.surface, axis = fig.layout.coloraxis;
      var out = stampHighlight(fig, "CH4 2.3"), other = stampHighlight(out, "H2O 1.4");
      var all = stampHighlight(other, "All");
      var span = fig.data[0].meta.bands[2].columns, row = out.data[0].surfacecolor[5];
      var inside = [], outside = [];
      for (var j = 0; j < row.length; j++) { (j >= span[0] && j < span[1] ? inside : outside).push(row[j]); }
      var ax = out.layout.coloraxis;
      return {traceAxes: out.data.map(function (t) { return t.coloraxis; }),
              scale: [ax.colorscale[0], ax.colorscale[1], ax.colorscale[2]], cmin: ax.cmin, cmax: ax.cmax,
              origMin: axis.cmin, origMax: axis.cmax, inside: inside, outside: outside,
              otherStillOriginal: other.layout._stampHighlight.coloraxis === axis,
              allAxis: all.layout.coloraxis === axis,
              allColour: all.data.every(function (t) { return t.surfacecolor === undefined; }),
              zShared: out.data.every(function (t, i) { return t.z === fig.data[i].z; })};
    """)
    assert result["traceAxes"] == ["coloraxis", "coloraxis"] and result["zShared"]
    (p0, c0), (p1, c1), (p2, _) = result["scale"]
    assert c0 == c1 == "rgb(222,222,222)" and p0 == 0 and p1 == pytest.approx(p2) and 0.005 < p1 < 0.02
    assert result["cmax"] == result["origMax"] and result["cmin"] < result["origMin"]
    assert result["outside"] and all(v == pytest.approx(result["cmin"]) for v in result["outside"])  # on the grey stop
    assert all(result["origMin"] <= v <= result["origMax"] for v in result["inside"])  # clipped onto the scale
    assert result["otherStillOriginal"] and result["allAxis"] and result["allColour"]


def test_visits_side_by_side_grey_the_same_columns_in_every_panel(page):
    result = page.execute_script("""
      var out = stampHighlight(FIGS.panels, "Wide");
      return {axes: FIGS.panels.data.map(function (t) { return t.xaxis || "x"; }),
              grey: out.layout.shapes.filter(function (s) { return s.name === "stamp-band-grey"; })
                .map(function (s) { return [s.xref, s.x0, s.x1]; }),
              span: FIGS.panels.data[0].meta.bands[1].x, extent: FIGS.panels.data[0].meta.extent};
    """)
    assert result["axes"] == ["x", "x2"]  # one panel (x axis) per visit
    (x0, x1), (e0, e1) = result["span"], result["extent"]
    assert result["grey"] == [["x", e0, x0], ["x", x1, e1], ["x2", e0, x0], ["x2", x1, e1]]


def test_light_curves_dim_the_others_and_the_spectrum_shades_the_band(page):
    result = page.execute_script("""
      var curves = stampHighlight(FIGS.curves, "Wide");
      var spectrum = stampHighlight(FIGS.spectrum, "Wide", arguments[0]);
      return {curves: curves.data.map(function (t) { return [t.meta.curve, t.opacity === undefined ? 1 : t.opacity]; }),
              back: stampHighlight(curves, "All").data.every(function (t) { return t.opacity === undefined; }),
              shade: spectrum.layout.shapes.map(function (s) { return [s.name, s.x0, s.x1]; }),
              unshaded: stampHighlight(spectrum, "All").layout.shapes.length};
    """, BAND_RANGES)
    assert {name for name, o in result["curves"] if o == 1} == {"Wide"}
    assert all(o < 0.5 for name, o in result["curves"] if name != "Wide") and result["back"]
    assert result["shade"] == [["stamp-band-shade", 1.40, 2.50]] and result["unshaded"] == 0


def test_highlight_div_reacts_a_rendered_graph(page):
    result = page.execute_async_script("""
      var done = arguments[arguments.length - 1];
      var gd = document.getElementById("heatmap"), zBefore = gd.data[0].z;
      function grey() {
        return gd._fullLayout.shapes.filter(function (s) { return s.fillcolor === "rgb(222,222,222)"; }).length;
      }
      stampHighlightDiv(gd, "H2O 1.4").then(function () {
        var lit = grey();
        return stampHighlightDiv("heatmap", "All").then(function () {
          done({lit: lit, all: grey(), sameZ: gd.data[0].z === zBefore});
        });
      }).catch(function (e) { done({error: String(e)}); });
    """)
    assert "error" not in result, result
    assert result == {"lit": 2, "all": 0, "sameZ": True}


def test_dash_clientside_functions(page):
    result = page.execute_script("""
      var stamp = window.dash_clientside.stamp, noUpdate = window.dash_clientside.no_update, out = {};
      function ctx(triggered) { window.dash_clientside.callback_context = {triggered: triggered}; }
      ctx([{prop_id: '{"band":"CH4 2.3","type":"band-button"}.n_clicks', value: 1}]);
      out.button = stamp.select_band(null, [null, 1]);
      ctx([{prop_id: "band-all.n_clicks", value: 2}]);
      out.all = stamp.select_band(2, [null]);
      // buttons rebuilt by a new result or by "Add band": triggered, but nobody clicked
      ctx([{prop_id: '{"band":"H2O 1.4","type":"band-button"}.n_clicks', value: null},
           {prop_id: '{"band":"Wide","type":"band-button"}.n_clicks', value: undefined}]);
      out.rebuilt = stamp.select_band(null, [null, null]) === noUpdate;
      ctx([{prop_id: ".", value: null}]);
      out.nothing = stamp.select_band(null, [null]) === noUpdate;
      var bands = [{name: "Wide", start: 1.4, end: 2.5}, {name: "CH4 2.3", start: 2.2, end: 2.4}];
      var bar = stamp.band_bar(bands, "Wide");
      out.bar = [bar[0].map(function (b) { return [b.props.children, b.props.active, b.props.id.band, b.props.title]; }),
                 bar[1] === noUpdate];
      out.gone = stamp.band_bar(bands.slice(1), "Wide")[1];
      out.marked = stamp.mark_selected("Wide", [{band: "CH4 2.3"}, {band: "Wide"}]);
      out.returns = stamp.highlight_shown("Wide", "tab-heatmap", FIGS.heatmap, bands, "tab-surface", "x") === noUpdate;
      out.kept = stamp.other();
      return out;
    """)
    assert result["button"] == "CH4 2.3" and result["all"] == "All"
    assert result["rebuilt"] and result["nothing"]
    assert result["bar"] == [[["Wide", True, "Wide", "1.4–2.5 µm"], ["CH4 2.3", False, "CH4 2.3", "2.2–2.4 µm"]], True]
    assert result["gone"] == "All"  # the selected band was removed from the editor
    assert result["marked"] == [False, [False, True]]
    assert result["returns"]  # the dashboard's graphs are highlighted in place (tests/browser)
    assert result["kept"] == "kept"  # other functions of the namespace survive


@pytest.mark.parametrize("graph_id, wavelengths", [("hover", HOVER_WAVELENGTH), ("hoverfew", HOVER_FEW_WAVELENGTH)])
def test_surface_hover_shows_the_error_of_the_hovered_cell(page, graph_id, wavelengths):
    """Plotly.js indexes surface customdata [x][y]; the figure must transpose the error.  A surface
    of few channels (in steps) names the hovered channel's centre, not the cell edge its vertex is on."""
    page.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});",
                        page.find_element("id", graph_id))
    graph = page.find_element("id", graph_id)
    ActionChains(page).move_to_element(graph).perform()
    seen = set()
    for dx, dy in [(0, 0), (12, 6), (-16, 11), (28, -12), (-32, -16)]:
        ActionChains(page).move_by_offset(dx, dy).perform()
        deadline = time.monotonic() + 2.0  # the WebGL pick runs on the next frame
        texts = []
        while not texts and time.monotonic() < deadline:
            time.sleep(0.1)
            texts = page.execute_script(
                "return Array.from(document.querySelectorAll('#' + arguments[0] + ' .hovertext')).map(e => e.textContent)",
                graph_id)
        if not texts:
            continue
        # every label is checked against itself: its λ and t name the cell whose error it must show
        match = re.search(r"λ = ([\d.]+) µm.*t = ([\d.]+) h since t0 \(BJD_TDB\).*Flux = (-?[\d.]+) Jy.*error = ± ([\d.]+) Jy", texts[0])
        assert match, texts[0]
        wavelength, hours, value, error = map(float, match.groups())
        col = int(np.argmin(np.abs(wavelengths - wavelength)))
        assert abs(wavelengths[col] - wavelength) < 1e-3, texts[0]  # a channel's own wavelength
        row = int(np.argmin(np.abs(HOVER_HOURS - hours)))
        assert error == col + 100 * (row % 5), texts[0]
        assert value == pytest.approx(np.sin(row / 10.0) + col / 40.0, abs=5e-3)
        seen.add(texts[0])
    assert len(seen) >= 2, "hovering the surface showed too few labels"
