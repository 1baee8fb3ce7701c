"""What the maps and light curves look like, read from screenshots of a real headless Chromium:
colour limits that use the colour bar on every real file, 0 % at the scale's centre colour with a
manual range, gaps drawn as gaps, interpolated rows marked, visits side by side."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import plotly
import pytest
from astropy.time import Time

import stamp_engine
from stamp_engine import figures
from stamp_engine import steps as stamp_steps
from stamp_engine.cube import Cube
from stamp_engine.recipe import ProcessOptions, process
from stamp_engine.synthetic import make_observation
from tests.helpers import pixels
from tests.helpers.paths import REAL

pytestmark = pytest.mark.browser

PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
REAL_FILES = sorted([*REAL.rglob("*.h5"), *REAL.rglob("*x1dints.fits")])
#: Pixels farther than this (RGB distance) from every colour of the bar are not data (background, gaps, lines).
ON_SCALE = 18.0


@pytest.fixture(scope="module")
def page(driver, tmp_path_factory):
    """A page with plotly.js and one 760 × 520 plot area, reused for every figure."""
    html = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><script src="{PLOTLY_JS.as_uri()}"></script></head>'
            '<body style="margin:0;background:white"><div id="plot" style="width:760px;height:520px"></div></body></html>')
    path = tmp_path_factory.mktemp("colour-page") / "page.html"
    path.write_text(html, encoding="utf-8")
    driver.get(path.as_uri())
    deadline = time.monotonic() + 30
    while not driver.execute_script("return typeof Plotly !== 'undefined'"):
        assert time.monotonic() < deadline, "plotly.js did not load"
        time.sleep(0.1)
    return driver


def draw(page, fig) -> np.ndarray:
    """Plot ``fig`` and return the page screenshot."""
    result = page.execute_async_script(
        """var done = arguments[arguments.length - 1];
        var fig = JSON.parse(arguments[0]);
        Plotly.purge('plot');
        Plotly.newPlot('plot', fig.data, fig.layout, {displayModeBar: false}).then(
          function () { requestAnimationFrame(function () { setTimeout(function () { done('ok'); }, 50); }); },
          function (e) { done(String(e)); });""",
        fig.to_json(),
    )
    assert result == "ok", result
    return pixels.screenshot(page)


def colour_bar(page, image: np.ndarray) -> np.ndarray:
    """The drawn colour bar sampled along its middle, bottom (0) to top (1), as (n, 3) RGB."""
    left, top, right, bottom = pixels.element_box(page, "#plot .colorbar .cbfill")
    middle = int(round((left + right) / 2))
    column = image[int(np.ceil(top)) + 1:int(np.floor(bottom)) - 1, middle]
    return column[::-1]


def plot_area(page, image: np.ndarray, subplot: str = "xy") -> np.ndarray:
    """Pixels of one subplot's plot area."""
    box = pixels.element_box(page, f"#plot .draglayer .{subplot} .nsewdrag")
    left, top, right, bottom = box
    return pixels.crop(image, (left + 1, top + 1, right - 1, bottom - 1))


