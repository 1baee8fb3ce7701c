"""stamp_engine/web/stamp_bands.js in a real headless Chromium: highlighting figure dicts, rendered
graphs (Plotly.restyle), the Dash clientside functions, and surface hover showing the error."""

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

from stamp_engine import figures, processing
from stamp_engine.bands import Band
from stamp_engine.cube import Cube
from stamp_engine.synthetic import make_observation

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
BANDS_JS = REPO / "stamp_engine" / "web" / "stamp_bands.js"
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
BANDS = (Band("H2O 1.4", 1.30, 1.50), Band("Wide", 1.40, 2.50), Band("CH4 2.3", 2.20, 2.40))
GRAY = [[0, "rgb(160,160,160)"], [1, "rgb(160,160,160)"]]

# hover check: a cube whose error encodes its own cell, error = column + 100·(row mod 5)
HOVER_TIMES, HOVER_WAVES = 60, 40
HOVER_WAVELENGTH = np.linspace(1.0, 3.0, HOVER_WAVES)
HOVER_HOURS = np.arange(HOVER_TIMES) * 0.1


def _hover_cube() -> Cube:
    rows, cols = np.meshgrid(np.arange(HOVER_TIMES), np.arange(HOVER_WAVES), indexing="ij")
    flux = np.sin(rows / 10.0) + cols / 40.0
    error = cols + 100.0 * (rows % 5)
    return Cube(HOVER_WAVELENGTH, Time(60000.0 + HOVER_HOURS / 24.0, format="mjd", scale="tdb"), flux, error, u.Jy)


def _variability_cube() -> Cube:
    obs = make_observation("variability", n_integrations=80, wavelength=np.linspace(1.0, 3.0, 60), n_visits=2, seed=8)
    cube = obs.to_cube()
    return processing.normalize(cube)


