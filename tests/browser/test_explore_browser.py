"""Linked exploration in the dashboard (headless Chromium), on a small synthetic cube.

A click on the heatmap draws the spectrum of the clicked row and the light curve of the
clicked column — values equal to the cube the map shows — with crosshairs, and asks the
server nothing; the panels follow the band highlight; a box on the white-light curve sets
the baseline / in-transit window; a box on the spectrum panel adds a band.  Pixels: the
crosshair is drawn where the clicked point is, the data line in its colour where there
are data and nowhere across the all-NaN columns.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from selenium.webdriver.common.actions.action_builder import ActionBuilder

from dashboard import ids
from stamp_engine.explore_figures import CROSSHAIR_COLOUR, DATA_COLOUR
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.eureka import write_eureka_s3
from tests.helpers import pixels
from tests.browser.test_highlight_browser import (
    BAND,
    band_button,
    drawn,
    open_page,
    open_tab,
    settle,
    wait_until,
)

pytestmark = pytest.mark.browser

WAVELENGTH = np.linspace(1.0, 3.0, 40)
NAN_COLUMNS = (20, 21, 22)
ROW, COLUMN = 23, 9          # the point clicked (0-based)


def _rgb(text: str) -> np.ndarray:
    return np.array([int(v) for v in text[text.index("(") + 1:-1].split(",")[:3]], dtype=float)


@pytest.fixture
def small_app(tmp_path, make_app):
    obs = make_observation(kind="transit", n_integrations=60, wavelength=WAVELENGTH, snr=300, seed=3,
                           nan_columns=NAN_COLUMNS, meta={"target": "Explore test"})
    path = write_eureka_s3(tmp_path / "small.h5", obs)
    return make_app(demo_path=path)


def store_data(duo, component_id: str, prop: str = "data"):
    """``data`` of a dcc.Store (or another property) as the page holds it (Dash's redux store)."""
    return duo.driver.execute_script(
        "var s = window.store.getState(), node = s.layout;"
        "(s.paths.strs[arguments[0]] || []).forEach(function (k) { node = node[k]; });"
        "return node && node.props ? node.props[arguments[1]] : null;", component_id, prop)


def shown_cube(duo, app):
    """The display cube the page's heatmap shows, from the server's cache."""
    services = app.server.extensions["stamp_services"]
    key = services.cubes.redeem(store_data(duo, ids.RESULT)["ticket"], store_data(duo, ids.SESSION))
    return services.cubes.display(key)


def graph_js(duo, graph: str, script: str, *args):
    return duo.driver.execute_script(
        "var gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');" + script, graph, *args)


def per_hour(duo, graph: str) -> float:
    """Drawn time units in one hour on ``graph`` (its ``layout.meta.time_axis``: minutes for the hour-long test cube)."""
    return float(graph_js(duo, graph, "return gd.layout.meta.time_axis.per_hour;"))


def page_point(duo, graph: str, x: float, y: float) -> tuple[float, float]:
    """Viewport pixel of data (x, y) on the first axes of ``graph``."""
    return tuple(graph_js(duo, graph,
        "var r = gd.getBoundingClientRect(), s = gd._fullLayout._size, L = gd._fullLayout;"
        "return [r.left + s.l + L.xaxis.l2p(arguments[1]), r.top + s.t + L.yaxis.l2p(arguments[2])];", x, y))


def click_at(duo, x: float, y: float) -> None:
    action = ActionBuilder(duo.driver)
    action.pointer_action.move_to_location(round(x), round(y)).click()
    action.perform()


def drag(duo, start: tuple[float, float], end: tuple[float, float]) -> None:
    action = ActionBuilder(duo.driver)
    pointer = action.pointer_action
    pointer.move_to_location(int(start[0]), int(start[1])).pointer_down()
    for f in (0.25, 0.5, 0.75, 1.0):
        pointer.move_to_location(int(start[0] + f * (end[0] - start[0])), int(start[1] + f * (end[1] - start[1])))
    pointer.pointer_up()
    action.perform()


def panel_trace(duo, graph: str, index: int) -> tuple[list, list]:
    return tuple(graph_js(duo, graph, "var t = gd.data[arguments[1]]; return [Array.from(t.x), Array.from(t.y)];", index))


def _as_array(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def open_on_map(duo, app) -> None:
    open_page(duo, app, "heatmap")
    drawn(duo, ids.HEATMAP, "heatmap")
    wait_until(lambda: graph_js(duo, ids.EXPLORE_SPECTRUM, "return !!(gd && gd.layout.meta &&"
                                " gd.layout.meta.stamp_figure === 'explore-spectrum');"), 30, "the explore panels")
    duo.driver.execute_script("window.scrollTo({top: 0, behavior: 'instant'});")
    settle(duo)


def click_point(duo, cube, row: int, column: int) -> None:
    duo.driver.execute_script("document.querySelector('#' + arguments[0]).scrollIntoView({block: 'start', behavior: 'instant'});",
                              ids.HEATMAP)
    settle(duo)
    click_at(duo, *page_point(duo, ids.HEATMAP, float(cube.wavelength[column]), float(cube.hours[row]) * per_hour(duo, ids.HEATMAP)))
    wait_until(lambda: f"row {row + 1} of" in graph_js(duo, ids.EXPLORE_SPECTRUM, "return gd.layout.title.text || '';"),
               10, f"the spectrum of row {row + 1}")


def test_click_on_heatmap_draws_the_cube_row_and_column_with_no_server_request(dash_duo, small_app):
    app, log = small_app
    open_on_map(dash_duo, app)
    cube = shown_cube(dash_duo, app)
    assert cube.shape == (60, 40)
    time.sleep(1.0)  # every callback of the first load has run
    before = log.count("_dash-update-component")

    click_point(dash_duo, cube, ROW, COLUMN)
    x, y = panel_trace(dash_duo, ids.EXPLORE_SPECTRUM, 1)
    np.testing.assert_allclose(x, cube.wavelength, rtol=1e-12)
    np.testing.assert_allclose(_as_array(y), cube.flux[ROW].astype(np.float32), rtol=1e-6, equal_nan=True)
    assert np.isnan(_as_array(y)[list(NAN_COLUMNS)]).all()
    x, y = panel_trace(dash_duo, ids.EXPLORE_LIGHTCURVE, 1)
    assert per_hour(dash_duo, ids.EXPLORE_LIGHTCURVE) == 60.0  # a 59 min series is drawn in minutes
    np.testing.assert_allclose(_as_array(x), cube.hours * 60.0, rtol=1e-9)
    np.testing.assert_allclose(_as_array(y), cube.flux[:, COLUMN].astype(np.float32), rtol=1e-6)
    crosshairs = graph_js(dash_duo, ids.EXPLORE_SPECTRUM, "return gd._fullLayout.shapes.map(function (s) { return [s.name, s.x0, s.y0]; });")
    assert ["stamp-explore-crosshair", pytest.approx(cube.wavelength[COLUMN]), 0] in crosshairs

    # a second point, then Shift + hover picks a third: all in the browser
    click_point(dash_duo, cube, 50, 30)
    y = _as_array(panel_trace(dash_duo, ids.EXPLORE_LIGHTCURVE, 1)[1])
    np.testing.assert_allclose(y, cube.flux[:, 30].astype(np.float32), rtol=1e-6)
    target = page_point(dash_duo, ids.HEATMAP, float(cube.wavelength[5]), float(cube.hours[10]) * per_hour(dash_duo, ids.HEATMAP))
    action = ActionBuilder(dash_duo.driver)
    action.key_action.key_down("\ue008")  # Shift
    action.pointer_action.move_to_location(int(target[0]), int(target[1]))
    action.pointer_action.move_to_location(int(target[0]) + 1, int(target[1]))
    action.key_action.key_up("\ue008")
    action.perform()
    wait_until(lambda: "row 11 of" in graph_js(dash_duo, ids.EXPLORE_SPECTRUM, "return gd.layout.title.text;"), 10, "Shift + hover")
    time.sleep(0.5)
    assert log.count("_dash-update-component") == before, "a click on the map asked the server"


def test_panels_pixels_crosshair_data_colour_and_band(dash_duo, small_app):
    app, log = small_app
    open_on_map(dash_duo, app)
    cube = shown_cube(dash_duo, app)
    click_point(dash_duo, cube, ROW, COLUMN)
    panel = dash_duo.find_element(f"#{ids.EXPLORE_SPECTRUM}")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", panel)
    settle(dash_duo, 5)

    def plot_pixels(graph: str):
        image = pixels.screenshot(dash_duo.driver)
        box = graph_js(dash_duo, graph, "var r = gd.getBoundingClientRect(), s = gd._fullLayout._size;"
                       "return [r.left + s.l, r.top + s.t, r.left + s.l + s.w, r.top + s.t + s.h];")
        return pixels.crop(image, box), box

    def colour_mask(image, colour: str, tolerance: float = 40.0) -> np.ndarray:
        return np.abs(image.astype(float) - _rgb(colour)).max(axis=-1) < tolerance

    image, box = plot_pixels(ids.EXPLORE_SPECTRUM)
    cross_x = page_point(dash_duo, ids.EXPLORE_SPECTRUM, float(cube.wavelength[COLUMN]), 0.0)[0] - box[0]
    cross = colour_mask(image, CROSSHAIR_COLOUR)
    columns = cross.mean(axis=0)
    assert abs(int(np.argmax(columns)) - cross_x) <= 2, "the vertical crosshair is not at the clicked wavelength"
    assert columns.max() > 0.8, "the vertical crosshair does not span the plot"
    assert cross.mean(axis=1).max() > 0.8, "no horizontal crosshair"
    line = colour_mask(image, DATA_COLOUR)
    x_of = lambda w: page_point(dash_duo, ids.EXPLORE_SPECTRUM, float(w), 0.0)[0] - box[0]
    gap = slice(int(x_of(WAVELENGTH[NAN_COLUMNS[0]])) + 3, int(x_of(WAVELENGTH[NAN_COLUMNS[-1]])) - 2)
    data = slice(int(x_of(WAVELENGTH[1])), int(x_of(WAVELENGTH[NAN_COLUMNS[0] - 2])))
    has_line = line.any(axis=0)
    assert has_line[data].mean() > 0.95, "the spectrum is not drawn in its colour where there are data"
    assert not has_line[gap].any(), "a line is drawn across the all-NaN columns"

    image, box = plot_pixels(ids.EXPLORE_LIGHTCURVE)
    cross_x = page_point(dash_duo, ids.EXPLORE_LIGHTCURVE, float(cube.hours[ROW]) * per_hour(dash_duo, ids.EXPLORE_LIGHTCURVE),
                         0.0)[0] - box[0]
    columns = colour_mask(image, CROSSHAIR_COLOUR).mean(axis=0)
    assert abs(int(np.argmax(columns)) - cross_x) <= 2 and columns.max() > 0.8
    assert colour_mask(image, DATA_COLOUR).any(axis=0)[5:-5].mean() > 0.95

    # the band highlight: shaded on the spectrum, its light curve added, still no request
    before = log.count("_dash-update-component")
    dash_duo.driver.execute_script("arguments[0].click();", band_button(dash_duo, BAND))
    wait_until(lambda: graph_js(dash_duo, ids.EXPLORE_LIGHTCURVE, "return gd.data[2].visible === true;"), 10, "the band curve")
    shade = graph_js(dash_duo, ids.EXPLORE_SPECTRUM, "return gd._fullLayout.shapes.filter(function (s) {"
                     " return s.name === 'stamp-band-shade'; }).length;")
    assert shade == 1
    time.sleep(0.3)
    assert log.count("_dash-update-component") == before


def test_box_on_white_light_sets_windows_and_on_spectrum_adds_a_band(dash_duo, small_app):
    app, _ = small_app
    open_on_map(dash_duo, app)
    cube = shown_cube(dash_duo, app)
    click_point(dash_duo, cube, ROW, COLUMN)

    open_tab(dash_duo, "Light curves")
    drawn(dash_duo, ids.LIGHTCURVES, "scatter")
    dash_duo.driver.execute_script("window.scrollTo({top: 0, behavior: 'instant'});")
    graph_js(dash_duo, ids.LIGHTCURVES, "Plotly.relayout(gd, {dragmode: 'select'});")
    settle(dash_duo, 5)
    y_mid = graph_js(dash_duo, ids.LIGHTCURVES, "var r = gd.getBoundingClientRect(), s = gd._fullLayout._size;"
                     "return r.top + s.t + s.h / 2;")

    drawn_per_hour = per_hour(dash_duo, ids.LIGHTCURVES)
    assert drawn_per_hour == 60.0  # minutes on the axis; the windows must still come out in hours

    def box(h0: float, h1: float) -> None:
        drag(dash_duo, (page_point(dash_duo, ids.LIGHTCURVES, h0 * drawn_per_hour, 0)[0], y_mid),
             (page_point(dash_duo, ids.LIGHTCURVES, h1 * drawn_per_hour, 0)[0], y_mid + 40))

    box(0.05, 0.30)
    wait_until(lambda: (store_data(dash_duo, ids.WINDOWS_STORE) or {}).get("baseline"), 10, "the baseline window")
    windows = store_data(dash_duo, ids.WINDOWS_STORE)
    assert windows["baseline"] == [pytest.approx(0.05, abs=0.01), pytest.approx(0.30, abs=0.01)]
    assert windows["in_transit"] is None
    assert float(dash_duo.find_element(f"#{ids.BASELINE_START}").get_attribute("value")) == windows["baseline"][0]
    assert float(dash_duo.find_element(f"#{ids.BASELINE_END}").get_attribute("value")) == windows["baseline"][1]
    said = dash_duo.find_element(f"#{ids.BOX_MESSAGE}").text
    assert "Baseline window set" in said and " h (" in said and " min)" in said, said  # hours, and the drawn minutes

    dash_duo.driver.execute_script("arguments[0].click();", dash_duo.find_element(
        f"#{ids.TIME_BOX_SETS} input[value='in_transit']"))
    box(0.40, 0.70)
    wait_until(lambda: (store_data(dash_duo, ids.WINDOWS_STORE) or {}).get("in_transit"), 10, "the in-transit window")
    windows = store_data(dash_duo, ids.WINDOWS_STORE)
    assert windows["in_transit"] == [pytest.approx(0.40, abs=0.01), pytest.approx(0.70, abs=0.01)]
    assert windows["baseline"][0] == pytest.approx(0.05, abs=0.01), "the baseline was lost"

    dash_duo.driver.execute_script("arguments[0].click();", dash_duo.find_element(
        f"#{ids.TIME_BOX_SETS} input[value='time range']"))
    box(0.20, 0.60)
    wait_until(lambda: dash_duo.find_element(f"#{ids.TIME_MIN}").get_attribute("value"), 10, "the time range")
    assert float(dash_duo.find_element(f"#{ids.TIME_MIN}").get_attribute("value")) == pytest.approx(0.20, abs=0.01)
    assert float(dash_duo.find_element(f"#{ids.TIME_MAX}").get_attribute("value")) == pytest.approx(0.60, abs=0.01)
    assert store_data(dash_duo, ids.WINDOWS_STORE) == windows, "the time range changed a window"

    # a box on the spectrum panel adds a band, which gets its highlight button
    open_tab(dash_duo, "Heatmap")
    panel = dash_duo.find_element(f"#{ids.EXPLORE_SPECTRUM}")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", panel)
    settle(dash_duo, 5)
    y_mid = graph_js(dash_duo, ids.EXPLORE_SPECTRUM, "var r = gd.getBoundingClientRect(), s = gd._fullLayout._size;"
                     "return r.top + s.t + s.h / 2;")
    drag(dash_duo, (page_point(dash_duo, ids.EXPLORE_SPECTRUM, 1.5, 0)[0], y_mid),
         (page_point(dash_duo, ids.EXPLORE_SPECTRUM, 1.8, 0)[0], y_mid + 30))
    wait_until(lambda: "µm added" in dash_duo.find_element(f"#{ids.BOX_MESSAGE}").text, 10, "the band message")
    new = store_data(dash_duo, ids.BAND_TABLE)[-1]  # the table's data
    assert new["start"] == pytest.approx(1.5, abs=0.02) and new["end"] == pytest.approx(1.8, abs=0.02)
    wait_until(lambda: new["name"] in [b.text for b in dash_duo.find_elements(f"#{ids.BAND_BUTTONS} button")],
               20, "the new band's highlight button")


def test_visits_side_by_side_and_the_surface_pick_the_right_row(dash_duo, tmp_path, make_app):
    obs = make_observation(kind="transit", n_integrations=40, wavelength=WAVELENGTH, n_visits=2, visit_gap_hours=10.0,
                           snr=300, seed=5, meta={"target": "Two visits"})
    app, log = make_app(demo_path=write_eureka_s3(tmp_path / "two.h5", obs))
    open_on_map(dash_duo, app)
    cube = shown_cube(dash_duo, app)
    assert graph_js(dash_duo, ids.HEATMAP, "return gd.layout.meta.visits_side_by_side;"), "the visits are not side by side"
    before = log.count("_dash-update-component")
    row = 27  # in visit 2: its panel's y is hours since that visit's start
    first = int(np.flatnonzero(cube.visit == 1)[0])
    target = graph_js(dash_duo, ids.HEATMAP,
        "var r = gd.getBoundingClientRect(), L = gd._fullLayout, t = gd._fullData.filter(function (d) {"
        " return d.meta.visit === 1; })[0], xa = L[t.xaxis.replace('x', 'xaxis')], ya = L[t.yaxis.replace('y', 'yaxis')];"
        "return [r.left + xa._offset + xa.l2p(arguments[1]), r.top + ya._offset + ya.l2p(arguments[2])];",
        float(cube.wavelength[COLUMN]), float(cube.hours[row] - cube.hours[first]) * per_hour(dash_duo, ids.HEATMAP))
    click_at(dash_duo, *target)
    wait_until(lambda: f"row {row + 1} of" in graph_js(dash_duo, ids.EXPLORE_SPECTRUM, "return gd.layout.title.text || '';"),
               10, "the spectrum of a row of visit 2")
    y = _as_array(panel_trace(dash_duo, ids.EXPLORE_SPECTRUM, 1)[1])
    np.testing.assert_allclose(y, cube.flux[row].astype(np.float32), rtol=1e-6, equal_nan=True)
    x, _ = panel_trace(dash_duo, ids.EXPLORE_LIGHTCURVE, 1)
    assert x.count(None) == 1, "the light curve is not broken (once) between the visits"
    assert log.count("_dash-update-component") == before, "a click on visit 2 asked the server"

    # the 3D surface: Plotly's click event on it (picking in software WebGL is not what is tested here)
    open_tab(dash_duo, "3D surface")
    drawn(dash_duo, ids.SURFACE, "surface")
    time.sleep(1.0)  # the tab's own callbacks have run
    before = log.count("_dash-update-component")
    graph_js(dash_duo, ids.SURFACE, "gd.emit('plotly_click', {points: [{curveNumber: 0, pointNumber: [4, 12],"
             " x: arguments[1], y: arguments[2], z: 0}]});", float(cube.wavelength[12]),
             float(cube.hours[4]) * per_hour(dash_duo, ids.SURFACE))
    wait_until(lambda: "column 13 of" in graph_js(dash_duo, ids.EXPLORE_LIGHTCURVE, "return gd.layout.title.text || '';"),
               10, "the light curve of column 13")
    y = _as_array(panel_trace(dash_duo, ids.EXPLORE_SPECTRUM, 1)[1])
    np.testing.assert_allclose(y, cube.flux[4].astype(np.float32), rtol=1e-6, equal_nan=True)
    time.sleep(0.3)
    assert log.count("_dash-update-component") == before, "a pick on the surface asked the server"


def test_heatmap_hover_shows_the_value_and_its_error_sent_once_with_the_exploration(dash_duo, small_app):
    """The errors travel once per result (the exploration's payload), not again as the heatmap's
    customdata (half of a 10k heatmap's answer); the hover still says value ± error, with the unit."""
    app, _ = small_app
    open_on_map(dash_duo, app)
    cube = shown_cube(dash_duo, app)
    assert graph_js(dash_duo, ids.HEATMAP, "return gd.data.every(function (t) {"
                    " return t.meta && Array.isArray(t.meta.error_rows); });")
    payload_unit = store_data(dash_duo, ids.EXPLORE_DATA)["unit"]
    assert payload_unit
    dash_duo.driver.execute_script("document.querySelector('#' + arguments[0]).scrollIntoView({block: 'start', behavior: 'instant'});",
                                   ids.HEATMAP)
    settle(dash_duo)
    for row, column in ((ROW, COLUMN), (5, 30)):
        x, y = page_point(dash_duo, ids.HEATMAP, float(cube.wavelength[column]), float(cube.hours[row]))
        action = ActionBuilder(dash_duo.driver)
        action.pointer_action.move_to_location(round(x) + 3, round(y) + 3).move_to_location(round(x), round(y))
        action.perform()
        text = wait_until(lambda: dash_duo.driver.execute_script(
            "var t = document.querySelector('#' + arguments[0] + ' .hoverlayer .hovertext');"
            "return t ? t.textContent : '';", ids.HEATMAP), 10, "the heatmap's hover label")
        assert f"{cube.wavelength[column]:.4f}" in text, text
        assert "±" in text, text
        error = float(text.split("±")[1].split()[0].replace("−", "-"))
        assert error == pytest.approx(float(cube.error[row, column]), rel=5e-3), (text, cube.error[row, column])
        assert text.split("±")[1].split()[1].startswith(payload_unit), (text, payload_unit)


#: Installed before the page's scripts: records when the exploration's payload is asked for and
#: when the first heatmap figure arrived, and holds the payload's answer until released.
_EXPLORE_REQUESTS_JS = r"""
(function () {
  var plain = window.fetch, held = [];
  var seen = window.__stampExploreSeen = {asked: [], heatmapAnswered: null};
  window.__stampReleaseExplore = function () { seen.released = true; held.splice(0).forEach(function (go) { go(); }); };
  window.fetch = function (input, init) {
    var body = init && typeof init.body === 'string' ? init.body : '';
    var output = (/"output":"([^"]*)"/.exec(body.slice(0, 4000)) || [])[1] || '';
    if (output.indexOf('explore-data.data') >= 0) {
      seen.asked.push(performance.now());
      var self = this, args = arguments;
      if (seen.hold && !seen.released) {
        return new Promise(function (resolve, reject) {
          held.push(function () { plain.apply(self, args).then(resolve, reject); });
        });
      }
    }
    var answer = plain.apply(this, arguments);
    if (output.indexOf('heatmap-graph.figure') >= 0 && seen.heatmapAnswered === null) {
      answer.then(function (response) {
        return response.clone().text().then(function () {
          if (seen.heatmapAnswered === null) { seen.heatmapAnswered = performance.now(); }
        });
      });
    }
    return answer;
  };
})();
"""


def _watch_explore_requests(duo, hold: bool) -> None:
    duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {
        "source": _EXPLORE_REQUESTS_JS + ("window.__stampExploreSeen.hold = true;" if hold else "")})


def _explore_seen(duo) -> dict:
    return duo.driver.execute_script("return window.__stampExploreSeen;")


def test_the_exploration_data_are_asked_for_after_the_first_view_is_drawn_not_with_it(dash_duo, small_app):
    app, _ = small_app
    _watch_explore_requests(dash_duo, hold=False)
    open_page(dash_duo, app, "heatmap")
    drawn(dash_duo, ids.HEATMAP, "heatmap")
    seen = wait_until(lambda: (s := _explore_seen(dash_duo)) and s["asked"] and s, 30, "the exploration's request")
    assert seen["heatmapAnswered"] is not None
    # No pointer came onto the map: the page asked once it had been idle (≥ 0.5 s after the map's figure came).
    assert seen["asked"][0] - seen["heatmapAnswered"] >= 450, seen
    assert len(seen["asked"]) == 1, seen
    wait_until(lambda: store_data(dash_duo, ids.EXPLORE_DATA), 30, "the exploration's payload")


def test_a_click_made_before_the_exploration_data_came_is_answered_when_they_come(dash_duo, small_app):
    app, _ = small_app
    _watch_explore_requests(dash_duo, hold=True)
    open_page(dash_duo, app, "heatmap")
    drawn(dash_duo, ids.HEATMAP, "heatmap")
    wait_until(lambda: _explore_seen(dash_duo)["asked"], 30, "the exploration's request")
    dash_duo.driver.execute_script("window.scrollTo({top: 0, behavior: 'instant'});")
    settle(dash_duo)
    cube = shown_cube(dash_duo, app)
    click_at(dash_duo, *page_point(dash_duo, ids.HEATMAP, float(cube.wavelength[COLUMN]),
                                   float(cube.hours[ROW]) * per_hour(dash_duo, ids.HEATMAP)))
    time.sleep(0.5)
    assert store_data(dash_duo, ids.EXPLORE_DATA) is None, "the payload came although it was held"
    assert store_data(dash_duo, ids.EXPLORE_POINT) is None
    dash_duo.driver.execute_script("window.__stampReleaseExplore();")
    point = wait_until(lambda: store_data(dash_duo, ids.EXPLORE_POINT), 30, "the click's point")
    assert (point["row"], point["column"]) == (ROW, COLUMN)
    wait_until(lambda: f"row {ROW + 1} of" in graph_js(dash_duo, ids.EXPLORE_SPECTRUM, "return gd.layout.title.text || '';"),
               10, f"the spectrum of row {ROW + 1}")