def on_scale(area: np.ndarray, bar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions on the colour bar, mask) of the area's pixels that are colours of the bar."""
    # a map has few distinct colours: measure each once
    colours, inverse = np.unique(area.reshape(-1, 3), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    distance = np.sqrt(((colours[:, None, :].astype(np.float32) - bar[None, :, :].astype(np.float32)) ** 2).sum(axis=-1))
    near = distance.min(axis=1) <= ON_SCALE
    positions = pixels.nearest_scale_position(colours[:, None, :], bar).reshape(-1)
    mask = near[inverse]
    return positions[inverse][mask], mask.reshape(area.shape[:2])


def _default_heatmap(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cube = stamp_engine.load([path])
        except stamp_engine.NoUsableData:
            return None
        return figures.heatmap_figure(process(cube, ProcessOptions()))


def test_every_real_file_is_tried():
    assert len(REAL_FILES) == 17  # 16 Eureka! HDF5 (one photometry file without spectra) + 1 x1dints


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: str(p.relative_to(REAL)))
def test_default_heatmap_of_a_real_file_uses_most_of_the_colour_bar(page, path):
    fig = _default_heatmap(path)
    if fig is None:
        assert path.name.startswith("S3_Photometry"), f"{path.name} no longer loads"
        return
    image = draw(page, fig)
    bar = colour_bar(page, image)
    positions, _ = on_scale(plot_area(page, image), bar)
    assert positions.size > 500, "too few data pixels found"
    low, high = np.percentile(positions, [5, 95])
    assert high - low >= 0.30, (
        f"{path.name}: the middle 90 % of the map's pixels use only {high - low:.0%} of the colour bar "
        f"(limits {fig.layout.coloraxis.cmin:.3g}…{fig.layout.coloraxis.cmax:.3g})")


def _cube(hours: np.ndarray, flux: np.ndarray, wavelength: np.ndarray | None = None, normalized: bool = True) -> Cube:
    wavelength = np.linspace(1.0, 3.0, flux.shape[1]) if wavelength is None else wavelength
    time_ = Time(60000.0 + np.asarray(hours) / 24.0, format="mjd", scale="tdb")
    cube = Cube(wavelength, time_, flux, np.full_like(flux, 0.1), u.percent if normalized else u.Jy)
    if normalized:
        cube = cube.replace(reference=np.ones((1, flux.shape[1])), reference_unit=u.Jy)
    return cube


def test_zero_is_drawn_in_the_centre_colour_with_an_asymmetric_manual_range(page):
    # columns hold -1, 0, 1, 2, 3 % (one value each): with the range -1…3, the 0 % column must be white-ish
    levels = np.array([-1.0, 0.0, 1.0, 2.0, 3.0])
    flux = np.repeat(np.repeat(levels, 8)[None, :], 30, axis=0)
    cube = _cube(np.arange(30) * 0.05, flux)
    assert cube.is_normalized
    fig = figures.heatmap_figure(cube, zrange=(-1.0, 3.0))
    image = draw(page, fig)
    area = plot_area(page, image)
    zero_column = area[area.shape[0] // 4: 3 * area.shape[0] // 4, int(area.shape[1] * 0.3)]
    centre = np.array(figures.colorscale("RdBu_r")[5][1][4:-1].split(","), dtype=float)  # rgb(247,247,247)
    assert np.abs(zero_column.astype(float) - centre).max(axis=1).max() <= 6, zero_column[:3]
    # and its position on the drawn colour bar is a quarter of the way up: (0 − (−1)) / (3 − (−1))
    bar = colour_bar(page, image)
    positions, _ = on_scale(zero_column[None, :, :], bar)
    assert np.median(positions) == pytest.approx(0.25, abs=0.04)


def test_a_gap_within_a_visit_is_a_band_of_the_gap_colour(page):
    # 40 rows at a 1-minute cadence, a 1 h gap (shorter than the 1.5 h visit threshold), 40 rows
    hours = np.concatenate([np.arange(40), 100 + np.arange(40)]) / 60.0
    flux = np.full((80, 30), 2.0)  # all red: anything stretched across the gap would be red too
    cube = _cube(hours, flux).split_visits(gap_hours=1.5)
    assert cube.n_visits == 1
    image = draw(page, figures.heatmap_figure(cube, zrange=(-3.0, 3.0)))
    area = plot_area(page, image)
    # the y axis runs from -0.5 min to 139.5 min; the gap is 39.5…99.5 min
    rows = np.linspace(0, area.shape[0] - 1, area.shape[0])
    minutes = 139.5 - rows / (area.shape[0] - 1) * 140.0
    gap_band = area[(minutes > 45) & (minutes < 95)]
    gap = np.array([float(c) for c in figures.GAP_COLOUR[4:-1].split(",")])
    assert np.abs(gap_band.astype(float) - gap).max(axis=-1).mean() <= 3, gap_band.reshape(-1, 3)[:3]
    data = area[(minutes < 35) | (minutes > 105)]
    assert pixels.saturation(data).mean() > 0.3  # the data rows are drawn in colour


def _has_line_pixels(strip: np.ndarray) -> bool:
    return bool((pixels.lightness(strip) < 160).any())


def test_a_light_curve_draws_no_line_across_a_gap(page):
    hours = np.concatenate([np.arange(40), 100 + np.arange(40)]) / 60.0
    flux = np.tile(np.sin(np.arange(80) / 6.0)[:, None], (1, 10))
    cube = _cube(hours, flux).split_visits(gap_hours=1.5)
    fig = figures.light_curve_figure([cube.white_light()])
    fig.update_layout(xaxis={"range": [0, 140 / 60]}, showlegend=False)
    image = draw(page, fig)
    area = plot_area(page, image)
    columns = np.linspace(0, 140, area.shape[1])
    assert _has_line_pixels(area[:, (columns > 5) & (columns < 35)])
    assert not _has_line_pixels(area[:, (columns > 45) & (columns < 95)]), "a line crosses the gap"


def test_interpolated_rows_are_drawn_lighter_and_carry_no_error(page):
    hours = np.concatenate([np.arange(40), 100 + np.arange(40)]) / 60.0
    flux = np.full((80, 30), 2.0)
    filled = stamp_steps.interpolate_gaps(_cube(hours, flux))
    made = figures.interpolated_rows(filled)
    assert made.sum() > 40
    fig = figures.heatmap_figure(filled, zrange=(-3.0, 3.0))
    errors = np.concatenate([np.asarray(t.customdata, dtype=float) for t in fig.data])
    assert np.isnan(errors[made]).all() and np.isfinite(errors[~made]).all()
    image = draw(page, fig)
    area = plot_area(page, image)
    minutes = np.linspace(139.5, -0.5, area.shape[0])
    measured = area[(minutes < 35) | (minutes > 105)]
    interpolated = area[(minutes > 45) & (minutes < 95)]
    assert pixels.lightness(interpolated).mean() > pixels.lightness(measured).mean() + 40
    assert pixels.saturation(interpolated).mean() > 0.1  # still the data's colour, only lighter


def test_two_visits_side_by_side_each_fill_their_panel(page):
    obs = make_observation(
        "variability", n_integrations=120, wavelength=np.linspace(1.0, 3.0, 40), n_visits=2,
        visit_gap_hours=24 * 30.0, seed=3)
    cube = obs.to_cube().split_visits(0.5).normalize()
    one_axis = draw(page, figures.heatmap_figure(cube, visits="one axis"))
    bar = colour_bar(page, one_axis)
    _, mask = on_scale(plot_area(page, one_axis), bar)
    assert mask.mean() < 0.1  # one linear axis: the month between the visits is nearly all of it
    fig = figures.heatmap_figure(cube)  # automatic: side by side
    image = draw(page, fig)
    bar = colour_bar(page, image)
    for subplot in ("xy", "x2y2"):
        _, mask = on_scale(plot_area(page, image, subplot), bar)
        assert mask.mean() > 0.9, f"panel {subplot}: only {mask.mean():.0%} data colour"
