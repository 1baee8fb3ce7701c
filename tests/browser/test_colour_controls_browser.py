"""The display controls of the dashboard in headless Chromium: the colour range follows the Z axis."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.keys import Keys

from dashboard import ids

from tests.browser.test_dashboard_browser import wait_for_traces, wait_until

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
