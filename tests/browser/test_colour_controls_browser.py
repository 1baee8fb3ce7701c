"""The display controls of the dashboard in headless Chromium: the colour range follows the Z axis."""

from __future__ import annotations

import time

import numpy as np
import pytest
from selenium.webdriver.common.keys import Keys

import stamp_engine
from dashboard import ids

from tests.browser.test_dashboard_browser import wait_for_explore_payload, wait_for_traces, wait_until

pytestmark = pytest.mark.browser

COLOURAXIS_JS = """
var gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
return gd && gd.layout && gd.layout.coloraxis ? [gd.layout.coloraxis.cmin, gd.layout.coloraxis.cmax] : null;
"""


def _type(duo, control: str, value: str) -> None:
    box = duo.find_element(f"#{control}")
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
    box.clear()
    box.send_keys(value, Keys.TAB)  # debounced inputs report on blur


def test_switching_the_z_axis_resets_a_manual_colour_range(dash_duo, make_app):
    app, _ = make_app()
    dash_duo.start_server(app, navigate=False)
    dash_duo.server_url = dash_duo.server.url.rstrip("/") + "/?view=heatmap"
    wait_for_traces(dash_duo, ids.HEATMAP, "heatmap")
    assert dash_duo.find_element(f"#{ids.STRETCH}").get_attribute("disabled") is not None  # variability: linear only
    _type(dash_duo, ids.Z_MIN, "-1")
    _type(dash_duo, ids.Z_MAX, "1")
    wait_until(lambda: dash_duo.driver.execute_script(COLOURAXIS_JS, ids.HEATMAP) == [-1, 1], what="the manual range")
    # a -1…1 range would make a flat map of mJy: choosing raw flux empties the range
    flux = dash_duo.find_element(f"#{ids.ZAXIS} input[value=flux]")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", flux)
    wait_until(lambda: dash_duo.find_element(f"#{ids.Z_MIN}").get_attribute("value") == ""
               and dash_duo.find_element(f"#{ids.Z_MAX}").get_attribute("value") == "", timeout=20,
               what="the colour range to be reset")
    assert dash_duo.find_element(f"#{ids.STRETCH}").get_attribute("disabled") is None  # raw flux may be stretched
    wait_until(lambda: (dash_duo.driver.execute_script(COLOURAXIS_JS, ids.HEATMAP) or [-1])[0] != -1,
               what="the heatmap to drop the manual range")


#: Counts the Dash callback requests that would bring a graph a new figure.
_COUNT_FIGURE_REQUESTS_JS = """
window.__figureRequests = 0;
var plainFetch = window.fetch;
window.fetch = function (input, init) {
  var url = typeof input === 'string' ? input : (input && input.url) || '';
  var body = init && typeof init.body === 'string' ? init.body : '';
  if (url.indexOf('_dash-update-component') >= 0 && /-graph\\.figure/.test(body)) { window.__figureRequests += 1; }
  return plainFetch.apply(this, arguments);
};
"""

_HEATMAP_COLOURS_JS = """
var gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
var axis = gd && gd._fullLayout && gd._fullLayout.coloraxis;
return axis ? {first: axis.colorscale[0][1], last: axis.colorscale[axis.colorscale.length - 1][1],
               range: [axis.cmin, axis.cmax]} : null;
"""


def _choose(duo, control: str, value: str) -> None:
    """Choose ``value`` in a dbc.Select (a native <select>) as a user does: React sees a change event."""
    duo.driver.execute_script(
        "var el = document.getElementById(arguments[0]);"
        "Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value').set.call(el, arguments[1]);"
        "el.dispatchEvent(new Event('change', {bubbles: true}));", control, value)


def _map_pixels(duo):
    from tests.helpers import pixels

    image = pixels.screenshot(duo.driver)
    left, top, right, bottom = pixels.element_box(duo.driver, f"#{ids.HEATMAP} .nsewdrag")
    return pixels.crop(image, (left + 4, top + 4, right - 4, bottom - 4))


def _rgb(colour: str):
    import numpy as np

    import plotly.colors as pcolors

    rgb = pcolors.hex_to_rgb(colour) if colour.startswith("#") else pcolors.unlabel_rgb(colour)
    return np.array(rgb[:3], dtype=float)


