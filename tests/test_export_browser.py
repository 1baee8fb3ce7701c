"""The exported HTML pages in a real headless Chromium with no network: plots render from
the embedded plotly.js, band buttons grey out the other pieces, hostile names stay text."""

from __future__ import annotations

import time
import zipfile

import numpy as np
import pytest
from selenium.webdriver.common.by import By

from stamp_engine import export
from stamp_engine.bands import Band
from stamp_engine.synthetic import make_observation

pytestmark = pytest.mark.browser

HOSTILE = '<img src=x onerror="window.PWNED=1"></script><script>window.PWNED=2</script>'
BANDS = [Band("H2O 1.4", 1.30, 1.50), Band("CO2 4.3", 4.20, 4.45), Band(f"x{HOSTILE}", 2.0, 2.5)]
STAMP = "20250101_000000"


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    obs = make_observation("variability", n_integrations=60, wavelength=np.linspace(0.6, 5.3, 120), n_visits=2, seed=5)
    cube = obs.to_cube(meta={**obs.meta, "target": HOSTILE}).split_visits(0.5).normalize("visit")
    folder = tmp_path_factory.mktemp("package")
    path = export.build_package(
        cube, folder, bands=BANDS, video=False, when=__import__("datetime").datetime(2025, 1, 1), unpacked=True,
    )
    assert zipfile.is_zipfile(path)
    return folder / f"stamp_package_{STAMP}"


def _wait(driver, script: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script}")


_PIECES = """
return Array.prototype.map.call(document.querySelectorAll('.js-plotly-plot'), function (gd) {
  return gd.data.filter(function (t) { return t.meta && t.meta.role === 'band-piece'; })
    .map(function (t) { return {bands: t.meta.bands, opacity: t.opacity === undefined ? 1 : t.opacity}; });
});
"""


def _open(driver, path, n_plots: int) -> None:
    driver.get(path.as_uri())
    _wait(driver, f"""
      var plots = document.querySelectorAll('.js-plotly-plot');
      return plots.length === {n_plots} && Array.prototype.every.call(plots, function (gd) {{
        return gd.data && gd.data.length > 0 && gd._fullLayout && gd.querySelector('.main-svg');
      }});""")


def _click_band(driver, name: str) -> None:
    buttons = [b for b in driver.find_elements(By.CSS_SELECTOR, ".stamp-band") if b.get_attribute("data-band") == name]
    assert len(buttons) == 1, name
    buttons[0].click()
    _wait(driver, f"return document.querySelector('.stamp-band[aria-pressed=\"true\"]').getAttribute('data-band') === {name!r};")


def _check_highlight(driver, band: str) -> None:
    _click_band(driver, band)
    for pieces in driver.execute_script(_PIECES):
        assert pieces, "every band-split figure has band pieces"
        inside = [p["opacity"] for p in pieces if band in p["bands"]]
        outside = [p["opacity"] for p in pieces if band not in p["bands"]]
        assert inside and outside
        assert all(o == 1 for o in inside)
        assert all(o == pytest.approx(0.35) for o in outside)
    _click_band(driver, "All")
    for pieces in driver.execute_script(_PIECES):
        assert all(p["opacity"] == 1 for p in pieces)


@pytest.mark.parametrize("kind, band", [("surface_plot", "H2O 1.4"), ("heatmap_plot", BANDS[2].name)])
def test_single_plot_pages_render_offline_and_highlight_bands(driver, package, kind, band):
    _open(driver, package / f"{kind}_{STAMP}.html", 1)
    _check_highlight(driver, band)  # BANDS[2]: a band whose name is markup works as a plain name
    assert driver.execute_script("return window.PWNED === undefined")
    assert driver.find_element(By.TAG_NAME, "h1").text.startswith(HOSTILE)
    network = driver.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
        ".filter(function (n) { return /^https?:/.test(n); });")
    assert network == []


def test_combined_page_drives_every_view_with_one_set_of_buttons(driver, package):
    _open(driver, package / f"combined_plots_{STAMP}.html", 4)
    assert len(driver.find_elements(By.CSS_SELECTOR, ".stamp-bands")) == 1
    plot_types = driver.execute_script(
        "return Array.prototype.map.call(document.querySelectorAll('.js-plotly-plot'),"
        " function (gd) { return gd.data[0].type || 'scatter'; });")
    assert plot_types[:2] == ["surface", "heatmap"]
    _click_band(driver, "CO2 4.3")
    split_views = [p for p in driver.execute_script(_PIECES) if p]
    assert len(split_views) == 2  # surface and heatmap both follow the one button
    for pieces in split_views:
        assert {p["opacity"] for p in pieces if "CO2 4.3" not in p["bands"]} == {0.35}
        assert {p["opacity"] for p in pieces if "CO2 4.3" in p["bands"]} == {1}
    assert driver.execute_script("return window.PWNED === undefined")