@pytest.fixture(scope="module")
def page(driver, tmp_path_factory):
    """A page with Plotly, stamp_bands.js and three figures: a rendered surface (for hover),
    a rendered heatmap (for restyle) and a figure dict (for stampHighlight)."""
    var = _variability_cube()
    figs = {
        "hover": figures.surface_figure(_hover_cube(), bands=[Band("A", 1.5, 2.0)]).to_json(),
        "heatmap": figures.heatmap_figure(var, bands=BANDS).to_json(),
        "surface": figures.surface_figure(var, bands=BANDS).to_json(),
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
<div id="heatmap" style="width:500px;height:300px"></div>
<script>
  window.FIGS = {{hover: {figs["hover"]}, heatmap: {figs["heatmap"]}, surface: {figs["surface"]}}};
  Promise.all([
    Plotly.newPlot("hover", FIGS.hover.data, FIGS.hover.layout),
    Plotly.newPlot("heatmap", FIGS.heatmap.data, FIGS.heatmap.layout),
  ]).then(function () {{ window.READY = true; }}, function (e) {{ window.ERROR = String(e); }});
</script></body></html>"""
    path = tmp_path_factory.mktemp("stamp-bands") / "page.html"
    path.write_text(html, encoding="utf-8")
    driver.get(path.as_uri())
    deadline = time.monotonic() + 60
    while not driver.execute_script("return window.READY || window.ERROR || null"):
        assert time.monotonic() < deadline, "the page did not finish plotting"
        time.sleep(0.1)
    assert driver.execute_script("return window.ERROR || null") is None
    return driver


SUMMARY_JS = """
function summary(fig) {
  return fig.data.map(function (t) {
    return {bands: t.meta.bands, opacity: t.opacity === undefined ? null : t.opacity,
            coloraxis: t.coloraxis === undefined ? null : t.coloraxis,
            colorscale: t.colorscale === undefined ? null : t.colorscale,
            showscale: t.showscale === undefined ? null : t.showscale};
  });
}
"""


def _check_highlighted(traces, band):
    lit = [t for t in traces if band in t["bands"]]
    dim = [t for t in traces if band not in t["bands"]]
    assert lit and dim
    for t in lit:
        assert (t["coloraxis"], t["colorscale"], t["opacity"], t["showscale"]) == ("coloraxis", None, 1, None)
    for t in dim:
        assert (t["coloraxis"], t["colorscale"], t["opacity"], t["showscale"]) == (None, GRAY, 0.35, False)


@pytest.mark.parametrize("name", ["surface", "heatmap"])
def test_highlight_returns_a_new_figure_and_leaves_the_input_alone(page, name):
    result = page.execute_script(SUMMARY_JS + """
      var fig = FIGS[arguments[0]];
      var before = JSON.stringify(fig);
      var out = stampHighlight(fig, "Wide");
      var sameArrays = out.data.every(function (t, i) {
        return t.z === fig.data[i].z && t.x === fig.data[i].x && t.customdata === fig.data[i].customdata;
      });
      var restored = stampHighlight(out, "All");
      return {out: summary(out), restored: summary(restored), original: summary(fig),
              unchanged: JSON.stringify(fig) === before, newObject: out !== fig && out.data !== fig.data,
              tracesCopied: out.data.every(function (t, i) { return t !== fig.data[i]; }),
              layoutShared: out.layout === fig.layout, sameArrays: sameArrays,
              typed: typeof fig.data[0].z.bdata === "string" && fig.data[0].z.dtype === "f4"};
    """, name)
    assert result["unchanged"] and result["newObject"] and result["tracesCopied"] and result["layoutShared"]
    assert result["sameArrays"] and result["typed"]
    _check_highlighted(result["out"], "Wide")
    # the narrow band: only its own pieces stay in colour
    narrow = page.execute_script(SUMMARY_JS + "return summary(stampHighlight(FIGS[arguments[0]], 'CH4 2.3'));", name)
    _check_highlighted(narrow, "CH4 2.3")
    assert sum("CH4 2.3" in t["bands"] for t in narrow) == 2  # one piece per visit
    # "All" brings every piece back to the shared colour axis
    for original, restored in zip(result["original"], result["restored"]):
        assert original["coloraxis"] == restored["coloraxis"] == "coloraxis"
        assert restored["colorscale"] is None and restored["opacity"] == 1 and restored["showscale"] is None


def test_unknown_band_greys_everything_and_null_means_all(page):
    result = page.execute_script(SUMMARY_JS + """
      return {none: summary(stampHighlight(FIGS.surface, "No such band")),
              nul: summary(stampHighlight(FIGS.surface, null))};
    """)
    assert all(t["opacity"] == 0.35 and t["colorscale"] == GRAY for t in result["none"])
    assert all(t["opacity"] == 1 and t["coloraxis"] == "coloraxis" for t in result["nul"])


def test_highlight_div_restyles_a_rendered_graph(page):
    script = """
      var done = arguments[arguments.length - 1];
      var gd = document.getElementById("heatmap");
      function full() {
        return gd._fullData.map(function (t) {
          return {bands: t.meta.bands, opacity: t.opacity, coloraxis: t.coloraxis || null,
                  colorscale: t.coloraxis ? null : t.colorscale, showscale: t.coloraxis ? null : t.showscale};
        });
      }
      var zBefore = gd.data[0].z;
      stampHighlightDiv(gd, "H2O 1.4").then(function () {
        var lit = full();
        stampHighlight("heatmap", "All");  // an element id is handed to stampHighlightDiv
        setTimeout(function () { done({lit: lit, all: full(), sameZ: gd.data[0].z === zBefore}); }, 300);
      }, function (e) { done({error: String(e)}); });
    """
    result = page.execute_async_script(script)
    assert "error" not in result, result
    assert result["sameZ"]
    lit = result["lit"]
    assert {t["opacity"] for t in lit if "H2O 1.4" in t["bands"]} == {1}
    for t in lit:
        if "H2O 1.4" not in t["bands"]:
            assert t["opacity"] == 0.35 and t["coloraxis"] is None and t["showscale"] is False
            assert [[float(p), c] for p, c in t["colorscale"]] == [[0.0, GRAY[0][1]], [1.0, GRAY[1][1]]]
    assert all(t["opacity"] == 1 and t["coloraxis"] == "coloraxis" for t in result["all"])


def test_dash_clientside_functions(page):
    result = page.execute_script(SUMMARY_JS + """
      var stamp = window.dash_clientside.stamp;
      var noUpdate = window.dash_clientside.no_update;
      var out = {};
      window.dash_clientside.callback_context = {triggered_id: {type: "band-button", band: "CH4 2.3"}};
      out.button = stamp.select_band(null, [null, 1, null]);
      window.dash_clientside.callback_context = {triggered_id: "band-all"};
      out.all = stamp.select_band(2, [null, null]);
      window.dash_clientside.callback_context = {triggered: [{prop_id: '{"band":"Wide","type":"band-button"}.n_clicks', value: 1}]};
      out.parsed = stamp.select_band(null, [1]);
      window.dash_clientside.callback_context = {triggered_id: null, triggered: [{prop_id: ".", value: null}]};
      out.nothing = stamp.select_band(null, [null]) === noUpdate;
      out.noFigure = stamp.highlight("Wide", null) === noUpdate;
      out.viaHighlight = summary(stamp.highlight("Wide", FIGS.surface));
      out.viaStore = summary(stamp.highlight_from_store("Wide", FIGS.heatmap));
      var many = stamp.highlight_many("Wide", FIGS.surface, null, FIGS.heatmap);
      out.many = [many.length, many[1] === noUpdate, summary(many[2])];
      out.kept = stamp.other();
      return out;
    """)
    assert result["button"] == "CH4 2.3"
    assert result["all"] == "All"
    assert result["parsed"] == "Wide"
    assert result["nothing"] and result["noFigure"]
    _check_highlighted(result["viaHighlight"], "Wide")
    _check_highlighted(result["viaStore"], "Wide")
    assert result["many"][:2] == [3, True]
    _check_highlighted(result["many"][2], "Wide")
    assert result["kept"] == "kept"  # other functions of the namespace survive


def test_surface_hover_shows_the_error_of_the_hovered_cell(page):
    """Plotly.js indexes surface customdata [x][y]; the figure must transpose the error."""
    graph = page.find_element("id", "hover")
    ActionChains(page).move_to_element(graph).perform()
    seen = set()
    for dx, dy in [(0, 0), (12, 6), (-16, 11), (28, -12), (-32, -16)]:
        ActionChains(page).move_by_offset(dx, dy).perform()
        deadline = time.monotonic() + 2.0  # the WebGL pick runs on the next frame
        texts = []
        while not texts and time.monotonic() < deadline:
            time.sleep(0.1)
            texts = page.execute_script(
                "return Array.from(document.querySelectorAll('#hover .hovertext')).map(e => e.textContent)")
        if not texts:
            continue
        # every label is checked against itself: its λ and t name the cell whose error it must show
        match = re.search(r"λ = ([\d.]+) µm.*t = ([\d.]+) h \(BJD_TDB − t0\).*Flux = (-?[\d.]+) Jy.*error = ± ([\d.]+) Jy", texts[0])
        assert match, texts[0]
        wavelength, hours, value, error = map(float, match.groups())
        col = int(np.argmin(np.abs(HOVER_WAVELENGTH - wavelength)))
        row = int(np.argmin(np.abs(HOVER_HOURS - hours)))
        assert error == col + 100 * (row % 5), texts[0]
        assert value == pytest.approx(np.sin(row / 10.0) + col / 40.0, abs=5e-3)
        seen.add(texts[0])
    assert len(seen) >= 2, "hovering the surface showed too few labels"