def test_colour_scale_and_range_recolour_the_heatmap_in_the_browser_without_a_new_figure(dash_duo, make_app):
    import numpy as np

    from stamp_engine.figures import colorscale

    app, _ = make_app()
    dash_duo.start_server(app, navigate=False)
    dash_duo.server_url = dash_duo.server.url.rstrip("/") + "/?view=heatmap"
    wait_for_traces(dash_duo, ids.HEATMAP, "heatmap")
    wait_until(lambda: dash_duo.driver.execute_script(_HEATMAP_COLOURS_JS, ids.HEATMAP), what="the heatmap colour axis")
    wait_for_explore_payload(dash_duo)  # its request brings the panels' figures; the count starts after it
    before = _map_pixels(dash_duo)
    dash_duo.driver.execute_script(_COUNT_FIGURE_REQUESTS_JS)

    _choose(dash_duo, ids.COLORSCALE, "Viridis")
    viridis = colorscale("Viridis")
    wait_until(lambda: (dash_duo.driver.execute_script(_HEATMAP_COLOURS_JS, ids.HEATMAP) or {}).get("first")
               == viridis[0][1], what="the heatmap in Viridis")
    time.sleep(0.5)  # the relayout's repaint
    after = _map_pixels(dash_duo)
    # the picture changed, and its colours are Viridis's (not the diverging default's reds and blues)
    stops = np.array([_rgb(c) for _, c in viridis])
    distance = np.sqrt(((after.reshape(-1, 1, 3).astype(float) - stops[None]) ** 2).sum(-1)).min(axis=1)
    assert np.median(distance) < 40, np.median(distance)
    assert np.abs(after.astype(float) - before.astype(float)).mean() > 20

    # a narrower range saturates more of the map at the scale's ends
    _type(dash_duo, ids.Z_MIN, "-0.05")
    _type(dash_duo, ids.Z_MAX, "0.05")
    wait_until(lambda: (dash_duo.driver.execute_script(_HEATMAP_COLOURS_JS, ids.HEATMAP) or {}).get("range")
               == [-0.05, 0.05], what="the narrow colour range")
    time.sleep(0.5)
    narrow = _map_pixels(dash_duo)
    ends = np.array([_rgb(viridis[0][1]), _rgb(viridis[-1][1])])

    def at_ends(image):
        d = np.sqrt(((image.reshape(-1, 1, 3).astype(float) - ends[None]) ** 2).sum(-1)).min(axis=1)
        return float(np.mean(d < 30))

    assert at_ends(narrow) > at_ends(after) + 0.2, (at_ends(narrow), at_ends(after))
    assert dash_duo.driver.execute_script("return window.__figureRequests;") == 0


def test_a_colour_scale_chosen_on_the_surface_tab_is_drawn_by_the_server_and_followed_by_the_heatmap(dash_duo, make_app):
    from stamp_engine.figures import colorscale

    app, _ = make_app(display_max_time=60, display_max_wavelength=60)  # a small surface: fast in software WebGL
    dash_duo.start_server(app, navigate=False)
    dash_duo.server_url = dash_duo.server.url.rstrip("/") + "/?view=surface"
    wait_for_traces(dash_duo, ids.SURFACE, "surface")
    first = colorscale("Viridis")[0][1]
    _choose(dash_duo, ids.COLORSCALE, "Viridis")
    wait_until(lambda: (dash_duo.driver.execute_script(_HEATMAP_COLOURS_JS, ids.SURFACE) or {}).get("first") == first,
               what="the surface in Viridis")
    # the heatmap was hidden: it gets the scale when its tab is opened
    dash_duo.find_element(f"#{ids.TABS}").find_element("link text", "Heatmap").click()
    wait_until(lambda: (dash_duo.driver.execute_script(_HEATMAP_COLOURS_JS, ids.HEATMAP) or {}).get("first") == first,
               what="the heatmap in Viridis")


def _load_with_nan_cells(paths, progress=None, **options):
    """stamp_engine.load, then a block of NaN cells (a module-level function: the job process unpickles it)."""
    cube = stamp_engine.load(paths, progress=progress, **options)
    flux = cube.flux.copy()
    flux[5:9, 10:14] = np.nan
    return cube.replace(flux=flux)


#: Counts canvas fillRect calls: plotly.js paints an unsmoothed heatmap one fillRect per cell.
_COUNT_FILL_RECTS_JS = """
window.__fillRects = 0;
var plainFillRect = CanvasRenderingContext2D.prototype.fillRect;
CanvasRenderingContext2D.prototype.fillRect = function () { window.__fillRects += 1; return plainFillRect.apply(this, arguments); };
"""


