"""How plotly.js draws into the page (assets/stamp_plotly_early.js): each figure once, hidden graphs
only when their tab is shown.

dcc.Graph asks plotly.js to resize every graph after its first drawing and whenever its
container may have resized; plotly.js answered with a whole second drawing at the same size
(0.4 s for the first heatmap on a 2-core machine).  And every graph in a hidden tab drew its
placeholder as the page opened, in the second after the first heatmap.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from dashboard import ids
from tests.browser.test_dashboard_browser import wait_for_traces, wait_until
from tests.helpers import pixels

pytestmark = pytest.mark.browser

#: Installed before the page's scripts: counts plotly_afterplot (one per drawing) of each graph's
#: figures with data.  The heatmap's "Processing…" placeholder (no trace, a few ms) is drawn too
#: when plotly.js is ready before the heatmap's answer arrives; it is not counted.
_DRAWINGS_JS = """
window.__drawings = {};
new MutationObserver(function () {
  document.querySelectorAll('.js-plotly-plot').forEach(function (gd) {
    if (gd.__counted || !gd.on) { return; }
    gd.__counted = true;
    var holder = gd.closest('[id$="-graph"]');
    var name = holder ? holder.id : '?';
    window.__drawings[name] = 0;
    gd.on('plotly_afterplot', function () { if ((gd.data || []).length) { window.__drawings[name] += 1; } });
  });
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['class']});
"""

_STATE_JS = """
var out = {};
arguments[0].forEach(function (id) {
  var gd = document.querySelector('#' + id + ' .js-plotly-plot');
  var full = gd && gd._fullLayout;
  out[id] = {plotted: !!full, width: full ? full.width : null, box: gd ? gd.clientWidth : null,
             drawings: (window.__drawings || {})[id] || 0};
});
return out;
"""

#: every graph outside the heatmap tab, none of which the first view shows
_HIDDEN = (ids.SURFACE, ids.LIGHTCURVES, ids.SPECTRUM)


def _state(duo) -> dict:
    return duo.driver.execute_script(_STATE_JS, [ids.HEATMAP, *_HIDDEN])


def _coloured_fraction_of(duo, graph: str) -> float:
    image = pixels.screenshot(duo.driver)
    left, top, right, bottom = pixels.element_box(duo.driver, f"#{graph} .nsewdrag")
    return pixels.coloured_fraction(pixels.crop(image, (left + 4, top + 4, right - 4, bottom - 4)))


def test_each_figure_is_drawn_once_and_hidden_graphs_only_when_their_tab_is_shown(dash_duo, make_app):
    app, _ = make_app()
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.set_window_size(1400, 900)
    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _DRAWINGS_JS})
    dash_duo.server_url = dash_duo.server.url
    wait_for_traces(dash_duo, ids.HEATMAP, "heatmap")
    wait_until(lambda: dash_duo.find_element(f"#{ids.PROCESS}").get_attribute("disabled") is None,
               what="Process enabled")
    time.sleep(2.0)  # dcc.Graph's resizes after the first drawing, and anything else on its way
    state = _state(dash_duo)
    assert state[ids.HEATMAP]["drawings"] == 1, state[ids.HEATMAP]
    assert _coloured_fraction_of(dash_duo, ids.HEATMAP) > 0.5  # the map is drawn, in colour
    for graph in _HIDDEN:
        assert not state[graph]["plotted"], (graph, state[graph])

    # a real resize still resizes: the heatmap follows the window
    before = state[ids.HEATMAP]["width"]
    dash_duo.driver.set_window_size(1100, 900)
    wait_until(lambda: (_state(dash_duo)[ids.HEATMAP]["width"] or before) < before - 100,
               what="the heatmap redrawn narrower after the window narrowed")
    resized = _state(dash_duo)[ids.HEATMAP]
    assert abs(resized["width"] - resized["box"]) <= 1, resized
    assert resized["drawings"] >= 2

    # opening a tab draws its graph, the others stay undrawn
    dash_duo.driver.execute_script(
        "Array.from(document.querySelectorAll('#' + arguments[0] + ' .nav-link'))"
        ".find(function (a) { return a.textContent.trim() === 'Light curves'; }).click();", ids.TABS)
    curves = wait_for_traces(dash_duo, ids.LIGHTCURVES, "scatter")
    assert curves
    wait_until(lambda: _state(dash_duo)[ids.LIGHTCURVES]["plotted"], what="the light curves drawn")
    time.sleep(1.0)
    state = _state(dash_duo)
    image = pixels.screenshot(dash_duo.driver)
    left, top, right, bottom = pixels.element_box(dash_duo.driver, f"#{ids.LIGHTCURVES} .nsewdrag")
    area = pixels.crop(image, (left + 2, top + 2, right - 2, bottom - 2))
    # band curves are coloured lines on a white plot: some coloured pixels, mostly background
    coloured = pixels.coloured_fraction(area)
    assert 0.002 < coloured < 0.5, coloured
    assert abs(state[ids.LIGHTCURVES]["width"] - state[ids.LIGHTCURVES]["box"]) <= 1, state[ids.LIGHTCURVES]
    assert not state[ids.SURFACE]["plotted"] and not state[ids.SPECTRUM]["plotted"], state
    assert np.isfinite(state[ids.LIGHTCURVES]["width"])
