"""The page's first view: the heatmap drawn once, asked for one round trip after the result.

On page open the heatmap callback waits for the bands (its BANDS input), which are made from the
band rows refitted to the new data.  Rows and bands used to come from two callbacks in turn (two
server round trips between the result and the heatmap request); now one.
"""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.keys import Keys

from dashboard import ids
from dashboard.features import job

from tests.browser.test_dashboard_browser import wait_for_traces, wait_until

pytestmark = pytest.mark.browser

#: Installed before the page's scripts: records each Dash callback request (its outputs, when it was
#: sent and when its answer arrived) and counts the drawings of a heatmap figure into the heatmap
#: graph (Plotly.react / newPlot calls, as dcc.Graph makes them).
_RECORD_JS = """
window.__stamp = {requests: [], heatmapDraws: 0};
var plainFetch = window.fetch;
window.fetch = function (input, init) {
  var url = typeof input === 'string' ? input : (input && input.url) || '';
  var body = init && typeof init.body === 'string' ? init.body : '';
  var promise = plainFetch.apply(this, arguments);
  if (url.indexOf('_dash-update-component') >= 0) {
    var record = {output: '', sent: performance.now(), answered: null};
    try { record.output = JSON.parse(body).output; } catch (e) {}
    window.__stamp.requests.push(record);
    promise.then(function () { record.answered = performance.now(); });
  }
  return promise;
};
function count(plotly) {
  if (!plotly || plotly.__stampCounted) { return; }
  plotly.__stampCounted = true;
  ['react', 'newPlot'].forEach(function (name) {
    var plain = plotly[name];
    plotly[name] = function (gd, data) {
      var traces = data && data.data ? data.data : data;
      var div = typeof gd === 'string' ? document.getElementById(gd) : gd;
      if (div && div.closest && div.closest('#heatmap-graph') && Array.isArray(traces) && traces.length &&
          traces[0].type === 'heatmap') { window.__stamp.heatmapDraws += 1; }
      return plain.apply(this, arguments);
    };
  });
}
/* wrapped the moment plotly.js defines window.Plotly: polling for it could miss a first draw made
   within one poll of its loading (seen on a loaded CI machine: 0 draws counted) */
var plotlyObject;
Object.defineProperty(window, 'Plotly', {
  configurable: true,
  get: function () { return plotlyObject; },
  set: function (value) { count(value); plotlyObject = value; },
});
"""


def test_page_open_asks_for_the_heatmap_one_round_trip_after_the_result_and_draws_it_once(dash_duo, make_app,
                                                                                          monkeypatch):
    # the first visit is a background job (as for data too large for a plain request), which fills the cube cache
    monkeypatch.setattr(job, "PLAIN_REQUEST_MAX_BYTES", 0)
    app, _ = make_app()
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _RECORD_JS})
    for visit in range(2):  # the first fills the cube cache (a background job); the second is the usual open
        if visit:
            dash_duo.driver.refresh()
        else:
            dash_duo.server_url = dash_duo.server.url
        wait_for_traces(dash_duo, ids.HEATMAP, "heatmap")
        wait_until(lambda: dash_duo.find_element(f"#{ids.PROCESS}").get_attribute("disabled") is None,
                   what="Process enabled")
        time.sleep(2.0)  # anything still on its way
        state = dash_duo.driver.execute_script("return window.__stamp;")
        assert state["heatmapDraws"] == 1, (visit, state["heatmapDraws"])
    requests = state["requests"]
    result = next(r for r in requests if f"{ids.RESULT}.data" in r["output"])
    heatmap = next(r for r in requests if f"{ids.HEATMAP}.figure" in r["output"])
    # the requests answered between the result and the heatmap request that make the band rows or bands
    between = [r["output"] for r in requests
               if r["sent"] >= result["answered"] and r["answered"] is not None and r["answered"] <= heatmap["sent"]
               and (f"{ids.BAND_TABLE}.data" in r["output"] or f"{ids.BANDS}.data" in r["output"])]
    # the heatmap comes in the result's own answer (the page's bands already fit the data), or
    # is asked for once the one band request has answered
    assert (heatmap is result and not between) or len(between) == 1, between