def test_the_browser_recolours_the_heatmap_as_plotly_would_draw_it_without_redrawing_every_cell(dash_duo, make_app, tmp_path):
    """A colour range typed on the heatmap: no cell redrawn by plotly.js (no fillRect), 0 at the diverging
    scale's centre colour (read from the colour bar), the scale Python's centred_colorscale gives, and
    the same picture plotly.js draws for that colour axis from scratch."""
    from stamp_engine.colour import centred_colorscale
    from stamp_engine.synthetic import make_observation
    from stamp_engine.synthetic.x1dints import write_segments
    from stamp_engine.figures import colorscale
    from tests.helpers import pixels

    # the awkward map: wavelengths not evenly spaced (plotly.js then paints cell by cell), a time gap
    # (an empty row), NaN cells (transparent: the gap colour shows through)
    root = tmp_path / "data"
    root.mkdir()
    obs = make_observation(kind="variability", n_integrations=80, wavelength=np.geomspace(0.8, 5.0, 70), seed=3)
    obs.time_bjd_tdb[40:] += 1.0 / 24.0  # an hour's gap
    name = write_segments(root, obs, 1)[0].relative_to(root).as_posix()

    app, _ = make_app(loader=_load_with_nan_cells, data_dir=root, demo_path=None)
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.get(dash_duo.server.url.rstrip("/") + f"/?data=server&file={name}&view=heatmap")
    wait_for_traces(dash_duo, ids.HEATMAP, "heatmap")
    wait_until(lambda: dash_duo.driver.execute_script(_HEATMAP_COLOURS_JS, ids.HEATMAP), what="the heatmap colour axis")
    wait_until(lambda: not dash_duo.find_element(f"#{ids.PROCESS}").get_attribute("disabled"), what="the job's end")
    time.sleep(1.0)
    dash_duo.driver.execute_script(_COUNT_FILL_RECTS_JS)
    dash_duo.driver.execute_script(_COUNT_FIGURE_REQUESTS_JS)
    low, high = -0.3, 0.9  # asymmetric: 0 at a quarter of the bar
    _type(dash_duo, ids.Z_MIN, str(low))
    _type(dash_duo, ids.Z_MAX, str(high))
    wait_until(lambda: (dash_duo.driver.execute_script(_HEATMAP_COLOURS_JS, ids.HEATMAP) or {}).get("range")
               == [low, high], what="the typed colour range")
    time.sleep(0.5)
    assert dash_duo.driver.execute_script("return window.__fillRects;") == 0  # plotly.js painted no cell
    assert dash_duo.driver.execute_script("return window.__figureRequests;") == 0

    drawn = dash_duo.driver.execute_script(
        "var gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot'); return gd._fullLayout.coloraxis.colorscale;",
        ids.HEATMAP)
    expected = centred_colorscale(colorscale("RdBu_r"), low, high)
    assert [c for _, c in drawn] == [c for _, c in expected]
    assert np.allclose([p for p, _ in drawn], [p for p, _ in expected], atol=1e-12)

    image = pixels.screenshot(dash_duo.driver)
    left, top, right, bottom = pixels.element_box(dash_duo.driver, f"#{ids.HEATMAP} .colorbar .cbfill")
    at_zero = bottom - (0.0 - low) / (high - low) * (bottom - top)
    centre = image[int(round(at_zero)) - 1:int(round(at_zero)) + 2, int(left + 3):int(right - 3)].reshape(-1, 3)
    assert np.abs(centre.astype(float) - 247).max() <= 6, centre.mean(axis=0)  # RdBu_r's white at 0

    def plot_area(picture):
        box = pixels.element_box(dash_duo.driver, f"#{ids.HEATMAP} .nsewdrag")
        return pixels.crop(picture, (box[0] + 1, box[1] + 1, box[2] - 1, box[3] - 1)).astype(float)

    repainted = plot_area(image)
    # plotly.js from scratch, on the same layout (now holding the typed colour axis)
    dash_duo.driver.execute_async_script("""
        var done = arguments[arguments.length - 1];
        var gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
        Plotly.newPlot(gd, gd.data, gd.layout, gd._context).then(function () {
          requestAnimationFrame(function () { setTimeout(done, 300); }); });""", ids.HEATMAP)
    assert dash_duo.driver.execute_script("return window.__fillRects;") > 1000  # plotly.js did paint cells now
    reference = plot_area(pixels.screenshot(dash_duo.driver))
    assert repainted.shape == reference.shape
    difference = np.abs(repainted - reference).max(axis=-1)
    assert float(np.mean(difference <= 2)) > 0.995, float(np.mean(difference <= 2))
    assert np.abs(repainted - repainted.mean(axis=(0, 1))).mean() > 5  # a picture, not a flat colour
