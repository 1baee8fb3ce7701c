"""Opening data sends the heatmap once, in the answer that carries the job's result, and draws it once.

    python -m pytest tests/browser/test_one_heatmap_per_open_browser.py --headless -q

Every open path: a small file (a plain request), the same file again (from the cube cache) and
a file read by the background job.  The file is a MIRI LRS exposure (5–12 µm), so the page's
near-infrared preset is refitted to it: the bands change with the result, which used to send
the heatmap one round trip later (small file), or twice (the drawn signature of the heatmap sent
with the result did not match the one its callback computed from the page's copy of the same
values: JavaScript gives a whole float back as an integer).
"""

from __future__ import annotations

import time

import pytest

from dashboard import ids
from dashboard.features import job
from stamp_engine.synthetic.x1dints import make_mode_observation, write_segments

from tests.browser import test_first_view_draws_browser as first_view_draws
from tests.browser.test_dashboard_browser import wait_for_traces, wait_until

pytestmark = pytest.mark.browser

#: Installed before the page's scripts: test_first_view_draws_browser's record (the drawings of a
#: heatmap figure into the heatmap graph), and, for each Dash answer carrying a heatmap figure with
#: traces, the outputs it carried.
_RECORD_JS = first_view_draws._RECORD_JS + """
window.__stamp.heatmapAnswers = [];
var recordedFetch = window.fetch;
window.fetch = function (input, init) {
  var url = typeof input === 'string' ? input : (input && input.url) || '';
  var promise = recordedFetch.apply(this, arguments);
  if (url.indexOf('_dash-update-component') >= 0) {
    promise.then(function (response) {
      response.clone().text().then(function (text) {
        var answer;
        try { answer = JSON.parse(text).response || {}; } catch (e) { return; }
        var graph = answer['heatmap-graph'];
        if (graph && graph.figure && graph.figure.data && graph.figure.data.length) {
          window.__stamp.heatmapAnswers.push(Object.keys(answer).sort());
        }
      });
    });
  }
  return promise;
};
"""


@pytest.fixture
def miri_folder(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    cube, extra = make_mode_observation("miri_lrs", 40, n_wavelengths=60, snr=300, kind="variability")
    paths = write_segments(root, cube, 1, extra_spectra=extra)
    return root, [p.relative_to(root).as_posix() for p in paths]


def _open_by_link(duo, files: list[str]) -> dict:
    """Open the page on ``files`` (a link); wait for its heatmap and for the page to settle."""
    duo.driver.get(duo.server.url.rstrip("/") + "/?data=server&" + "&".join(f"file={f}" for f in files))
    wait_for_traces(duo, ids.HEATMAP, "heatmap")
    wait_until(lambda: duo.find_element(f"#{ids.PROCESS}").get_attribute("disabled") is None, what="Process enabled")
    wait_until(lambda: "Ready" in duo.find_element(f"#{ids.PROGRESS_TEXT}").text, timeout=60, what="the job's end")
    time.sleep(2.0)  # anything still on its way
    return duo.driver.execute_script("return window.__stamp;")


def _assert_one_send_one_draw(state: dict, what: str) -> None:
    assert state["heatmapDraws"] == 1, (what, state)
    assert len(state["heatmapAnswers"]) == 1, (what, state)
    assert f"{ids.RESULT}" in state["heatmapAnswers"][0], (what, state)  # sent with the result


def test_a_small_file_and_its_cached_reopen_send_and_draw_the_heatmap_once(dash_duo, make_app, miri_folder):
    root, files = miri_folder
    app, _ = make_app(data_dir=root, demo_path=None)
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _RECORD_JS})
    _assert_one_send_one_draw(_open_by_link(dash_duo, files), "small file, first read")
    _assert_one_send_one_draw(_open_by_link(dash_duo, files), "small file, from the cube cache")
    bands = dash_duo.driver.execute_script(
        f"return Array.from(document.querySelectorAll('#{ids.BAND_BUTTONS} button')).map(b => b.textContent);")
    assert bands, "the preset refitted to 5–12 µm gives band buttons"


def test_the_background_job_answer_carries_the_heatmap(dash_duo, make_app, miri_folder, monkeypatch):
    monkeypatch.setattr(job, "PLAIN_REQUEST_MAX_BYTES", 0)  # the file is then read by the background job
    root, files = miri_folder
    app, _ = make_app(data_dir=root, demo_path=None)
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _RECORD_JS})
    _assert_one_send_one_draw(_open_by_link(dash_duo, files), "background job")
