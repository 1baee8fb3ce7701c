"""The gallery (benchmarks/gallery.py): transit windows found from the white light, the science
and linked-panel views, and a view that cannot be made for a dataset shown as its reason."""

from __future__ import annotations

import re

import numpy as np
import pytest

from benchmarks import gallery
from stamp_engine.synthetic import make_observation, transit_depth, variability_amplitude

WAVELENGTH = np.linspace(0.8, 5.0, 120)


def _dataset(kind: str, name: str, **options) -> gallery.Dataset:
    obs = make_observation(kind, wavelength=WAVELENGTH, **options)
    return gallery._dataset(name, "synthetic", obs.to_cube())


@pytest.fixture(scope="module")
def transit():
    return _dataset("transit", "transit", n_integrations=300, seed=3)


def test_the_windows_of_a_transit_are_its_flat_bottom_and_the_baseline_on_both_sides(transit):
    hours = transit.cube.hours
    span, mid = hours[-1] - hours[0], 0.5 * (hours[0] + hours[-1])
    found = gallery.transit_windows(transit.cube)
    lo, hi = found.in_transit
    # the synthetic transit lasts 0.4 × the span with 0.05 × span ingress and egress
    assert mid - 0.15 * span <= lo < mid < hi <= mid + 0.15 * span
    assert len(found.baseline) == 2
    (b0, b1), (a0, a1) = found.baseline
    ingress = 0.05 * span  # the baseline holds at most the first and last tenth of ingress and egress
    assert b0 == hours[0] and b1 <= mid - 0.2 * span + 0.1 * ingress
    assert a0 >= mid + 0.2 * span - 0.1 * ingress and a1 == hours[-1]
    white_depth = transit_depth(WAVELENGTH)
    assert white_depth.min() < found.depth < white_depth.max()
    assert found.significance > 50


def test_the_depth_view_recovers_the_injected_spectrum(transit):
    fig = gallery._depth(transit)
    trace = next(t for t in fig.data if t.meta["role"] == "depth")
    edges = np.asarray(trace.customdata)[:, :2]
    truth = np.array([transit_depth(WAVELENGTH[(WAVELENGTH >= a) & (WAVELENGTH < b)]).mean() for a, b in edges]) * 1e6
    depth, error = np.asarray(trace.y, float), np.asarray(trace.error_y.array, float)
    assert np.all(np.isfinite(depth)) and np.all(error > 0)
    assert np.all(np.abs(depth - truth) < 5 * error + 0.01 * truth)
    assert fig.layout.yaxis.title.text == "Transit depth (ppm)"


@pytest.mark.parametrize("kind, options, reason", [
    ("variability", {"n_integrations": 400, "period_hours": 1.5}, "separate stretches"),
    ("transit", {"n_integrations": 8}, "8 integration.*too few"),
    ("transit", {"n_integrations": 30, "snr": 10, "seed": 0}, "is 4.3 σ of the smoothed white light.s noise: no clear transit"),
])
def test_data_without_one_clear_transit_are_refused_with_the_reason(kind, options, reason):
    with pytest.raises(ValueError, match=reason):
        gallery.transit_windows(_dataset(kind, kind, **options).cube)


def test_a_dip_at_one_end_of_the_data_is_not_a_transit():
    # the second half of a transit visit: the lowest part starts the data, no baseline before it
    from stamp_engine.recipe import ProcessOptions, process

    full = make_observation("transit", wavelength=WAVELENGTH, n_integrations=300, seed=5).to_cube()
    half = process(full, ProcessOptions(hours=(float(full.hours[150]), None)))
    with pytest.raises(ValueError, match="no baseline before it"):
        gallery.transit_windows(half)


def test_the_variability_views_find_the_injected_period():
    dwarf = _dataset("variability", "dwarf", n_integrations=400, period_hours=2.4, seed=4)
    periodogram = gallery._periodogram(dwarf)
    white = next(t for t in periodogram.data if t.meta["role"] == "periodogram" and t.meta["curve"] == "White light")
    assert white.meta["peak_period_hours"] == pytest.approx(2.4, rel=0.03)
    amplitude = gallery._amplitude(dwarf)
    assert float(re.search(r"P = ([\d.]+) h", amplitude.layout.title.text).group(1)) == pytest.approx(2.4, rel=0.03)
    trace = next(t for t in amplitude.data if t.meta["role"] == "amplitude")
    truth = 100 * variability_amplitude(np.asarray(trace.x, float))  # % of the mean level
    assert np.median(np.asarray(trace.y, float) / truth) == pytest.approx(1.0, abs=0.1)
    channels = gallery._channels(dwarf)
    assert len([t for t in channels.data if t.meta["role"] == "channel-curve"]) == 10


def test_a_transit_peak_is_flagged_and_gets_no_amplitude_spectrum(transit):
    periodogram = gallery._periodogram(transit)
    assert "White light: peak at" in periodogram.layout.title.text and "not a resolved period" in periodogram.layout.title.text
    white = next(t for t in periodogram.data if t.meta["role"] == "peak" and t.meta["curve"] == "White light")
    assert white.meta["resolved"] is False
    amplitude = gallery._amplitude(transit)
    assert not amplitude.data and "No amplitude spectrum" in amplitude.layout.annotations[0].text


def test_a_view_that_fails_shows_its_reason_and_the_others_still_render(tmp_path):
    """In the browser: the failing view's reason in index.html; the linked panel drawn with its crosshair."""
    from PIL import Image

    from stamp_engine.explore_figures import CROSSHAIR_COLOUR

    small = gallery._dataset("small", "synthetic", make_observation(
        "variability", n_integrations=40, wavelength=np.linspace(1.0, 5.0, 30), seed=6).to_cube())
    views = [next(v for v in gallery.VIEWS if v.name == "depth"),
             next(v for v in gallery.VIEWS if v.name == "explore_spectrum")]
    index = gallery.render([small], [], tmp_path, views=views, log=lambda *_: None)
    page = index.read_text(encoding="utf-8")
    assert re.search(r"class=err>Transit spectrum[^<]*: the lowest 20 % of the smoothed white light", page)
    assert not (tmp_path / "00_depth.png").exists()
    image = np.asarray(Image.open(tmp_path / "00_explore_spectrum.png").convert("RGB")).astype(int)
    # the crosshair's hue (red and blue well above green): a 1.5 px line falling between two pixel
    # columns is drawn in both at part strength, lighter than CROSSHAIR_COLOUR itself
    red, green, blue = np.array(re.findall(r"\d+", CROSSHAIR_COLOUR), int)
    assert min(red, blue) - green > 150
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    magenta = (r - g > 100) & (b - g > 100) & (np.abs(r - b) < 40)
    rows, columns = np.nonzero(magenta)
    # the two crosshair lines: one column and one row of the plot area hold most of the magenta pixels
    assert np.bincount(columns).max() > 0.5 * image.shape[0] * 0.5
    assert np.bincount(rows).max() > 0.5 * image.shape[1] * 0.5
