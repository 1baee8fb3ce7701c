"""Hostile uploads through the real page in headless Chromium (the UI path of the hostile corpus).

    python -m pytest tests/browser/test_hostile_browser.py -q

The engine and HTTP paths of every hostile case are in tests/hostile/test_hostile_inputs.py;
here a few of them go through the browser's upload widget, with a good file alongside,
and the page is checked as a user sees it.  Every page opens on the heatmap tab
(``?view=heatmap``) so that no 3D surface is built by software WebGL.
"""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest
import requests
from selenium.common.exceptions import TimeoutException

from dashboard import ids
from stamp_engine.synthetic.x1dints import make_mode_observation, write_x1dints

pytestmark = pytest.mark.browser

WAIT = 60  # seconds; a loaded 2-core machine is slow

#: Markup that runs script if the page ever inserts the target name as HTML.
EVIL_TARGET = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'

HEATMAP_TYPES_JS = """
var gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
return gd && gd.data ? gd.data.map(function (t) { return t.type; }) : null;
"""


def good_x1dints(directory: Path, target: str = "WASP-STAMP b", name: str = "good_nrs1_x1dints.fits") -> Path:
    """A small valid NIRSpec PRISM x1dints file (40 integrations × 50 wavelengths)."""
    obs, extra = make_mode_observation("nirspec_prism", 40, n_wavelengths=50, seed=5, kind="transit",
                                       meta={"target": target})
    directory.mkdir(parents=True, exist_ok=True)
    return write_x1dints(directory / name, obs, extra_spectra=extra)


def open_on_heatmap(duo, app) -> str:
    """Start the app and open it on the heatmap tab; returns the server's base URL."""
    duo.start_server(app, navigate=False)
    base = duo.server.url.rstrip("/")
    duo.server_url = base + "/?view=heatmap"
    duo.wait_for_contains_text(f"#{ids.JOB_MESSAGE}", "Upload files", timeout=WAIT)
    return base


def upload(duo, *paths: Path) -> None:
    """Select several files at once in the upload widget's file input."""
    duo.find_element(f"#{ids.UPLOAD} input[type=file]").send_keys("\n".join(str(p) for p in paths))


def wait_for_heatmap(duo) -> list[str]:
    """Trace types of the drawn heatmap graph, once it holds at least one heatmap."""
    end = time.monotonic() + WAIT
    while time.monotonic() < end:
        try:
            kinds = duo.driver.execute_script(HEATMAP_TYPES_JS, ids.HEATMAP) or []
        except TimeoutException:
            kinds = []
        if "heatmap" in kinds:
            return kinds
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the heatmap to be drawn")


def problem_items(duo) -> dict[str, str]:
    """File name → full text of each entry of the problems alert."""
    items = duo.find_elements(".stamp-problems li")
    return {item.find_element("tag name", "strong").text: item.text for item in items}


def test_html_in_targname_is_shown_as_text_and_never_runs(dash_duo, make_app, tmp_path):
    good = good_x1dints(tmp_path / "upload", target=EVIL_TARGET,
                        name="jw09999001001_04101_00001-seg001_nrs1_x1dints.fits")
    app, _ = make_app(demo_path=None)
    open_on_heatmap(dash_duo, app)
    upload(dash_duo, good)
    kinds = wait_for_heatmap(dash_duo)
    assert "heatmap" in kinds
    dash_duo.wait_for_contains_text(f"#{ids.SUMMARY}", "40", timeout=WAIT)

    # The target cell of the summary card holds the markup as literal text.
    cells = dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('#' + arguments[0] + ' td')).map(c => c.textContent);",
        ids.SUMMARY)
    assert EVIL_TARGET in cells, cells
    summary_text = dash_duo.driver.execute_script(
        "return document.getElementById(arguments[0]).textContent;", ids.SUMMARY)
    assert "<img src=x" in summary_text and "<script>window.__pwned=2</script>" in summary_text

    # Nothing of it became markup anywhere on the page, and none of it ran.
    time.sleep(0.5)  # an injected <img src=x> would fire onerror as soon as its request fails
    assert dash_duo.driver.execute_script("return typeof window.__pwned;") == "undefined"
    assert dash_duo.driver.execute_script(
        "return document.querySelectorAll('img[src=\"x\"], img[onerror]').length;") == 0
    assert dash_duo.driver.execute_script(
        "return Array.from(document.scripts).filter(s => s.textContent.indexOf('__pwned') >= 0).length;") == 0
    assert dash_duo.find_elements(".stamp-problems") == []


def test_zip_with_path_traversal_is_refused_while_the_good_file_loads(dash_duo, make_app, tmp_path):
    good = good_x1dints(tmp_path / "upload")
    archive = tmp_path / "upload" / "traversal.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../evil.fits", good.read_bytes())
    app, _ = make_app(demo_path=None)
    open_on_heatmap(dash_duo, app)
    upload(dash_duo, archive, good)

    dash_duo.wait_for_contains_text(".stamp-problems", "traversal.zip", timeout=WAIT)
    assert "heatmap" in wait_for_heatmap(dash_duo)
    problems = problem_items(dash_duo)
    assert list(problems) == ["traversal.zip"], problems
    message = problems["traversal.zip"]
    assert "was refused" in message and "../evil.fits" in message and "path traversal" in message
    assert "1 file(s) could not be used" in dash_duo.find_element(".stamp-problems").text
    # the good file's data is what the page shows
    dash_duo.wait_for_contains_text(f"#{ids.SUMMARY}", "1 used of 2", timeout=WAIT)
    assert "Integrations 40" in dash_duo.find_element(f"#{ids.SUMMARY}").text
    # nothing was written next to (or above) the session's upload folder
    assert not list(tmp_path.rglob("evil.fits"))


def test_empty_file_is_named_and_the_server_keeps_answering(dash_duo, make_app, tmp_path):
    good = good_x1dints(tmp_path / "upload")
    empty = tmp_path / "upload" / "empty.fits"
    empty.write_bytes(b"")
    app, _ = make_app(demo_path=None)
    base = open_on_heatmap(dash_duo, app)
    upload(dash_duo, empty, good)

    dash_duo.wait_for_contains_text(".stamp-problems", "empty.fits", timeout=WAIT)
    assert "heatmap" in wait_for_heatmap(dash_duo)
    problems = problem_items(dash_duo)
    assert list(problems) == ["empty.fits"], problems
    assert "is empty (0 bytes)" in problems["empty.fits"]
    dash_duo.wait_for_contains_text(f"#{ids.SUMMARY}", "1 used of 2", timeout=WAIT)
    assert requests.get(base + "/healthz", timeout=10).json() == {"status": "ok"}


def test_a_link_in_targname_is_shown_as_text_in_the_plot_title_never_as_a_link(dash_duo, make_app, tmp_path):
    phishing = '<a href="https://evil.example/login">Sign in again</a>'
    good = good_x1dints(tmp_path / "upload", target=phishing, name="jw09999001001_04101_00001-seg001_nrs1_x1dints.fits")
    app, _ = make_app(demo_path=None)
    open_on_heatmap(dash_duo, app)
    upload(dash_duo, good)
    wait_for_heatmap(dash_duo)
    title = dash_duo.driver.execute_script(
        "var t = document.querySelector('#' + arguments[0] + ' .gtitle'); return t ? t.textContent : null;",
        ids.HEATMAP)
    assert title is not None and title.startswith(phishing), title  # the markup, as typed
    links = dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('#' + arguments[0] + ' a')).map(a => a.getAttribute('href'));",
        ids.HEATMAP)
    assert not [href for href in links if href and "evil.example" in href], links
