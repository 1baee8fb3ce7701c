"""Processing steps on a Cube: values against a known injected signal, not just shapes."""

from __future__ import annotations

import tracemalloc
import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time

from stamp_engine import steps as stamp_steps
from stamp_engine.statistics import nanmedian_over_time
from stamp_engine.steps.smooth import _gaussian_kernel
from stamp_engine.bands import Band
from stamp_engine.cube import Cube
from stamp_engine.synthetic import make_observation


def cube_from(obs, **changes) -> Cube:
    return obs.to_cube(**changes)


def plain_cube(flux: np.ndarray, error: np.ndarray | None = None, hours: np.ndarray | None = None, **fields) -> Cube:
    n_int, n_wave = flux.shape
    hours = np.arange(n_int) / 60.0 if hours is None else np.asarray(hours, dtype=float)
    return Cube(
        np.linspace(1.0, 2.0, n_wave),
        Time(60200.0 + hours / 24.0, format="mjd", scale="tdb"),
        flux,
        np.full(flux.shape, 0.01) if error is None else error,
        u.Jy,
        **fields,
    )


def nanmedian(values, axis=0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns are expected
        return np.nanmedian(values, axis=axis)


@pytest.fixture(scope="module")
def transit():
    return make_observation("transit", n_integrations=400, snr=2000.0, nan_columns=(5, 6), seed=3)


@pytest.fixture(scope="module")
def transit_cube(transit):
    return cube_from(transit)


def flat_bottom_rows(obs) -> np.ndarray:
    """Integrations inside the flat bottom of the (single-visit) transit."""
    return np.flatnonzero(np.all(obs.model == 1.0 - obs.truth["depth"][None, :], axis=1))


def out_of_transit_window(obs) -> tuple[float, float]:
    """Hours of the pre-transit baseline: everything before ingress starts."""
    first_in = np.flatnonzero(np.any(obs.model < 1.0, axis=1))[0]
    return 0.0, float(obs.hours[first_in - 1])


# --------------------------------------------------------------------------- median
@pytest.mark.parametrize("n_rows", [1, 2, 7, 598, 601, 1200])
def test_nanmedian_over_time_equals_numpy_exactly(n_rows):
    rng = np.random.default_rng(n_rows)
    values = rng.standard_normal((n_rows, 97)) * 3.0 + 10.0
    values[rng.random(values.shape) < 0.07] = np.nan  # scattered missing values
    values[:, 4] = np.nan  # a dead column
    values[: n_rows // 2, 9] = np.nan  # half missing
    values[:, 11] = values[0, 11]  # ties
    values[:, 13] = np.round(values[:, 13])  # many ties
    assert np.array_equal(nanmedian_over_time(values), nanmedian(values), equal_nan=True)
    mask = rng.random(n_rows) < 0.6
    assert np.array_equal(nanmedian_over_time(values, mask), nanmedian(values[mask]), equal_nan=True)
    indices = np.flatnonzero(mask)
    assert np.array_equal(nanmedian_over_time(values, indices), nanmedian(values[indices]), equal_nan=True)
    strided = slice(1, None, 3)
    assert np.array_equal(nanmedian_over_time(values, strided), nanmedian(values[strided]), equal_nan=True)


def test_median_normalization_reference_equals_nanmedian(transit):
    flux = transit.flux.copy()
    flux[np.random.default_rng(0).random(flux.shape) < 0.01] = np.nan
    cube = cube_from(transit, flux=flux)
    var = stamp_steps.normalize(cube)
    expected = nanmedian(flux)
    assert var.reference.shape == (1, cube.n_wavelengths)
    assert np.array_equal(var.reference[0], expected, equal_nan=True)
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(var.flux, (flux / expected - 1.0) * 100.0, rtol=0, atol=1e-11, equal_nan=True)
        np.testing.assert_allclose(var.error, 100.0 * cube.error / expected, rtol=1e-14, equal_nan=True)
    assert var.flux_unit == u.percent and var.reference_unit == u.Jy
    assert var.is_normalized and var.value_label == "Variability (%)"
    assert np.isnan(var.flux[:, [5, 6]]).all()  # dead columns stay missing
    assert "median over all 400 integrations" in var.history[-1]


# --------------------------------------------------------------------------- normalize: science
def test_baseline_normalization_recovers_transit_depth_per_wavelength(transit, transit_cube):
    var = stamp_steps.normalize(transit_cube, method="baseline", baseline=out_of_transit_window(transit))
    bottom = flat_bottom_rows(transit)
    assert bottom.size > 50
    good = np.setdiff1d(np.arange(transit_cube.n_wavelengths), transit.truth["nan_columns"])
    depth = -np.mean(var.flux[bottom][:, good], axis=0)  # %
    truth = 100.0 * transit.truth["depth"][good]
    n_base = var.meta["normalization"]["integrations"][0]
    sigma_point = var.error[bottom][:, good].mean(axis=0)
    # scatter of a mean over the bottom plus the (common-mode) error of the median reference
    sigma = np.sqrt(sigma_point**2 / bottom.size + (1.2533 * sigma_point) ** 2 / n_base)
    z = (depth - truth) / sigma
    assert np.max(np.abs(z)) < 5.0
    assert 0.6 < np.mean(z**2) < 1.5  # the errors are the right size, not just generous
    # out of transit, after the baseline: flat at zero
    assert abs(np.mean(var.flux[-40:, good])) < 5 * np.mean(sigma_point) / np.sqrt(40 * good.size)


def test_band_light_curves_recover_transit_depth(transit, transit_cube):
    var = stamp_steps.normalize(transit_cube, method="baseline", baseline=out_of_transit_window(transit))
    bottom = flat_bottom_rows(transit)
    for band in (Band("H2O 1.4", 1.3, 1.5), Band("CO2 4.3", 4.2, 4.45), Band("continuum", 3.6, 4.0)):
        curve = stamp_steps.band_light_curve(var, band)
        inside = band.mask(var.wavelength)
        weights = 1.0 / var.error[bottom[0], inside] ** 2
        truth = 100.0 * np.sum(weights * transit.truth["depth"][inside]) / np.sum(weights)
        depth = -np.mean(curve.value[bottom])
        sigma_mean = np.mean(curve.error[bottom]) / np.sqrt(bottom.size)
        n_base = var.meta["normalization"]["integrations"][0]
        sigma = np.hypot(sigma_mean, 1.2533 * np.mean(curve.error) / np.sqrt(n_base))
        assert abs(depth - truth) < 5 * sigma, band.name
        # the scatter out of transit matches the propagated error
        assert 0.8 < np.std(curve.value[-60:]) / np.mean(curve.error[-60:]) < 1.25
        assert curve.unit == u.percent and curve.band == (band.start, band.end)
    # the CO2 band is deeper than the continuum: the injected feature is seen
    co2 = -np.mean(stamp_steps.band_light_curve(var, Band("CO2", 4.25, 4.35)).value[bottom])
    cont = -np.mean(stamp_steps.band_light_curve(var, Band("cont", 3.7, 3.9)).value[bottom])
    assert co2 - cont > 0.2  # % (injected ≈ 0.3 %)


def fitted_amplitude(hours, value, error, period):
    """Least-squares semi-amplitude of a sinusoid of known period, and its 1-σ error."""
    angle = 2 * np.pi * hours / period
    design = np.column_stack([np.sin(angle), np.cos(angle), np.ones_like(hours)]) / error[:, None]
    coeffs, *_ = np.linalg.lstsq(design, value / error, rcond=None)
    covariance = np.linalg.inv(design.T @ design)
    amplitude = np.hypot(coeffs[0], coeffs[1])
    gradient = np.array([coeffs[0], coeffs[1]]) / amplitude
    return amplitude, float(np.sqrt(gradient @ covariance[:2, :2] @ gradient))


def test_variability_amplitude_per_band_recovered():
    obs = make_observation("variability", n_integrations=360, snr=1000.0, seed=11)
    var = stamp_steps.normalize(cube_from(obs))
    period = obs.truth["period_hours"]
    for band in (Band("H2O 1.4", 1.3, 1.5), Band("continuum", 3.6, 4.0), Band("CO2 4.3", 4.2, 4.45)):
        curve = stamp_steps.band_light_curve(var, band)
        amplitude, sigma = fitted_amplitude(curve.hours, curve.value, curve.error, period)
        inside = band.mask(obs.wavelength)
        # expected: the noise-free model through the same definition, averaged over the band
        model = obs.model[:, inside]
        expected_curve = np.mean((model / np.median(model, axis=0) - 1.0) * 100.0, axis=1)
        expected, _ = fitted_amplitude(curve.hours, expected_curve, np.ones_like(expected_curve), period)
        assert abs(amplitude - expected) < 5 * sigma, band.name
        # and the injected amplitude (phases differ across the band, so average as phasors)
        truth = 100.0 * abs(np.mean(obs.truth["amplitude"][inside] * np.exp(1j * obs.truth["phase"][inside])))
        assert amplitude == pytest.approx(truth, rel=0.05), band.name


def test_visit_normalization_removes_level_differences_between_visits():
    obs = make_observation("transit", n_integrations=400, n_visits=2, seed=5)
    flux = obs.flux.copy()
    flux[obs.visit == 1] *= 1.10  # the star (or the detector) is 10 % brighter in visit 2
    cube = cube_from(obs, flux=flux, error=obs.error * np.where(obs.visit == 1, 1.10, 1.0)[:, None])
    per_visit = stamp_steps.normalize(cube, method="visit")
    overall = stamp_steps.normalize(cube)
    assert per_visit.reference.shape == (2, cube.n_wavelengths)
    np.testing.assert_allclose(per_visit.reference[1] / per_visit.reference[0], 1.10, rtol=2e-3)
    assert np.array_equal(overall.reference[0], overall.reference[1])
    out_of_transit = np.all(obs.model == 1.0, axis=1)
    levels = [np.mean(per_visit.flux[out_of_transit & (obs.visit == v)]) for v in (0, 1)]
    # the level change is gone: both visits sit at the same small offset (the median of a
    # visit with a transit lies a little below the out-of-transit flux, by < 1σ = 0.05 %)
    assert abs(levels[1] - levels[0]) < 0.01 and all(0 <= level < 0.05 for level in levels)
    level_gap = np.mean(overall.flux[out_of_transit & (obs.visit == 1)]) - np.mean(
        overall.flux[out_of_transit & (obs.visit == 0)]
    )
    # one reference between the two levels: visit 2 sits 10 %·(S/reference) ∈ [9.1, 10] % higher
    assert 9.0 < level_gap < 10.1
    assert per_visit.meta["normalization"] == {"method": "visit", "integrations": [200, 200]}


def test_normalized_errors_match_monte_carlo():
    rng = np.random.default_rng(7)
    n_int, n_wave, draws = 200, 16, 400
    truth = np.linspace(0.2, 3.0, n_wave) * (1.0 + 0.01 * np.sin(np.arange(n_int) / 9.0))[:, None]
    sigma = 0.002 * np.linspace(1.0, 4.0, n_wave)[None, :] * np.ones((n_int, 1))
    realizations, propagated = [], []
    template = plain_cube(truth.copy(), sigma)
    for _ in range(draws):
        noisy = template.replace(flux=truth + rng.standard_normal(truth.shape) * sigma)
        var = stamp_steps.normalize(noisy)
        realizations.append(var.flux)
        propagated.append(var.error)
    scatter = np.std(realizations, axis=0, ddof=1)
    ratio = scatter / np.mean(propagated, axis=0)
    # The neglected reference error adds (1.2533²/N) to the variance: a 0.4 % effect here.
    assert np.mean(ratio) == pytest.approx(np.sqrt(1 + 1.2533**2 / n_int), abs=0.01)
    assert np.all(np.abs(ratio.mean(axis=0) - 1.0) < 0.03)  # every wavelength, errors 1×–4× different


def test_normalize_refuses_bad_requests(transit_cube):
    var = stamp_steps.normalize(transit_cube)
    with pytest.raises(ValueError, match="already normalized"):
        stamp_steps.normalize(var)
    with pytest.raises(ValueError, match="holds no integrations"):
        stamp_steps.normalize(transit_cube, method="baseline", baseline=(50.0, 60.0))
    with pytest.raises(ValueError, match="needs baseline"):
        stamp_steps.normalize(transit_cube, method="baseline")
    with pytest.raises(ValueError, match="only applies"):
        stamp_steps.normalize(transit_cube, baseline=(0.0, 1.0))
    with pytest.raises(ValueError, match="method must be"):
        stamp_steps.normalize(transit_cube, method="mean")
    with pytest.raises(ValueError, match="reversed"):
        stamp_steps.normalize(transit_cube, method="baseline", baseline=(2.0, 1.0))


def test_zero_or_missing_reference_gives_nan_not_infinity():
    flux = np.ones((20, 4))
    flux[:, 1] = 0.0
    flux[:, 2] = -2.0 + 0.1 * np.arange(20) / 20  # negative fluxes (background-subtracted) still work
    flux[:, 3] = np.nan
    var = stamp_steps.normalize(plain_cube(flux))
    assert np.isnan(var.flux[:, 1]).all() and np.isnan(var.error[:, 1]).all()
    assert np.isnan(var.flux[:, 3]).all()
    reference = np.median(flux[:, 2])
    np.testing.assert_allclose(var.flux[:, 2], (flux[:, 2] / reference - 1) * 100, atol=1e-12)
    assert np.all(var.error[:, 2] > 0)  # σ/|reference|


def test_normalize_allocates_only_its_two_output_arrays():
    rng = np.random.default_rng(2)
    flux = rng.random((2000, 2040)) + 1.0
    flux[rng.random(flux.shape) < 1e-3] = np.nan
    cube = plain_cube(flux, flux * 0.01)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        var = stamp_steps.normalize(cube, method="visit")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    full_array = flux.nbytes
    assert (peak - before) <= 2.15 * full_array  # variability + its error, and a few MB of scratch
    assert var.flux.shape == flux.shape


# --------------------------------------------------------------------------- visits, select, limit
def test_split_visits_at_gaps():
    hours = np.concatenate([np.arange(50) / 60.0, 3.0 + np.arange(30) / 60.0, 4.1 + np.arange(20) / 60.0])
    cube = plain_cube(np.repeat([1.0, 2.0, 3.0], [50, 30, 20])[:, None] * np.ones((1, 3)), hours=hours)
    split = stamp_steps.split_visits(cube, gap_hours=0.5)
    assert np.array_equal(split.visit, np.repeat([0, 1, 2], [50, 30, 20]))
    assert split.n_visits == 3
    coarse = stamp_steps.split_visits(cube, gap_hours=2.0)
    assert np.array_equal(coarse.visit, np.repeat([0, 1], [50, 50]))
    with pytest.raises(ValueError, match="positive"):
        stamp_steps.split_visits(cube, gap_hours=0)
    # a per-visit normalization cannot be relabelled silently
    per_visit = stamp_steps.normalize(split, method="visit")
    with pytest.raises(ValueError, match="normalized per visit"):
        stamp_steps.split_visits(per_visit, gap_hours=2.0)
    # a global one can: the single reference applies to every new visit
    relabelled = stamp_steps.split_visits(stamp_steps.normalize(coarse), gap_hours=0.5)
    assert relabelled.reference.shape == (3, 3)


def test_select_wavelength_and_time_ranges():
    obs = make_observation("transit", n_integrations=300, n_visits=2, seed=2)
    cube = cube_from(obs)
    var = stamp_steps.normalize(cube, method="visit")
    part = stamp_steps.select(var, wavelength=(1.0, 2.0))
    inside = (obs.wavelength >= 1.0) & (obs.wavelength <= 2.0)
    assert np.array_equal(part.wavelength, obs.wavelength[inside])
    assert np.array_equal(part.flux, var.flux[:, inside])
    assert np.array_equal(part.reference, var.reference[:, inside])
    assert np.shares_memory(part.flux, var.flux)  # contiguous selections are views
    # the second visit alone: renumbered visit 0, keeping its own reference
    second = stamp_steps.select(var, hours=(10.0, 100.0))
    assert second.n_integrations == 150 and np.all(second.visit == 0)
    assert np.array_equal(second.reference[0], var.reference[1])
    assert np.array_equal(second.time.mjd, var.time.mjd[150:])
    with pytest.raises(ValueError, match="no wavelengths between 6 and 7 µm"):
        stamp_steps.select(cube, wavelength=(6.0, 7.0))
    with pytest.raises(ValueError, match="no integrations between"):
        stamp_steps.select(cube, hours=(2000.0, 3000.0))


@pytest.mark.parametrize("n", [1, 2, 7, 99, 100, 299])
def test_limit_keeps_evenly_spaced_integrations(transit_cube, n):
    total = transit_cube.n_integrations
    kept = stamp_steps.limit(transit_cube, n)
    rows = kept.integration - 1
    assert kept.n_integrations == n
    assert rows[0] == 0
    if n >= 2:
        assert rows[-1] == total - 1
        steps = np.diff(rows)
        assert steps.min() >= 1 and steps.max() - steps.min() <= 1  # as even as whole rows allow
    assert np.array_equal(kept.flux, transit_cube.flux[rows], equal_nan=True)


def test_limit_zero_or_large_keeps_everything(transit_cube):
    for n in (0, transit_cube.n_integrations, 10**6):
        assert stamp_steps.limit(transit_cube, n).n_integrations == transit_cube.n_integrations
    with pytest.raises(ValueError, match="whole number"):
        stamp_steps.limit(transit_cube, -1)


# --------------------------------------------------------------------------- interpolate_gaps
def linear_cube_with_gaps(cadence_min: float = 1.0):
    hours = np.arange(200) * cadence_min / 60.0
    keep = np.ones(200, dtype=bool)
    keep[40:55] = False
    keep[120:121] = False  # a single missing integration
    keep[150:190] = False
    slope = np.linspace(-2.0, 3.0, 6)
    flux = 5.0 + hours[:, None] * slope[None, :]
    error = 0.1 + 0.05 * hours[:, None] * np.ones((1, 6))
    visit = np.concatenate([[0], np.cumsum(np.diff(hours[keep]) > 0.2)]).astype(np.int32)
    cube = plain_cube(flux[keep], error[keep], hours=hours[keep], visit=visit)
    return cube, hours, flux, error, keep


def assert_measured_rows_kept(filled, cube):
    """Every integration of ``cube`` is in ``filled`` bit for bit (values, errors, times), in order."""
    real = ~filled.meta["interpolated"]
    assert np.count_nonzero(real) == cube.n_integrations
    np.testing.assert_array_equal(filled.flux[real], cube.flux)
    np.testing.assert_array_equal(filled.error[real], cube.error)
    np.testing.assert_array_equal(filled.time.jd1[real], cube.time.jd1)
    np.testing.assert_array_equal(filled.time.jd2[real], cube.time.jd2)
    np.testing.assert_array_equal(filled.integration[real], cube.integration)
    assert np.all(filled.integration[~real] == 0) and np.isnan(filled.error[~real]).all()
    assert np.all(np.diff(filled.time.mjd) > 0)


def test_interpolate_gaps_fills_only_inside_visits_by_default():
    cube, hours, flux, error, keep = linear_cube_with_gaps()
    assert cube.n_visits == 3  # the 15- and 40-integration gaps split visits, the single one does not
    filled = stamp_steps.interpolate_gaps(cube)
    assert filled.n_integrations == cube.n_integrations + 1 and filled.n_visits == 3
    assert_measured_rows_kept(filled, cube)
    made = filled.meta["interpolated"]
    np.testing.assert_allclose(filled.hours[made], [hours[120]], rtol=0, atol=1e-9)
    np.testing.assert_allclose(filled.flux[made], flux[120:121], rtol=0, atol=2e-9)
    assert "1 row(s) added in 1 gap(s) inside visits" in filled.history[-1]


def test_interpolate_gaps_across_visits_reproduces_a_linear_signal():
    cube, hours, flux, error, keep = linear_cube_with_gaps()
    filled = stamp_steps.interpolate_gaps(cube, across_visits=True)
    assert filled.n_integrations == 200 and filled.n_visits == 1
    np.testing.assert_allclose(filled.hours, hours, atol=1e-9)
    # exact up to the time resolution of an MJD float64 (~1e-10 h)
    np.testing.assert_allclose(filled.flux, flux, rtol=0, atol=2e-9)
    assert np.array_equal(filled.meta["interpolated"], ~keep)
    assert_measured_rows_kept(filled, cube)
    assert "one visit" in filled.history[-1]


def test_interpolate_gaps_keeps_real_integrations_when_the_visit_gap_is_not_whole_cadences():
    """Issue 9.2: 824 integrations in two visits; the old uniform grid kept only 185 of them."""
    obs = make_observation("transit", n_integrations=824, n_visits=2, visit_gap_hours=3.01234,
                           wavelength=np.linspace(1, 2, 8), seed=11)
    drop = np.array([100, 101, 102, 500, 700])  # missing integrations inside the visits
    cube = cube_from(obs).take(np.setdiff1d(np.arange(824), drop))
    filled = stamp_steps.interpolate_gaps(cube)
    assert filled.n_integrations == 824 and filled.n_visits == 2
    assert_measured_rows_kept(filled, cube)
    made = filled.meta["interpolated"]
    np.testing.assert_allclose(filled.hours[made], obs.hours[drop], rtol=0, atol=1e-8)
    np.testing.assert_array_equal(filled.visit, obs.visit)
    joined = stamp_steps.interpolate_gaps(cube, across_visits=True)
    cadence = 60.0 / 3600
    gap = obs.hours[412] - obs.hours[411]
    n_between = int(np.floor(gap / cadence + 0.5)) - 1
    assert joined.n_integrations == 824 + n_between and joined.n_visits == 1
    assert_measured_rows_kept(joined, cube)
    between = joined.meta["interpolated"] & (joined.hours > obs.hours[411]) & (joined.hours < obs.hours[412])
    assert np.count_nonzero(between) == n_between
    steps = np.diff(joined.hours[(joined.hours >= obs.hours[411]) & (joined.hours <= obs.hours[412])])
    assert steps.max() - steps.min() < 1e-6 and abs(steps.mean() - cadence) < cadence / n_between
    # max_integrations is a limit on the rows returned
    assert stamp_steps.interpolate_gaps(cube, max_integrations=824 + n_between, across_visits=True).n_integrations \
        == 824 + n_between
    with pytest.raises(ValueError, match=f"would make {824 + n_between} integrations from 819 \\(limit 900\\)"):
        stamp_steps.interpolate_gaps(cube, max_integrations=900, across_visits=True)


def test_cube_and_processing_interpolate_gaps_share_one_signature():
    import inspect

    ours = list(inspect.signature(Cube.interpolate_gaps).parameters.values())[1:]
    engine = list(inspect.signature(stamp_steps.interpolate_gaps).parameters.values())[1:]
    assert [(p.name, p.kind, p.default) for p in ours] == [(p.name, p.kind, p.default) for p in engine]
    cube, *_ = linear_cube_with_gaps()
    via_method = cube.interpolate_gaps(None, 500, across_visits=True)
    assert np.array_equal(via_method.flux, stamp_steps.interpolate_gaps(cube, None, 500, across_visits=True).flux)


def test_interpolate_gaps_never_extrapolates():
    cube, *_ = linear_cube_with_gaps()
    for cadence in (0.7 / 60, 1.3 / 60, 0.25):
        filled = stamp_steps.interpolate_gaps(cube, cadence_hours=cadence, across_visits=True)
        assert filled.time.mjd[0] == cube.time.mjd[0] and filled.time.mjd[-1] == cube.time.mjd[-1]
        assert_measured_rows_kept(filled, cube)
        assert np.all(np.diff(filled.hours) > 0)
        lo, hi = cube.flux.min(axis=0), cube.flux.max(axis=0)
        assert np.all((filled.flux >= lo - 1e-9) & (filled.flux <= hi + 1e-9))
    with pytest.raises(ValueError, match="larger cadence_hours"):
        stamp_steps.interpolate_gaps(cube, cadence_hours=1e-5)


def test_interpolate_gaps_keeps_nan_neighbours_missing():
    cube, *_ = linear_cube_with_gaps()
    flux = cube.flux.copy()
    flux[39, 2] = np.nan  # last row before the first gap
    filled = stamp_steps.interpolate_gaps(cube.replace(flux=flux), across_visits=True)
    assert np.isnan(filled.flux[39:55, 2]).all()
    assert np.isfinite(filled.flux[39:55, 3]).all()


def test_splitting_visits_again_replaces_the_history_line():
    """Issue 9.7: load splits visits and the dashboard/render split again: the package README listed both."""
    cube = cube_from(make_observation("transit", n_integrations=40, n_visits=2, seed=2))
    twice = stamp_steps.split_visits(stamp_steps.split_visits(cube, 0.5), 0.5)
    assert [h for h in twice.history if h.startswith("split visits")] == ["split visits at time gaps > 0.5 h: 2 visit(s)"]
    after_a_step = stamp_steps.split_visits(stamp_steps.normalize(stamp_steps.split_visits(cube, 0.5)), 30.0)
    assert [h for h in after_a_step.history if h.startswith("split visits")] == [
        "split visits at time gaps > 0.5 h: 2 visit(s)", "split visits at time gaps > 30 h: 1 visit(s)"]


# --------------------------------------------------------------------------- bin
def test_bin_conserves_mean_and_scales_errors_as_inverse_sqrt_n():
    rng = np.random.default_rng(4)
    flux = 3.0 + rng.standard_normal((120, 40))
    cube = plain_cube(flux, np.full(flux.shape, 0.2))
    for t, w in ((4, 1), (1, 4), (2, 5), (3, 8)):
        binned = stamp_steps.bin(cube, time=t, wavelength=w)
        assert binned.shape == (120 // t, 40 // w)
        assert np.mean(binned.flux) == pytest.approx(np.mean(flux), rel=1e-13)
        np.testing.assert_allclose(binned.error, 0.2 / np.sqrt(t * w), rtol=1e-13)
        np.testing.assert_allclose(binned.flux[0, 0], flux[:t, :w].mean(), rtol=1e-13)
        np.testing.assert_allclose(binned.wavelength, cube.wavelength.reshape(-1, w).mean(axis=1), rtol=1e-13)
        bin_hours = (binned.time.mjd - cube.time.mjd[0]) * 24.0
        np.testing.assert_allclose(bin_hours, cube.hours.reshape(-1, t).mean(axis=1), atol=1e-9)
    # the scatter of binned noise shrinks like the propagated error
    assert np.std(stamp_steps.bin(cube, time=4, wavelength=4).flux) == pytest.approx(1 / 4, rel=0.15)


def test_bins_stay_within_a_visit_and_keep_partial_bins():
    levels = np.repeat([1.0, 2.0, 4.0], [10, 7, 5])
    cube = plain_cube(levels[:, None] * np.ones((1, 5)), visit=np.repeat([0, 1, 2], [10, 7, 5]).astype(np.int32))
    binned = stamp_steps.bin(cube, time=4)
    # 10 → 4+4+2, 7 → 4+3, 5 → 4+1
    assert np.array_equal(binned.visit, [0, 0, 0, 1, 1, 2, 2])
    assert np.array_equal(binned.flux[:, 0], [1, 1, 1, 2, 2, 4, 4])  # no bin mixes visits
    np.testing.assert_allclose(binned.error[:, 0], 0.01 / np.sqrt([4, 4, 2, 4, 3, 4, 1]))
    partial = stamp_steps.bin(cube, wavelength=3)
    assert partial.n_wavelengths == 2
    np.testing.assert_allclose(partial.error[0], 0.01 / np.sqrt([3, 2]))


def test_bin_is_nan_aware_for_mean_and_median():
    rng = np.random.default_rng(8)
    flux = rng.standard_normal((30, 12)) + 10
    flux[rng.random(flux.shape) < 0.2] = np.nan
    flux[0:3, 0:2] = np.nan  # an empty bin
    error = np.full(flux.shape, 0.5)
    cube = plain_cube(flux, error)
    blocks = flux.reshape(10, 3, 6, 2).transpose(0, 2, 1, 3).reshape(10, 6, 6)
    n = np.isfinite(blocks).sum(axis=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = stamp_steps.bin(cube, time=3, wavelength=2, method="mean")
        median = stamp_steps.bin(cube, time=3, wavelength=2, method="median")
        np.testing.assert_allclose(mean.flux, np.nanmean(blocks, axis=2), rtol=1e-13, equal_nan=True)
        np.testing.assert_allclose(mean.error, np.where(n > 0, 0.5 / np.sqrt(n), np.nan), rtol=1e-13)
        assert np.array_equal(median.flux, np.nanmedian(blocks, axis=2), equal_nan=True)
    factor = np.where(n >= 3, 1.2533, 1.0)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(median.error, np.where(n > 0, factor * 0.5 / np.sqrt(n), np.nan), rtol=1e-4)
    assert np.isnan(mean.flux[0, 0]) and np.isnan(median.flux[0, 0]) and np.isnan(mean.error[0, 0])


def test_bin_refuses_bad_sizes(transit_cube):
    for bad in (0, -2, 1.5):
        with pytest.raises(ValueError, match="whole number"):
            stamp_steps.bin(transit_cube, time=bad)
    with pytest.raises(ValueError, match="method"):
        stamp_steps.bin(transit_cube, time=2, method="max")


# --------------------------------------------------------------------------- smooth, clip
def test_smooth_keeps_nan_preserves_constants_and_propagates_errors():
    flux = np.full((60, 30), 7.5)
    holes = np.zeros(flux.shape, dtype=bool)
    holes[10, 3] = holes[30:33, 12] = True
    holes[:, 20] = True  # a dead column
    flux[holes] = np.nan
    cube = plain_cube(flux, np.full(flux.shape, 0.3))
    smoothed = stamp_steps.smooth(cube, sigma_time=2.0, sigma_wavelength=1.5)
    assert np.array_equal(np.isnan(smoothed.flux), holes)
    np.testing.assert_allclose(smoothed.flux[~holes], 7.5, rtol=1e-13)
    # far from holes and edges the error shrinks by √(Σk²) along each axis
    k_t, k_w = _gaussian_kernel(2.0), _gaussian_kernel(1.5)
    expected = 0.3 * np.sqrt(np.sum(k_t**2) * np.sum(k_w**2))
    assert smoothed.error[50, 7] == pytest.approx(expected, rel=1e-12)
    assert np.all(smoothed.error[~holes] > expected * 0.999)  # edges and holes: fewer neighbours


def test_smooth_matches_scipy_gaussian_filter_within_each_visit():
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(12)
    visit = np.repeat([0, 1], [70, 4]).astype(np.int32)  # the second visit is shorter than the kernel
    flux = rng.standard_normal((74, 25)) + 3.0
    cube = plain_cube(flux, np.full(flux.shape, 0.2), visit=visit)
    smoothed = stamp_steps.smooth(cube, sigma_time=2.5, sigma_wavelength=1.2)
    for rows in (slice(0, 70), slice(70, 74)):
        ones = np.ones_like(flux[rows])
        expected = gaussian_filter(flux[rows], (2.5, 1.2), mode="constant") / gaussian_filter(
            ones, (2.5, 1.2), mode="constant"
        )
        np.testing.assert_allclose(smoothed.flux[rows], expected, rtol=1e-12)
    # the same answer through the NaN-aware path (one missing value far away)
    holed = flux.copy()
    holed[0, 0] = np.nan
    other = stamp_steps.smooth(cube.replace(flux=holed), sigma_time=2.5, sigma_wavelength=1.2)
    np.testing.assert_allclose(other.flux[40:70], smoothed.flux[40:70], rtol=1e-12)
    np.testing.assert_allclose(other.error[40:70], smoothed.error[40:70], rtol=1e-12)


def test_smooth_does_not_mix_visits_and_reduces_noise():
    rng = np.random.default_rng(3)
    visit = np.repeat([0, 1], 100).astype(np.int32)
    level = np.where(visit == 0, 1.0, 5.0)[:, None]
    flux = level + 0.1 * rng.standard_normal((200, 20))
    cube = plain_cube(flux, np.full(flux.shape, 0.1), visit=visit)
    smoothed = stamp_steps.smooth(cube, sigma_time=3.0)
    assert np.abs(smoothed.flux[95:100] - 1.0).max() < 0.2  # no leak of the 5.0 level
    assert np.abs(smoothed.flux[100:105] - 5.0).max() < 0.2
    assert np.std(smoothed.flux[20:80] - 1.0) < 0.5 * np.std(flux[20:80] - 1.0)
    assert stamp_steps.smooth(cube).flux is cube.flux  # σ = 0: nothing to do
    with pytest.raises(ValueError, match="sigma_time"):
        stamp_steps.smooth(cube, sigma_time=-1)


def test_clip_removes_injected_outlier_but_not_the_transit(transit, transit_cube):
    flux = transit_cube.flux.copy()
    flux[200, 100] += 0.5 * flux[200, 100]  # a cosmic ray
    flux[30, 300] -= 0.2 * flux[30, 300]
    cube = transit_cube.replace(flux=flux)
    clipped = stamp_steps.clip(cube, sigma=5)
    assert np.isnan(clipped.flux[200, 100]) and np.isnan(clipped.flux[30, 300])
    assert np.isnan(clipped.error[200, 100])
    newly = np.isnan(clipped.flux) & np.isfinite(flux)
    assert np.array_equal(np.argwhere(newly), [[30, 300], [200, 100]])  # the transit itself survives
    assert "clip: " in clipped.history[-1]
    with pytest.raises(ValueError, match="sigma"):
        stamp_steps.clip(cube, sigma=0)


# --------------------------------------------------------------------------- light curves
def test_light_curve_weights_ignore_zero_errors_and_fall_back_without_errors():
    flux = np.array([[1.0, 2.0, 100.0, np.nan], [3.0, 5.0, np.nan, 7.0]])
    error = np.array([[1.0, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    cube = plain_cube(flux, error)
    curve = stamp_steps.white_light_curve(cube)
    assert curve.name == "White light"
    # row 0: the 100 with σ = 0 ("unknown") carries no weight; weights 1 and 4
    assert curve.value[0] == pytest.approx((1.0 * 1 + 2.0 * 4) / 5)
    assert curve.error[0] == pytest.approx(1 / np.sqrt(5))
    # row 1: no usable error at all → plain mean, error = sample std / √N
    assert curve.value[1] == pytest.approx(5.0)
    assert curve.error[1] == pytest.approx(np.std([3.0, 5.0, 7.0], ddof=1) / np.sqrt(3))
    assert curve.band == (1.0, 2.0) and curve.unit == u.Jy


def test_white_light_curve_equals_weighted_mean(transit_cube):
    curve = stamp_steps.white_light_curve(transit_cube)
    good = np.isfinite(transit_cube.flux[0]) & (transit_cube.error[0] > 0)
    w = 1 / transit_cube.error[:, good] ** 2
    np.testing.assert_allclose(curve.value, np.sum(w * transit_cube.flux[:, good], axis=1) / w.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(curve.error, 1 / np.sqrt(w.sum(axis=1)), rtol=1e-12)
    assert np.array_equal(curve.hours, transit_cube.hours) and np.array_equal(curve.visit, transit_cube.visit)


def test_band_outside_the_data_is_a_clear_error(transit_cube):
    with pytest.raises(ValueError, match=r"band 'MIRI' \(7–8 µm\) lies outside the data \(0.6–5.3 µm\)"):
        stamp_steps.band_light_curve(transit_cube, Band("MIRI", 7.0, 8.0))
    with pytest.raises(ValueError, match="no wavelength sample"):
        stamp_steps.band_light_curve(transit_cube, Band("sliver", 1.0001, 1.0002))


# --------------------------------------------------------------------------- purity
OPERATIONS = {
    "split_visits": lambda c: stamp_steps.split_visits(c, 0.5),
    "normalize": lambda c: stamp_steps.normalize(c),
    "normalize_visit": lambda c: stamp_steps.normalize(c, method="visit"),
    "normalize_baseline": lambda c: stamp_steps.normalize(c, method="baseline", baseline=(0, 1)),
    "select": lambda c: stamp_steps.select(c, wavelength=(1, 2), hours=(0, 2)),
    "limit": lambda c: stamp_steps.limit(c, 17),
    "interpolate_gaps": lambda c: stamp_steps.interpolate_gaps(c),
    "bin_mean": lambda c: stamp_steps.bin(c, time=3, wavelength=2),
    "bin_median": lambda c: stamp_steps.bin(c, time=3, wavelength=2, method="median"),
    "smooth": lambda c: stamp_steps.smooth(c, 1.5, 1.0),
    "clip": lambda c: stamp_steps.clip(c, 3.0),
    "band_light_curve": lambda c: stamp_steps.band_light_curve(c, Band("b", 1.3, 1.5)),
    "white_light_curve": stamp_steps.white_light_curve,
}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_operations_leave_the_input_unchanged(name):
    obs = make_observation("transit", n_integrations=120, n_visits=2, nan_columns=(4,), seed=9)
    cube = cube_from(obs)
    frozen = {
        field: np.array(getattr(cube, field), copy=True)
        for field in ("wavelength", "flux", "error", "visit", "integration", "source_index")
    }
    times, meta, history = cube.time.mjd.copy(), dict(cube.meta), cube.history
    result = OPERATIONS[name](cube)
    assert result is not cube
    for field, before in frozen.items():
        assert np.array_equal(getattr(cube, field), before, equal_nan=True), field
    assert np.array_equal(cube.time.mjd, times) and cube.meta == meta and cube.history == history
    assert cube.reference is None and cube.flux_unit == u.Jy


def test_cube_methods_chain_through_processing(transit, transit_cube):
    var = transit_cube.select(wavelength=(1.0, 3.0)).normalize().bin(time=4, wavelength=2)
    assert var.flux_unit == u.percent and var.n_integrations == 100
    assert len(var.history) == 3 and var.history[0].startswith("select")
    curves = var.light_curves([Band("H2O 1.4", 1.3, 1.5)])
    assert [c.name for c in curves] == ["White light", "H2O 1.4"]
    bottom_hours = transit.hours[flat_bottom_rows(transit)]
    in_bottom = (curves[1].hours > bottom_hours[0] + 0.1) & (curves[1].hours < bottom_hours[-1] - 0.1)
    # median-normalized: out of transit sits above 0, the transit dips below by ≈ the depth
    dip = np.median(curves[1].value[~in_bottom]) - np.mean(curves[1].value[in_bottom])
    inside = Band("H2O 1.4", 1.3, 1.5).mask(transit.wavelength)
    assert dip == pytest.approx(100 * np.mean(transit.truth["depth"][inside]), rel=0.05)