def test_page_open_asks_the_server_nothing_the_layout_or_the_page_already_knows(dash_duo, make_app):
    """On page open, each Dash answer costs a round trip and a pass of the renderer over every
    component; the controls' first states (baseline window and normalization enabled or not,
    the colour range's checks) are drawn with the layout, and the element picker's value is set
    only when it changes, which would otherwise start a request that changes nothing; what a result
    changes in the controls comes in one answer."""
    app, _ = make_app()
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _RECORD_JS})
    dash_duo.server_url = dash_duo.server.url
    wait_for_traces(dash_duo, ids.HEATMAP, "heatmap")
    wait_until(lambda: dash_duo.find_element(f"#{ids.PROCESS}").get_attribute("disabled") is None, what="Process enabled")
    time.sleep(2.0)  # anything still on its way
    outputs = [r["output"] for r in dash_duo.driver.execute_script("return window.__stamp.requests;")]
    assert not [o for o in outputs if f"{ids.BASELINE_START}.disabled" in o or f"{ids.Z_MIN}.invalid" in o], outputs
    assert not [o for o in outputs if o.startswith(f"{ids.DATASET}.data") and ".." not in o], outputs  # choose_element
    # the sidebar's label and the summary card come in the job's own answer
    assert not [o for o in outputs if o in (f"{ids.DATASET_LABEL}.children", f"{ids.SUMMARY}.children")], outputs
    assert "Demo" in dash_duo.find_element(f"#{ids.DATASET_LABEL}").text
    assert "integrations" in dash_duo.find_element(f"#{ids.SUMMARY}").text.lower()
    # the element picker and the options' checks against the data come in one answer
    assert len([o for o in outputs if f"{ids.ELEMENT}.options" in o or f"{ids.N_INTEGRATIONS}.invalid" in o]) == 1, outputs
    # the layout's first states are the callbacks' own: variability with the median, so no baseline window
    disabled = {c: dash_duo.find_element(f"#{c}").get_attribute("disabled") is not None
                for c in (ids.BASELINE_START, ids.BASELINE_END, ids.NORMALIZATION)}
    assert disabled == {ids.BASELINE_START: True, ids.BASELINE_END: True, ids.NORMALIZATION: False}, disabled
    assert dash_duo.find_element(f"#{ids.DISPLAY_MESSAGE}").text == ""
    # and they still follow the controls
    dash_duo.driver.execute_script(
        "const s = document.getElementById(arguments[0]); const set = Object.getOwnPropertyDescriptor("
        "HTMLSelectElement.prototype, 'value').set; set.call(s, 'baseline');"
        "s.dispatchEvent(new Event('change', {bubbles: true}));", ids.NORMALIZATION)
    wait_until(lambda: dash_duo.find_element(f"#{ids.BASELINE_START}").get_attribute("disabled") is None,
               what="the baseline window enabled by the baseline normalization")
    dash_duo.find_element(f"#{ids.Z_MIN}").send_keys("5", Keys.ENTER)
    dash_duo.find_element(f"#{ids.Z_MAX}").send_keys("-5", Keys.ENTER)
    wait_until(lambda: "is-invalid" in dash_duo.find_element(f"#{ids.Z_MIN}").get_attribute("class"),
               what="a colour range with min above max flagged")


_RESOURCES_JS = """
return performance.getEntriesByType('resource').map(function (r) {
  return {name: r.name, start: r.startTime, end: r.responseEnd};
});
"""


def test_plotly_js_is_fetched_once_while_the_page_waits_for_its_layout(dash_duo, make_app):
    """plotly.js (4.8 MB, ~0.6 s to run) starts loading with the page's scripts, not after the first graph."""
    app, _ = make_app()
    dash_duo.start_server(app, navigate=False)
    dash_duo.server_url = dash_duo.server.url
    wait_for_traces(dash_duo, ids.HEATMAP, "heatmap")
    resources = dash_duo.driver.execute_script(_RESOURCES_JS)
    plotly = [r for r in resources if r["name"].split("?")[0].endswith("/plotly.min.js")]
    layout = [r for r in resources if r["name"].split("?")[0].endswith("/_dash-layout")]
    assert len(plotly) == 1 and len(layout) == 1, (plotly, layout)
    assert plotly[0]["start"] < layout[0]["start"], (plotly, layout)
    # and the graphs are drawn with it: the heatmap is there, in colour
    assert dash_duo.driver.execute_script("return typeof window.Plotly.react;") == "function"
    assert dash_duo.get_logs() == []


