"""The page's first view in headless Chromium: the heatmap of the demo, drawn without a background job.

Opening the page on data already loaded in the cube cache, or on small data, must not wait for a
background-job worker (its start and progress polls cost seconds before anything is drawn), and
the views the first view does not show (the 3D surface: seconds in software WebGL) are not built
at all until their tab is opened.
"""

from __future__ import annotations

import pytest

from dashboard import ids
from dashboard.features import job
from tests.helpers import pixels

from tests.browser.test_dashboard_browser import wait_for_traces, wait_until

pytestmark = pytest.mark.browser

#: Installed before the page's scripts: counts background-job requests (Dash adds a
#: ``cacheKey`` to those and to their progress polls) and the graphs' figure requests.
_COUNT_REQUESTS_JS = """
window.__stampRequests = {background: 0, figures: {}};
var plainFetch = window.fetch;
window.fetch = function (input, init) {
  var url = typeof input === 'string' ? input : (input && input.url) || '';
  if (url.indexOf('_dash-update-component') >= 0) {
    if (url.indexOf('cacheKey=') >= 0 || url.indexOf('job=') >= 0) { window.__stampRequests.background += 1; }
    var body = init && typeof init.body === 'string' ? init.body : '';
    var graph = /([a-z]+-graph)\\.figure/.exec(body);
    if (graph) { window.__stampRequests.figures[graph[1]] = (window.__stampRequests.figures[graph[1]] || 0) + 1; }
  }
  return plainFetch.apply(this, arguments);
};
"""

#: Surface traces drawn in a graph: 0 for a graph not drawn yet (a hidden tab's graph is drawn
#: when its tab is first shown), -1 when the graph is not on the page.
_SURFACE_TRACES_JS = """
if (!document.getElementById(arguments[0])) { return -1; }
var gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');  /* plotly.js marks a drawn graph */
return (gd && gd.data || []).filter(function (t) { return t.type === 'surface'; }).length;
"""


def _open_page(dash_duo, app) -> None:
    """Serve ``app`` and open its page with the request counter installed (on the heatmap tab)."""
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _COUNT_REQUESTS_JS})
    dash_duo.server_url = dash_duo.server.url


def _wait_for_view(dash_duo) -> dict:
    """Wait for the heatmap and an enabled Process button; the requests counted so far."""
    wait_for_traces(dash_duo, ids.HEATMAP, "heatmap")
    wait_until(lambda: dash_duo.find_element(f"#{ids.PROCESS}").get_attribute("disabled") is None,
               what="Process enabled")
    return dash_duo.driver.execute_script("return window.__stampRequests;")


def _heatmap_coloured(dash_duo) -> float:
    image = pixels.screenshot(dash_duo.driver)
    return pixels.coloured_fraction(pixels.crop(image, pixels.element_box(dash_duo.driver, f"#{ids.HEATMAP} .nsewdrag")),
                                    0.15)


def test_a_small_first_view_needs_no_background_job_even_on_a_fresh_server(dash_duo, make_app):
    app, _ = make_app()  # the shipped demo: 1.2 MB
    _open_page(dash_duo, app)
    requests = _wait_for_view(dash_duo)
    assert requests["background"] == 0, requests
    assert _heatmap_coloured(dash_duo) > 0.3


def test_first_view_is_the_heatmap_drawn_without_a_background_job_and_without_the_surface(dash_duo, make_app,
                                                                                           monkeypatch):
    monkeypatch.setattr(job, "PLAIN_REQUEST_MAX_BYTES", 0)  # the demo is then "large": a first read is a job
    app, _ = make_app()
    _open_page(dash_duo, app)
    # the first page on a fresh server reads the demo: a background job, with progress and Cancel
    assert _wait_for_view(dash_duo)["background"] > 0
    # every later page finds it loaded in the cube cache: no background job
    dash_duo.driver.refresh()
    requests = _wait_for_view(dash_duo)
    assert requests["background"] == 0, requests
    # the heatmap is in colour; the surface was never built (not asked for, no surface trace drawn)
    assert ids.SURFACE not in requests["figures"], requests
    assert _heatmap_coloured(dash_duo) > 0.3
    assert dash_duo.driver.execute_script(_SURFACE_TRACES_JS, ids.SURFACE) == 0
    assert dash_duo.find_element(f"#{ids.PROGRESS_TEXT}").text == "Ready"

    # Process still runs as a background job, and the view follows it
    dash_duo.driver.execute_script("window.__stampRequests.background = 0;")
    button = dash_duo.find_element(f"#{ids.PROCESS}")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", button)
    wait_until(lambda: dash_duo.driver.execute_script("return window.__stampRequests.background;") > 0,
               what="the background job")
    wait_until(lambda: dash_duo.find_element(f"#{ids.PROCESS}").get_attribute("disabled") is None,
               what="the job to end")
    wait_for_traces(dash_duo, ids.HEATMAP, "heatmap")
    assert dash_duo.driver.execute_script(_SURFACE_TRACES_JS, ids.SURFACE) == 0
