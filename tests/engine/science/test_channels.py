"""Spectroscopic light curves: channels by width / R / n, error weighting, NaN columns, residuals."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time

import stamp_engine
from stamp_engine import Cube
from stamp_engine.channels import (
    channel_edges,
    divide_by_white,
    spectroscopic_light_curves,
)
from stamp_engine.synthetic import make_observation


def small_cube(flux: np.ndarray, error: np.ndarray, wavelength: np.ndarray | None = None, unit=u.Jy) -> Cube:
    n_int, n_wave = flux.shape
    wavelength = np.linspace(1.0, 2.0, n_wave) if wavelength is None else wavelength
    time = Time(60000.0 + np.arange(n_int) / 1440.0, format="mjd", scale="tdb")
    return Cube(wavelength, time, flux, error, unit)


def flat_transit_cube(n_int: int = 400, n_wave: int = 40, depth: float = 0.01, seed: int = 3) -> Cube:
    """An achromatic transit: every channel / white-light ratio is constant in truth."""
    rng = np.random.default_rng(seed)
    wavelength = np.linspace(1.0, 3.0, n_wave)
    source = 1.0 + 0.5 * np.sin(wavelength)
    hours = np.arange(n_int) / 60.0
    model = np.where(np.abs(hours - hours.mean()) < 1.0, 1.0 - depth, 1.0)
    error = np.broadcast_to(source / 500.0 * (1 + 0.5 * (np.arange(n_wave) % 3)), (n_int, n_wave)).copy()
    flux = source[None, :] * model[:, None] + rng.standard_normal((n_int, n_wave)) * error
    return small_cube(flux, error, wavelength)


def test_channel_edges_by_width_r_and_number_cover_the_data():
    wavelength = np.linspace(0.6, 5.3, 430)
    pixel = channel_edges(wavelength)
    assert pixel.size == 431 and pixel[0] < 0.6 < pixel[1] and pixel[-2] < 5.3 < pixel[-1]
    by_width = channel_edges(wavelength, width=0.25)
    np.testing.assert_allclose(np.diff(by_width), 0.25)
    assert by_width[0] == pixel[0] and by_width[-1] >= pixel[-1] > by_width[-2]
    by_r = channel_edges(wavelength, R=40)
    centre, width = 0.5 * (by_r[1:] + by_r[:-1]), np.diff(by_r)
    np.testing.assert_allclose(centre / width, 40, rtol=0.01)
    assert by_r[-1] >= pixel[-1] > by_r[-2]
    assert channel_edges(wavelength, n=7).size == 8


@pytest.mark.parametrize(
    "options, message",
    [({"width": 0.1, "R": 10}, "not width and R"), ({"R": 0}, "positive"), ({"width": np.nan}, "positive"), ({"n": 2.5}, "whole")],
)
def test_bad_channel_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        channel_edges(np.linspace(1, 2, 10), **options)


def test_channel_value_is_the_inverse_variance_mean_and_error_propagates():
    flux = np.array([[1.0, 2.0, 4.0, 10.0], [3.0, np.nan, 5.0, 11.0]])
    error = np.array([[1.0, 2.0, 0.5, 1.0], [1.0, 0.0, 1.0, 1.0]])
    cube = small_cube(flux, error, wavelength=np.array([1.0, 1.1, 1.2, 1.3]))
    curves = spectroscopic_light_curves(cube, width=0.2)  # pixels 0–1 | 2–3
    assert curves.n_channels == 2 and list(curves.n_pixels) == [2, 2]
    w = np.array([1.0, 0.25])
    np.testing.assert_allclose(curves.flux[0, 0], (w * [1.0, 2.0]).sum() / w.sum())
    np.testing.assert_allclose(curves.error[0, 0], 1 / np.sqrt(w.sum()))
    assert curves.flux[1, 0] == 3.0 and curves.error[1, 0] == 1.0  # the NaN pixel is skipped
    np.testing.assert_allclose(curves.flux[0, 1], (4 * 4.0 + 10.0) / 5)
    np.testing.assert_allclose(curves.edges[:, 1] - curves.edges[:, 0], 0.2)


@pytest.mark.filterwarnings("error")
def test_all_nan_channel_stays_nan_and_unknown_errors_fall_back_to_the_plain_mean():
    flux = np.ones((3, 6))
    flux[:, 0:2] = np.nan  # a channel of NaN columns (extract_1d: FLUX NaN, ERROR 0)
    error = np.full((3, 6), 0.1)
    error[:, 0:2] = 0.0
    error[:, 4:6] = 0.0  # finite flux, unknown error
    flux[:, 5] = 3.0
    curves = spectroscopic_light_curves(small_cube(flux, error), n=3)
    assert np.all(np.isnan(curves.flux[:, 0])) and np.all(np.isnan(curves.error[:, 0]))
    np.testing.assert_allclose(curves.flux[:, 1], 1.0)
    np.testing.assert_allclose(curves.flux[:, 2], 2.0)  # mean of 1 and 3
    np.testing.assert_allclose(curves.error[:, 2], np.std([1.0, 3.0], ddof=1) / np.sqrt(2))  # as band_light_curve
    band = small_cube(flux, error).light_curve(stamp_engine.Band("last", float(curves.edges[2, 0]), float(curves.edges[2, 1])))
    np.testing.assert_allclose(band.value, curves.flux[:, 2])
    np.testing.assert_allclose(band.error, curves.error[:, 2])
    residual = divide_by_white(curves)  # no warning (they are errors here), and NaN stays NaN
    assert np.all(np.isnan(residual.flux[:, 0]))


def test_default_channels_are_the_pixels_and_empty_channels_are_dropped():
    obs = make_observation("transit", n_integrations=20, wavelength=np.r_[np.linspace(1, 1.2, 5), np.linspace(3, 3.2, 5)])
    cube = obs.to_cube()
    pixels = spectroscopic_light_curves(cube)
    np.testing.assert_allclose(pixels.flux, cube.flux, rtol=1e-14)
    np.testing.assert_array_equal(pixels.wavelength.size, 10)
    binned = spectroscopic_light_curves(cube, width=0.1)
    assert binned.binning["dropped_empty"] > 0 and binned.n_pixels.sum() == 10
    assert "empty dropped" in binned.description
    assert cube.channels(width=0.1).n_channels == binned.n_channels  # the Cube method is the function


def test_divide_by_white_pulls_are_unit_normal_because_the_covariance_is_propagated():
    cube = flat_transit_cube()
    curves = spectroscopic_light_curves(cube, n=4)  # few channels: the white light shares much of each one's noise
    residual = divide_by_white(curves)
    assert residual.unit == u.percent
    pulls = (residual.flux / residual.error).ravel()  # truth: 0 (an achromatic transit cancels)
    assert abs(pulls.mean()) < 0.05
    assert 0.95 < pulls.std() < 1.05, pulls.std()
    # the transit itself is gone: in-transit residuals do not differ from the rest
    in_transit = np.abs(cube.hours - cube.hours.mean()) < 1.0
    assert abs(np.mean(residual.flux[in_transit]) - np.mean(residual.flux[~in_transit])) < 5 * np.mean(residual.error) / np.sqrt(in_transit.sum())
    # a normalized cube gives residuals as well described by their errors (the reference cancels)
    again = divide_by_white(spectroscopic_light_curves(cube.normalize(), n=4))
    normalized_pulls = (again.flux / again.error).ravel()
    assert abs(normalized_pulls.mean()) < 0.05 and 0.95 < normalized_pulls.std() < 1.05
    assert np.sqrt(np.mean(((again.flux - residual.flux) / residual.error) ** 2)) < 0.2  # weights differ a little


def test_without_the_covariance_the_residual_errors_would_be_too_large():
    curves = spectroscopic_light_curves(flat_transit_cube(), n=4)
    residual = divide_by_white(curves)
    white = curves.white_light()
    naive = 100 * np.sqrt((curves.error / curves.flux) ** 2 + (white.error / white.value)[:, None] ** 2)
    ratio = np.median(naive / residual.error)
    assert ratio > 1.2  # 4 equal-ish channels: √(1 + 1/4)/√(1 − 1/4) ≈ 1.29 in the ideal case


def test_offset_stacked_curves_do_not_overlap():
    curves = spectroscopic_light_curves(flat_transit_cube(), n=5)
    stacked, offsets = curves.offset_stacked()
    assert np.all(np.diff(offsets) < 0)
    medians = np.nanmedian(stacked, axis=0)
    assert np.all(np.diff(medians) < 0)
    np.testing.assert_allclose(stacked - offsets, curves.flux - np.median(curves.flux, axis=0))


def test_offset_stacked_curves_of_a_deep_transit_do_not_overlap():
    # a 1 % transit is ~100× the channel noise: spacing by the scatter alone would interleave the curves
    curves = spectroscopic_light_curves(flat_transit_cube(depth=0.01), n=5)
    stacked, _ = curves.offset_stacked()
    low, high = np.nanpercentile(stacked, [0.5, 99.5], axis=0)
    assert np.all(low[:-1] > high[1:])


def test_channel_light_curves_keep_visits_and_gaps():
    obs = make_observation("transit", n_integrations=200, n_visits=2, nan_columns=(0, 1, 2))
    cube = obs.to_cube()
    keep = np.ones(cube.n_integrations, dtype=bool)
    keep[30:60] = False  # a gap inside the first visit
    cube = cube.take(np.flatnonzero(keep))
    curves = cube.channels(n=10)
    assert curves.n_integrations == keep.sum()
    np.testing.assert_array_equal(curves.visit, cube.visit)
    np.testing.assert_allclose(curves.hours, cube.hours)
    assert np.all(np.isfinite(curves.flux))  # the NaN columns share their channel with finite ones
    lc = curves.channel(3)
    assert lc.band == tuple(curves.edges[3]) and lc.value is not None and lc.unit == u.Jy


def test_a_channel_is_the_band_light_curve_of_its_range():
    cube = make_observation("transit", n_integrations=50, nan_columns=(40, 41)).to_cube()
    curves = cube.channels(width=0.2)
    for index in (0, 3, curves.n_channels - 1):
        lo, hi = curves.edges[index]
        inside = (cube.wavelength >= lo) & (cube.wavelength < hi)
        band = stamp_engine.Band("c", float(cube.wavelength[inside][0]), float(cube.wavelength[inside][-1]))
        lc = cube.light_curve(band)
        np.testing.assert_allclose(curves.flux[:, index], lc.value, rtol=1e-12)
        np.testing.assert_allclose(curves.error[:, index], lc.error, rtol=1e-12)


def test_channel_light_curves_go_to_the_light_curve_ecsv(tmp_path):
    from astropy.table import QTable

    from stamp_engine.export import light_curve_table, write_light_curves

    curves = make_observation("transit", n_integrations=30).to_cube().normalize().channels(n=3)
    write_light_curves(light_curve_table([curves.white_light(), *curves.light_curves()], curves.time_standard), tmp_path / "lc.ecsv")
    table = QTable.read(tmp_path / "lc.ecsv")
    assert [c["start_um"] for c in table.meta["curves"][1:]] == pytest.approx(list(curves.edges[:, 0]))
    value_columns = [c["column"] for c in table.meta["curves"]]
    np.testing.assert_allclose(table[value_columns[2]].to_value(u.percent), curves.flux[:, 1])
    assert table[value_columns[0]].unit == u.percent


def test_residuals_of_a_chromatic_transit_are_the_depth_differences_from_the_white_light():
    obs = make_observation("transit", n_integrations=600, seed=21)
    cube = obs.to_cube()
    curves = cube.channels(n=12)
    span = cube.hours[-1]
    residual = divide_by_white(curves, baseline=[(0, span * 0.29), (span * 0.71, span)])
    assert "baseline 0–" in residual.description
    bottom = np.abs(cube.hours - span / 2) < span * 0.15  # flat bottom of the injected trapezoid
    # effective depths: pixels weighted by 1/σ² ∝ 1/F² of the flux F(1 − d) they carry
    weight = 1.0 / np.median(cube.flux, axis=0)
    index = np.searchsorted(curves.edges[:, 1], cube.wavelength)
    depth = obs.truth["depth"]
    channel_depth = np.bincount(index, weight * depth) / np.bincount(index, weight)
    white_depth = np.sum(weight * depth) / np.sum(weight)
    truth = 100 * ((1 - channel_depth) / (1 - white_depth) - 1)  # the out-of-transit median is 1
    measured = residual.flux[bottom].mean(axis=0)
    error = np.sqrt((residual.error[bottom] ** 2).sum(axis=0)) / bottom.sum()
    assert np.ptp(truth) > 20 * error.max()  # a signal well above the noise
    np.testing.assert_array_less(np.abs(measured - truth), 4 * error)
    outside = np.abs(cube.hours - span / 2) > span * 0.25
    np.testing.assert_array_less(np.abs(residual.flux[outside].mean(axis=0)), 4 * error * np.sqrt(bottom.sum() / outside.sum()) + 1e-12)
    # the median level is pulled off by the in-transit points of a channel deeper than the white light
    by_median = divide_by_white(curves)
    assert np.max(np.abs(by_median.flux[outside].mean(axis=0))) > 2 * np.max(np.abs(residual.flux[outside].mean(axis=0)))
    with pytest.raises(ValueError, match="baseline window 20–30 h lies outside the data"):
        divide_by_white(curves, baseline=(20, 30))


def _uneven_noise_cube(noisy_channel: int = 4, factor: float = 4.0, n_int: int = 300, seed: int = 8) -> Cube:
    """Six flat channels (one wavelength each) with the same noise but one ``factor`` times noisier."""
    rng = np.random.default_rng(seed)
    wavelength = np.linspace(1.0, 3.0, 6)
    error = np.full((n_int, 6), 0.002)
    error[:, noisy_channel] *= factor
    flux = 1.0 + rng.standard_normal((n_int, 6)) * error
    return small_cube(flux, error, wavelength)


def test_a_noisy_channel_moves_its_neighbours_apart_instead_of_overlapping_them():
    curves = spectroscopic_light_curves(_uneven_noise_cube(), n=6)
    stacked, offsets = curves.offset_stacked()
    sigma = 1.4826 * np.nanmedian(np.abs(curves.centred()), axis=0)
    low, high = np.nanpercentile(stacked, [2.5, 97.5], axis=0)
    assert np.all(low[:-1] > high[1:]), "a curve reaches into its neighbour's"
    assert -offsets[1] >= 5.0 * np.median(sigma)  # never closer than 5 robust σ of the typical channel
    # the figure spaces what it draws by the same rule: binned curves are closer (less scatter), never overlapping
    from stamp_engine.science_figures import channel_light_curves_figure
    for bin_time in (1, 5):
        fig = channel_light_curves_figure(curves, bin_time=bin_time)
        drawn = np.column_stack([np.asarray(t.y, dtype=float) for t in fig.data])
        low, high = np.nanpercentile(drawn, [2.5, 97.5], axis=0)
        assert np.all(low[:-1] > high[1:]), bin_time


@pytest.mark.parametrize("wavelength", [np.array([1.1025, 1.5875, 2.0725, 2.5575]),  # a 4-channel Eureka! S4 file
                                        np.array([1.0, 1.2, 2.0, 2.9])])                # uneven
def test_a_channel_holding_one_sample_is_labelled_with_that_samples_wavelength(wavelength):
    rng = np.random.default_rng(5)
    flux = 1.0 + 0.001 * rng.standard_normal((30, wavelength.size))
    curves = spectroscopic_light_curves(small_cube(flux, np.full_like(flux, 0.001), wavelength), n=10)
    assert curves.wavelength.size == wavelength.size
    np.testing.assert_array_equal(curves.wavelength, wavelength)
    # each channel spans its sample's pixel (halfway to the neighbours), which holds the sample
    middles = 0.5 * (wavelength[1:] + wavelength[:-1])
    np.testing.assert_allclose(curves.edges[1:, 0], middles)
    np.testing.assert_allclose(curves.edges[:-1, 1], middles)
    assert np.all((curves.edges[:, 0] < wavelength) & (wavelength < curves.edges[:, 1]))
    np.testing.assert_allclose(curves.flux, flux, rtol=1e-15)  # one sample: the channel's curve is that sample's


@pytest.mark.parametrize("with_baseline", [True, False])
def test_divide_by_white_takes_each_visits_own_level(with_baseline):
    # visit 1 is redder by 1 % per µm (another spot coverage, or another per-visit reference
    # spectrum): one level r0 for both visits left the residuals of each visit ~±0.3 % off zero
    # (without a baseline the median is pulled by a chromatic transit, as documented: a grey one here)
    obs = make_observation("transit", n_integrations=400, n_visits=2, wavelength=np.linspace(1, 3, 60), seed=3,
                           transit_visits=(0,), snr=3000, depth=None if with_baseline else 0.015)
    redder = np.where(obs.visit[:, None] == 1, 1 + 0.01 * (obs.wavelength - 2.0), 1.0)
    cube = obs.to_cube().replace(flux=obs.flux * redder, error=obs.error * redder)
    first, last = obs.truth["visit_bounds_hours"][0]
    span = last - first
    baseline = [(first, first + 0.25 * span), (first + 0.75 * span, last), obs.truth["visit_bounds_hours"][1]]
    residuals = divide_by_white(cube.channels(n=6), baseline=baseline if with_baseline else None)
    out = np.all(obs.model == 1.0, axis=1)
    for visit in (0, 1):
        rows = out & (obs.visit == visit)
        mean = np.nanmean(residuals.flux[rows], axis=0)
        typical = np.nanmedian(residuals.error[rows], axis=0) / np.sqrt(rows.sum())
        assert np.all(np.abs(mean) < 5 * typical), (visit, mean, typical)
    assert "of each visit" in residuals.description
