"""The exported HTML pages in a real headless Chromium with no network: plots render from
the embedded plotly.js, band buttons grey out what lies outside the band (checked on the
pixels drawn), views off screen follow when shown, hostile names stay text."""

from __future__ import annotations

import time
import zipfile

import numpy as np
import pytest
from selenium.webdriver.common.by import By

from stamp_engine import export, figures
from stamp_engine.bands import Band
from stamp_engine.synthetic import make_observation
from tests.helpers import band_pixels, pixels

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


_STATES = """
return Array.prototype.map.call(document.querySelectorAll('.js-plotly-plot'), function (gd) {
  return (gd.layout._stampHighlight || {band: 'All'}).band;
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
    assert driver.execute_script(_STATES) == [band]
    _click_band(driver, "All")
    assert driver.execute_script(_STATES) == ["All"]


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
    # the surface (on screen) follows the click; the views below the fold wait until shown
    _click_band(driver, "CO2 4.3")
    _wait(driver, "return (document.getElementById('stamp-plot-0').layout._stampHighlight || {}).band === 'CO2 4.3';")
    assert driver.execute_script(_STATES)[2:] == ["All", "All"]
    for i in (1, 2, 3):
        driver.execute_script(f"document.getElementById('stamp-plot-{i}').scrollIntoView();")
        _wait(driver, f"return (document.getElementById('stamp-plot-{i}').layout._stampHighlight || {{}}).band === 'CO2 4.3';")
    curves = driver.execute_script(
        "return document.getElementById('stamp-plot-2').data.filter(function (t) { return t.meta.role === 'light-curve'; })"
        ".map(function (t) { return [t.meta.curve, t.opacity === undefined ? 1 : t.opacity]; });")
    assert dict(curves)["CO2 4.3"] == 1 and all(o < 0.5 for name, o in curves if name != "CO2 4.3")
    shade = driver.execute_script(
        "return document.getElementById('stamp-plot-3').layout.shapes.filter(function (s) { return s.name === 'stamp-band-shade'; })"
        ".map(function (s) { return [s.x0, s.x1]; });")
    assert shade == [[4.20, 4.45]]
    assert driver.execute_script("return window.PWNED === undefined")


# ------------------------------------------------------------------ what is drawn
PIXEL_BANDS = [Band("Left", 1.40, 1.90), Band("Middle", 2.60, 3.20), Band("Right", 3.20, 3.90)]
TWO_CHANNEL_BANDS = [Band("First", 1.8, 2.2), Band("Last", 3.8, 4.2)]


@pytest.fixture(scope="module")
def pixel_pages(tmp_path_factory):
    """Single-plot pages of a flux cube drawn in Viridis: every data pixel is strongly coloured,
    so grey can only come from highlighting and pale columns only from seams."""
    obs = make_observation("variability", n_integrations=120, wavelength=np.linspace(1.0, 5.0, 200), n_visits=1, seed=3)
    cube = obs.to_cube()
    folder = tmp_path_factory.mktemp("pixels")
    pages = {}
    for kind in ("heatmap", "surface"):
        build = getattr(figures, f"{kind}_figure")
        page = export.standalone_html(build(cube, bands=PIXEL_BANDS, colorscale="Viridis"), PIXEL_BANDS, kind, height=560)
        pages[kind] = folder / f"{kind}.html"
        pages[kind].write_text(page, encoding="utf-8")
    # two channels (a Eureka! S4 light-curve file): the surface is two flat strips, one per channel
    two = make_observation("variability", n_integrations=60, wavelength=np.array([2.0, 4.0]), n_visits=1, seed=4).to_cube()
    page = export.standalone_html(figures.surface_figure(two, bands=TWO_CHANNEL_BANDS, colorscale="Viridis"),
                                  TWO_CHANNEL_BANDS, "surface", height=560)
    pages["surface two channels"] = folder / "surface_two_channels.html"
    pages["surface two channels"].write_text(page, encoding="utf-8")
    return pages


def _band_span(driver, name):
    """The band's wavelengths and the drawn x range (from the axes, not from STAMP's meta)."""
    band = next(b for b in PIXEL_BANDS if b.name == name)
    extent = driver.execute_script("return document.querySelector('.js-plotly-plot')._fullLayout.xaxis.range;")
    return {"x": [band.start, band.end], "extent": extent}


def _graph(driver):
    return driver.find_element(By.CSS_SELECTOR, ".js-plotly-plot")


def _settle(driver, frames: int = 3) -> None:
    driver.execute_async_script(
        "var n = arguments[0], done = arguments[arguments.length - 1];"
        "(function next() { if (n-- <= 0) { done(); } else { requestAnimationFrame(next); } })();", frames)


def test_heatmap_band_click_paints_the_rest_grey_and_all_brings_the_colour_back(driver, pixel_pages):
    _open(driver, pixel_pages["heatmap"], 1)
    span = _band_span(driver, "Middle")
    _click_band(driver, "Middle")
    _settle(driver)
    inside, outside = band_pixels.heatmap_regions(driver, _graph(driver), span["x"], span["extent"], margin=6)
    assert band_pixels.is_greyed_out(outside).mean() > 0.98, "outside the band is not the flat grey"
    assert pixels.coloured_fraction(inside) > 0.9, "the band lost its colours"
    _click_band(driver, "All")
    _settle(driver)
    inside, outside = band_pixels.heatmap_regions(driver, _graph(driver), span["x"], span["extent"], margin=6)
    assert pixels.coloured_fraction(outside) > 0.9 and pixels.coloured_fraction(inside) > 0.9


def test_heatmap_has_no_seam_where_bands_meet(driver, pixel_pages):
    _open(driver, pixel_pages["heatmap"], 1)
    _settle(driver)
    box, edges = band_pixels.heatmap_area(driver, _graph(driver), [e for b in PIXEL_BANDS for e in (b.start, b.end)])
    image = pixels.screenshot(driver)
    area = pixels.crop(image, (box[0] + 2, box[1] + 2, box[2] - 2, box[3] - 2))
    assert pixels.coloured_fraction(area) > 0.95
    seams = band_pixels.seam_columns(area)
    assert list(seams) == [], f"pale hairlines at x = {list(seams + box[0] + 2)}; band edges at {edges}"


def _surface_page(driver, page):
    """Open a one-surface ``page``; a function giving (coloured, grey) fractions of its scene as drawn now."""
    _open(driver, page, 1)
    box = band_pixels.scene_box(driver, _graph(driver))

    def drawn():
        _settle(driver, 5)
        scene = pixels.crop(pixels.screenshot(driver), box)
        return pixels.coloured_fraction(scene), float(band_pixels.is_surface_grey(scene).mean())

    return drawn


def test_surface_band_click_paints_the_rest_grey_and_all_brings_the_colour_back(driver, pixel_pages):
    drawn = _surface_page(driver, pixel_pages["surface"])
    coloured_all, grey_all = drawn()
    assert coloured_all > 0.1 and grey_all < 0.02  # the surface fills ~ 13 % of its scene's box
    _click_band(driver, "Left")
    coloured_band, grey_band = drawn()
    assert grey_band > 0.5 * coloured_all, "the surface outside the band is not grey"
    assert 0.05 * coloured_all < coloured_band < 0.5 * coloured_all, "only the band should keep its colours"
    _click_band(driver, "All")
    assert drawn()[0] == pytest.approx(coloured_all, rel=0.05)


@pytest.mark.parametrize("band", ["First", "Last"])
def test_a_surface_of_two_channels_greys_the_other_channel_whichever_is_highlighted(driver, pixel_pages, band):
    """With a vertex per channel centre, two channels were one quad owned by the first: "First"
    left everything coloured and "Last" greyed everything."""
    drawn = _surface_page(driver, pixel_pages["surface two channels"])
    coloured_all, grey_all = drawn()
    assert coloured_all > 0.05 and grey_all < 0.02
    _click_band(driver, band)
    coloured, grey = drawn()
    assert 0.15 * coloured_all < coloured < 0.85 * coloured_all, f"{band}: the other channel kept its colours or the band lost them"
    assert grey > 0.15 * coloured_all, f"{band}: the other channel is not grey"