def test_the_page_layout_is_small_and_its_blank_graphs_are_plain(make_app):
    """What Dash ships on first load: the layout's ten blank graphs carried 7 kB of plotly_white each
    (115 kB in all) and each took ~40 ms to build as a validated go.Figure."""
    import json

    app, _ = make_app()
    client = app.server.test_client()
    client.get("/")
    layout = client.get("/_dash-layout").get_data()
    assert len(layout) < 70_000, len(layout)
    figures = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "Graph":
                figures.append(node["props"].get("figure"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(layout))
    assert len(figures) >= 10
    for figure in figures:
        assert figure["data"] == [] and len(json.dumps(figure)) < 1_000, figure


def test_the_page_html_carries_only_the_ids_callbacks_are_checked_against(make_app):
    """Dash writes the validation layout into every page's HTML: as the whole page with its props it
    was 55 kB (59 kB of HTML) and ~0.1 s of JSON encoding per page load; the ids are what counts."""
    import json
    import re

    app, _ = make_app()
    client = app.server.test_client()
    html = client.get("/").get_data(as_text=True)
    assert len(html) < 30_000, len(html)
    config = json.loads(re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', html, re.S).group(1))
    bare = config["validation_layout"]["props"]["children"]
    extra = [n["props"] for n in bare if {k for k, v in n["props"].items() if v is not None} != {"id"}]
    assert not extra, extra[:3]
    checked = {json.dumps(node["props"]["id"], sort_keys=True) for node in bare}
    shown = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("props"), dict) and node["props"].get("id") is not None:
                shown.add(json.dumps(node["props"]["id"], sort_keys=True))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(client.get("/_dash-layout").get_data()))
    assert shown and shown <= checked, sorted(shown - checked)[:5]
    # and the science panes' controls, mounted only when a science tab is first opened
    assert json.dumps(ids.CHANNELS_BIN) not in shown and json.dumps(ids.CHANNELS_BIN) in checked


#: The views on tabs the page does not open on.
HIDDEN_VIEWS = (ids.SURFACE, ids.LIGHTCURVES, ids.SPECTRUM, ids.CHANNELS_GRAPH, ids.DEPTH_GRAPH, ids.PERIODOGRAM_GRAPH)


def test_hidden_views_are_not_asked_for_until_their_tab_opens_and_then_draw(dash_duo, make_app):
    """Each hidden view's callback was asked on every new result (and band edit) to answer "nothing":
    six requests after page open, in the browser's time before the page is usable."""
    from tests.browser.test_highlight_browser import open_tab

    app, _ = make_app()
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _RECORD_JS})
    dash_duo.server_url = dash_duo.server.url
    wait_for_traces(dash_duo, ids.HEATMAP, "heatmap")
    time.sleep(2.0)  # anything still on its way

    def asked(graph: str) -> int:
        outputs = [r["output"] for r in dash_duo.driver.execute_script("return window.__stamp.requests;")]
        return sum(f"{graph}.figure" in [part.split("@")[0] for part in output.strip(".").split("...")]
                   for output in outputs)

    assert [asked(graph) for graph in HIDDEN_VIEWS] == [0] * len(HIDDEN_VIEWS)
    assert dash_duo.driver.execute_script("return window.__stamp.heatmapDraws;") == 1
    # opening a tab asks for its view once, and it draws
    open_tab(dash_duo, "Light curves")
    wait_for_traces(dash_duo, ids.LIGHTCURVES, "scatter")
    assert asked(ids.LIGHTCURVES) == 1 and asked(ids.SURFACE) == 0
    assert dash_duo.get_logs() == []
