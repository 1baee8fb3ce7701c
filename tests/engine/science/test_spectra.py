"""Transmission / emission and amplitude spectra recovered from injected signals; their ECSV export."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable

import stamp_engine
from stamp_engine.export import science_table, write_science_product
from stamp_engine.periodogram import periodogram
from stamp_engine.spectra import PPM, amplitude_spectrum, transmission_spectrum
from stamp_engine.synthetic import make_observation


def transit_windows(obs, visit: int = 0) -> tuple[tuple[float, float], list[tuple[float, float]]]:
    """The flat bottom and the out-of-transit parts of a make_observation transit (hours since t0)."""
    first, last = obs.truth["visit_bounds_hours"][visit]
    span = last - first
    mid, half, ingress = first + span / 2, span * 0.2, span * 0.05
    return (mid - half + ingress, mid + half - ingress), [(first, mid - half - 0.01), (mid + half + 0.01, last)]


def pulls(recovered: np.ndarray, truth: np.ndarray, error: np.ndarray) -> np.ndarray:
    p = (recovered - truth) / error
    return p[np.isfinite(p)]


def assert_unit_normal(p: np.ndarray, name: str) -> None:
    """Mean ≈ 0 and std ≈ 1 within 4 standard errors for this many pulls."""
    n = p.size
    assert abs(p.mean()) < 4 / np.sqrt(n), f"{name}: pull mean {p.mean():.3f} over {n}"
    assert abs(p.std() - 1) < 4 / np.sqrt(2 * n), f"{name}: pull std {p.std():.3f} over {n}"


@pytest.fixture(scope="module")
def transit():
    return make_observation("transit", n_integrations=600, nan_columns=(100, 101, 102))


@pytest.fixture(scope="module")
def variable():
    return make_observation("variability", n_integrations=600)


# ------------------------------------------------------------------------ transmission
def test_injected_transit_depth_is_recovered_per_pixel_with_unit_normal_pulls(transit):
    cube = transit.to_cube()
    inside, baseline = transit_windows(transit)
    spectrum = cube.transmission_spectrum(inside, baseline)
    assert spectrum.depth.unit == PPM and spectrum.n_channels == cube.n_wavelengths
    truth = transit.truth["depth"]
    p = pulls(spectrum.depth.to_value(u.one), truth, spectrum.error.to_value(u.one))
    assert p.size == cube.n_wavelengths - 3  # the NaN columns give NaN depths, and only they
    assert np.all(np.isnan(spectrum.depth[[100, 101, 102]])) and np.all(spectrum.n_in_transit_used[[100, 101, 102]] == 0)
    assert_unit_normal(p, "transit depth per pixel")
    assert np.all(np.abs(p) < 4.5)
    np.testing.assert_allclose(spectrum.depth_percent.value, spectrum.depth.to_value(u.one) * 100)
    # the same depths from the normalized cube: the reference cancels in F_in/F_out
    normalized = transmission_spectrum(cube.normalize("median"), inside, baseline)
    np.testing.assert_allclose(normalized.depth.value, spectrum.depth.value, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(normalized.error.value, spectrum.error.value, rtol=1e-6)


def test_binned_transmission_spectrum_matches_the_channel_average_of_the_truth(transit):
    cube = transit.to_cube()
    inside, baseline = transit_windows(transit)
    spectrum = transmission_spectrum(cube, inside, baseline, R=25)
    assert spectrum.binning["R"] == 25 and spectrum.n_channels > 40
    # a channel weights its pixels by 1/σ² ∝ 1/F²: its depth is Σ d/F / Σ 1/F over finite pixels
    source = np.median(cube.flux, axis=0)  # NaN for the NaN columns
    weight = np.where(np.isfinite(source), 1.0 / source, 0.0)
    index = np.searchsorted(spectrum.edges[:, 1], cube.wavelength)
    truth = np.bincount(index, weight * np.nan_to_num(transit.truth["depth"])) / np.bincount(index, weight)
    p = pulls(spectrum.depth.to_value(u.one), truth, spectrum.error.to_value(u.one))
    assert p.size == spectrum.n_channels
    assert np.all(np.abs(p) < 4)
    assert abs(p.mean()) < 0.5 and 0.6 < p.std() < 1.4  # ~50 channels
    # the features are resolved: the 4.3 µm channel is deeper than the continuum at 3.8 µm
    deep, flat = np.argmin(np.abs(spectrum.wavelength - 4.3)), np.argmin(np.abs(spectrum.wavelength - 3.8))
    assert spectrum.depth[deep] - spectrum.depth[flat] > 10 * np.hypot(spectrum.error[deep], spectrum.error[flat])


def test_two_visits_with_different_levels_normalized_per_visit():
    obs = make_observation("transit", n_integrations=800, n_visits=2, seed=7)
    cube = obs.to_cube()
    second = cube.visit == 1
    cube = cube.replace(flux=np.where(second[:, None], cube.flux * 1.03, cube.flux),
                        error=np.where(second[:, None], cube.error * 1.03, cube.error))
    (in0, out0), (in1, out1) = transit_windows(obs, 0), transit_windows(obs, 1)
    spectrum = cube.normalize("visit").transmission_spectrum([in0, in1], [*out0, *out1], width=0.2)
    assert spectrum.in_transit_hours == (in0, in1)
    assert spectrum.n_in_transit == np.sum([(cube.hours >= lo) & (cube.hours <= hi) for lo, hi in (in0, in1)])
    source = np.nanmedian(obs.flux, axis=0)
    index = np.searchsorted(spectrum.edges[:, 1], cube.wavelength)
    truth = np.bincount(index, obs.truth["depth"] / source) / np.bincount(index, 1 / source)
    p = pulls(spectrum.depth.to_value(u.one), truth, spectrum.error.to_value(u.one))
    assert np.all(np.abs(p) < 4) and p.size == spectrum.n_channels
    # raw flux at different levels per visit gives the same depths: each visit is compared with its
    # own baseline (pooling both baselines put a median |pull| > 2 here before)
    raw = cube.transmission_spectrum([in0, in1], [*out0, *out1], width=0.2)
    np.testing.assert_allclose(raw.depth.to_value(u.one), truth, atol=4 * raw.error.to_value(u.one).max())
    assert np.median(np.abs(pulls(raw.depth.to_value(u.one), truth, raw.error.to_value(u.one)))) < 1
    assert "each in-window visit against the baseline of its own visit (visit 0; visit 1)" in raw.description


def test_a_gap_inside_the_transit_is_fine_and_an_eclipse_depth_is_f_out_over_f_in_minus_one(transit):
    cube = transit.to_cube()
    inside, baseline = transit_windows(transit)
    rows = np.flatnonzero(~((cube.hours > inside[0] + 0.3) & (cube.hours < inside[0] + 0.8)))
    gappy = cube.take(rows)
    spectrum = gappy.transmission_spectrum(inside, baseline)
    assert spectrum.n_in_transit < cube.transmission_spectrum(inside, baseline).n_in_transit
    assert_unit_normal(pulls(spectrum.depth.to_value(u.one), transit.truth["depth"], spectrum.error.to_value(u.one)), "gappy")
    eclipse = gappy.transmission_spectrum(inside, baseline, kind="eclipse")
    d = transit.truth["depth"]
    assert_unit_normal(pulls(eclipse.depth.to_value(u.one), d / (1 - d), eclipse.error.to_value(u.one)), "eclipse")


def test_underestimated_errors_show_in_the_baseline_scatter_and_can_be_scaled(transit):
    cube = transit.to_cube()
    inside, baseline = transit_windows(transit)
    honest = cube.transmission_spectrum(inside, baseline, width=0.5)
    assert np.all(np.abs(honest.baseline_scatter - 1) < 0.25)
    understated = cube.replace(error=cube.error / 3)  # a pipeline that claims 3× better data
    naive = understated.transmission_spectrum(inside, baseline, width=0.5)
    np.testing.assert_allclose(naive.baseline_scatter, 3 * honest.baseline_scatter, rtol=1e-9)
    scaled = understated.transmission_spectrum(inside, baseline, width=0.5, scale_errors=True)
    assert scaled.errors_scaled and not naive.errors_scaled and "max(1, baseline scatter" in scaled.description
    np.testing.assert_allclose(scaled.error.value, honest.error.value * honest.baseline_scatter.clip(1 / 3), rtol=1e-6)
    truth = transit.truth["depth"]
    p = pulls(cube.transmission_spectrum(inside, baseline, scale_errors=True).depth.to_value(u.one), truth,
              cube.transmission_spectrum(inside, baseline, scale_errors=True).error.to_value(u.one))
    assert 0.8 < p.std() < 1.0  # honest errors are only ever inflated: the pulls narrow a little


@pytest.mark.parametrize(
    "in_transit, baseline, message",
    [
        ((50.0, 60.0), (0.0, 1.0), r"in-transit window 50–60 h lies outside the data \(the data span 0–9\.983 h since t0\)"),
        ((3.0, 4.0), (-5.0, -1.0), r"baseline window -5–-1 h lies outside the data"),
        ((3.0, 2.0), (0.0, 1.0), r"in-transit window 3–2 h: start must be before end"),
        ((3.0, np.nan), (0.0, 1.0), r"in-transit window 3–nan h must be finite"),
        ((3.0, 5.0), (4.0, 6.0), r"share \d+ integration\(s\).*must not overlap"),
        ([], (0.0, 1.0), r"in-transit window list is empty"),
        (("a", "b"), (0.0, 1.0), r"in-transit window .* is not \(start, end\)"),
    ],
)
def test_bad_windows_are_named_with_the_data_range(transit, in_transit, baseline, message):
    with pytest.raises(ValueError, match=message):
        transmission_spectrum(transit.to_cube(), in_transit, baseline)


def test_an_empty_window_between_visits_names_each_visit():
    obs = make_observation("transit", n_integrations=200, n_visits=2, visit_gap_hours=10)
    cube = obs.to_cube()
    with pytest.raises(ValueError, match=r"in-transit window 5–8 h holds no integration \(the data span 2 visits: 0–1\.65 h, 11\.65–13\.3 h"):
        cube.transmission_spectrum((5, 8), (0, 1))
    with pytest.raises(ValueError, match="kind must be"):
        cube.transmission_spectrum((0, 0.5), (0.6, 1), kind="occultation")
    with pytest.raises(ValueError, match="already binned"):
        transmission_spectrum(cube.channels(n=4), (0, 0.5), (0.6, 1), n=4)


# --------------------------------------------------------------------------- amplitude
def test_injected_sinusoid_amplitude_and_phase_are_recovered_with_unit_normal_pulls(variable):
    cube = variable.to_cube()
    truth_amplitude, truth_phase, period = (variable.truth[k] for k in ("amplitude", "phase", "period_hours"))
    spectrum = amplitude_spectrum(cube, period)
    assert spectrum.period == period * u.hour and spectrum.relative_amplitude.unit == u.percent
    p_amp = pulls(spectrum.relative_amplitude.to_value(u.one), truth_amplitude, spectrum.relative_amplitude_error.to_value(u.one))
    p_phase = pulls(spectrum.phase.to_value(u.rad), truth_phase, spectrum.phase_error.to_value(u.rad))
    assert p_amp.size == p_phase.size == cube.n_wavelengths
    assert_unit_normal(p_amp, "relative amplitude")
    assert_unit_normal(p_phase, "phase")
    assert 0.85 < np.median(spectrum.chi2_reduced) < 1.15
    # amplitude in the cube's unit = relative amplitude × mean level
    level = np.nanmean(cube.flux, axis=0)
    np.testing.assert_allclose(spectrum.amplitude.to_value(u.Jy), spectrum.relative_amplitude.to_value(u.one) * level, rtol=2e-3)
    # a normalized cube gives the same relative amplitudes (the reference cancels)
    normalized = amplitude_spectrum(cube.normalize(), period)
    assert normalized.amplitude.unit == u.percent
    np.testing.assert_allclose(normalized.relative_amplitude.value, spectrum.relative_amplitude.value, rtol=1e-8)


def test_binned_amplitude_spectrum_at_the_periodogram_peak(variable):
    cube = variable.to_cube()
    spectrum = cube.amplitude_spectrum(R=20)  # period from the white light's periodogram
    assert abs(spectrum.period.to_value(u.hour) / variable.truth["period_hours"] - 1) < 2e-3
    assert "Lomb–Scargle peak" in spectrum.description
    source = np.nanmedian(cube.flux, axis=0)
    index = np.searchsorted(spectrum.edges[:, 1], cube.wavelength)
    truth = np.bincount(index, variable.truth["amplitude"] / source) / np.bincount(index, 1 / source)
    p = pulls(spectrum.relative_amplitude.to_value(u.one), truth, spectrum.relative_amplitude_error.to_value(u.one))
    # the phase varies across a channel, so the channel's amplitude is a little below the weighted mean:
    # only channels whose phase is nearly constant are compared
    phase_range = np.array([np.ptp(variable.truth["phase"][index == c]) for c in range(spectrum.n_channels)])
    flat = phase_range < 0.02
    assert flat.sum() > 15
    assert np.all(np.abs(p[flat]) < 4)


def test_visits_at_different_levels_need_an_offset_per_visit():
    obs = make_observation("variability", n_integrations=600, n_visits=2, visit_gap_hours=3.0, seed=11)
    cube = obs.to_cube()
    second = (cube.visit == 1)[:, None]
    cube = cube.replace(flux=np.where(second, cube.flux * 1.02, cube.flux), error=np.where(second, cube.error * 1.02, cube.error))
    spectrum = cube.amplitude_spectrum(obs.truth["period_hours"])
    assert_unit_normal(pulls(spectrum.relative_amplitude.to_value(u.one), obs.truth["amplitude"],
                             spectrum.relative_amplitude_error.to_value(u.one)), "two visits")
    one_offset = cube.amplitude_spectrum(obs.truth["period_hours"], per_visit_offset=False)
    assert np.median(one_offset.chi2_reduced) > 3 * np.median(spectrum.chi2_reduced)


def test_nan_channel_gives_nan_amplitude_and_a_bad_period_is_refused():
    obs = make_observation("variability", n_integrations=120, nan_columns=(0, 1))
    spectrum = amplitude_spectrum(obs.to_cube(), 2.4)
    assert np.all(np.isnan(spectrum.amplitude[:2])) and np.all(np.isfinite(spectrum.amplitude[2:]))
    assert list(spectrum.n_points[:3]) == [0, 0, 120]
    for period in (0.0, -1.0, np.inf):
        with pytest.raises(ValueError, match="period must be a positive number of hours"):
            amplitude_spectrum(obs.to_cube(), period)


# ------------------------------------------------------------------------- periodogram
def test_periodogram_finds_the_injected_period_in_white_light_band_and_channel(variable):
    cube = variable.to_cube()
    truth = variable.truth["period_hours"]
    white = cube.periodogram()
    band = cube.periodogram(stamp_engine.Band("CO2", 4.2, 4.45))
    channel = periodogram(cube.channels(n=8).channel(5))
    for result in (white, band, channel):
        assert abs(result.peak_period.to_value(u.hour) / truth - 1) < 2e-3, result.name
        assert result.peak_power > result.false_alarm_level and result.false_alarm_probability < 1e-10
    assert band.name == "CO2" and band.band == (4.2, 4.45)
    assert white.period.unit == u.hour and np.all(np.diff(white.frequency.value) > 0)


def test_periodogram_of_noise_has_no_significant_peak():
    obs = make_observation("transit", n_integrations=300, seed=5)
    noise = obs.to_cube().select(hours=(0, 1.5))  # before the transit: white noise only
    result = noise.periodogram()
    assert result.peak_power < result.false_alarm_level and result.false_alarm_probability > 0.01
    with pytest.raises(ValueError, match="usable point"):
        noise.take(slice(0, 2)).periodogram()
    with pytest.raises(ValueError, match="period range 5–1 h is empty"):
        noise.periodogram(minimum_period=5, maximum_period=1)


# ------------------------------------------------------------------------------ export
def test_science_products_round_trip_through_ecsv_with_units_and_provenance(tmp_path, transit, variable):
    cube = transit.to_cube()
    inside, baseline = transit_windows(transit)
    spectrum = cube.transmission_spectrum(inside, baseline, R=30)
    path = write_science_product(spectrum, tmp_path / "transmission.ecsv")
    table = QTable.read(path)
    np.testing.assert_allclose(table["depth"].to_value(PPM), spectrum.depth.to_value(PPM))
    np.testing.assert_allclose(table["depth_err"].to(u.percent).value, spectrum.error_percent.value)
    assert table["wavelength"].unit == u.um and table["wavelength_low"][0] == spectrum.edges[0, 0] * u.um
    assert table.meta["in_transit_hours"] == [list(inside)] and table.meta["channels"]["R"] == 30
    assert table.meta["kind"] == "transit" and table.meta["time_standard"] == "BJD_TDB"
    assert "1 − F_in/F_out" in table.meta["description"] and table.meta["observation"]["target"] == "WASP-STAMP b"
    np.testing.assert_allclose(table["baseline_scatter"], spectrum.baseline_scatter)
    per_pixel = cube.transmission_spectrum(inside, baseline)  # NaN depths of the NaN columns survive the file
    table = QTable.read(write_science_product(per_pixel, tmp_path / "per_pixel.ecsv"))
    np.testing.assert_array_equal(np.isnan(table["depth"]), np.isnan(per_pixel.depth))
    assert np.isnan(table["depth"]).sum() == 3 and table.meta["channels"] == {"pixels": True, "dropped_empty": 0}

    amplitude = variable.to_cube().amplitude_spectrum(2.4, n=6)
    table = QTable.read(write_science_product(amplitude, tmp_path / "amplitude.ecsv"))
    assert table.meta["period_hours"] == 2.4 and table.meta["channels"]["n"] == 6
    for name, values in (("relative_amplitude", amplitude.relative_amplitude), ("phase", amplitude.phase),
                         ("amplitude_err", amplitude.amplitude_error)):
        assert table[name].unit == values.unit
        np.testing.assert_allclose(table[name].value, values.value)

    lomb = variable.to_cube().periodogram()
    table = QTable.read(write_science_product(lomb, tmp_path / "periodogram.ecsv"))
    assert table["frequency"].unit == 1 / u.hour and table["period"].unit == u.hour
    np.testing.assert_allclose(table["power"], lomb.power)
    assert table.meta["peak_period_hours"] == pytest.approx(lomb.peak_period.to_value(u.hour))
    assert table.meta["false_alarm"] == 0.01 and "Baluev" in table.meta["description"]
    with pytest.raises(TypeError, match="no table for a Cube"):
        science_table(cube)




# ------------------------------------------------ visits, off-centre and partial transits
WAVELENGTH = np.linspace(0.8, 2.5, 50)


def h2o_depth(wavelength: np.ndarray) -> np.ndarray:
    """1.0 % flat with a 0.4 % H2O bump at 1.4 µm."""
    return 0.010 + 0.004 * np.exp(-0.5 * ((wavelength - 1.4) / 0.1) ** 2)


def seeded_pulls(make, windows, prepare=lambda cube: cube, seeds=range(6), **options) -> np.ndarray:
    """Pulls of the recovered depths against the injected ones over several noise draws.

    ``make(seed)`` → observation, ``windows(obs)`` → (in-transit, baseline), ``prepare(cube)``
    → the cube the spectrum is made from.
    """
    found = []
    for seed in seeds:
        obs = make(seed)
        in_transit, baseline = windows(obs)
        spectrum = prepare(obs.to_cube()).transmission_spectrum(in_transit, baseline, **options)
        found.append(pulls(spectrum.depth.to_value(u.one), obs.truth["depth"], spectrum.error.to_value(u.one)))
    return np.concatenate(found)


def one_transit_in_two_visits(seed: int):
    return make_observation("transit", n_integrations=800, n_visits=2, seed=seed, wavelength=WAVELENGTH,
                            depth=h2o_depth(WAVELENGTH), transit_visits=(0,), snr=1500)


def baseline_in_both_visits(obs):
    in_transit, baseline = transit_windows(obs, 0)
    return in_transit, [*baseline, obs.truth["visit_bounds_hours"][1]]


def test_transit_in_one_of_two_visits_normalized_per_visit_is_not_biased_by_its_median():
    # visit 0 holds the transit, visit 1 is flat; the baseline windows lie in both visits.
    # cube.normalize("visit") divides visit 0 by a median that its in-transit integrations pull
    # down (~0.5 σ of one integration) while visit 1's is not: pooling both baselines made every
    # depth ~2 σ too shallow (pull mean −2.2 before the fix).  Each visit against its own baseline
    # cancels the reference, whatever it is.
    for prepare, name in ((lambda c: c, "raw flux"), (lambda c: c.normalize("visit"), "per visit"),
                          (lambda c: c.normalize("median"), "median of all")):
        assert_unit_normal(seeded_pulls(one_transit_in_two_visits, baseline_in_both_visits, prepare), name)
    obs = one_transit_in_two_visits(0)
    in_transit, baseline = baseline_in_both_visits(obs)
    spectrum = obs.to_cube().transmission_spectrum(in_transit, baseline)
    assert "against the baseline of its own visit (visit 0); the 400 baseline integrations of visit 1, which" \
        in spectrum.description
    assert spectrum.n_baseline == np.sum([(obs.hours >= lo) & (obs.hours <= hi) for lo, hi in baseline[:2]])
    assert spectrum.n_baseline_used.max() == spectrum.n_baseline


def test_a_transit_visit_without_its_own_baseline_uses_the_flat_visit_and_one_without_any_is_refused():
    obs = one_transit_in_two_visits(1)
    first, last = obs.truth["visit_bounds_hours"][0]
    in_transit, _ = transit_windows(obs, 0)
    spectrum = obs.to_cube().transmission_spectrum(in_transit, obs.truth["visit_bounds_hours"][1])
    assert_unit_normal(pulls(spectrum.depth.to_value(u.one), obs.truth["depth"], spectrum.error.to_value(u.one)),
                       "baseline in the other visit")
    assert "; visit 0 against the baseline of visit 1, their levels assumed equal;" in spectrum.description
    # in-window integrations in both visits, a baseline only in visit 1: visit 1 pairs with its own,
    # and nothing is left for visit 0 — refused, naming it (pooling visit 1's baseline with it twice
    # would make the two depths share integrations)
    first1, last1 = obs.truth["visit_bounds_hours"][1]
    with pytest.raises(ValueError, match=r"in-transit integrations of visit\(s\) 0 have no baseline"):
        obs.to_cube().transmission_spectrum([in_transit, (first1, first1 + 1)], (first1 + 2, last1))


def windows_at(obs, mid_fraction: float, visit: int = 0):
    """The flat bottom and the out-of-transit parts (clipped to the visit) of a transit centred at
    ``mid_fraction`` of the visit's span."""
    first, last = obs.truth["visit_bounds_hours"][visit]
    span = last - first
    mid, half, ingress = first + span * mid_fraction, span * 0.2, span * 0.05
    baseline = [(lo, hi) for lo, hi in ((first, mid - half - 0.01), (mid + half + 0.01, last)) if hi - lo > 0.05]
    return (max(first, mid - half + ingress), min(last, mid + half - ingress)), baseline


def with_uneven_gaps(obs):
    """Two gaps of 37 and 11 integrations, after which the clock is 0.37 and 1.61 cadences late."""
    keep = np.ones(obs.n_integrations, dtype=bool)
    keep[200:237] = keep[380:391] = False
    late = obs.time_bjd_tdb.copy()
    cadence_days = obs.truth["cadence_s"] / 86400.0
    late[237:] += 0.37 * cadence_days
    late[391:] += 1.61 * cadence_days
    moved = obs.take(slice(None))
    moved.time_bjd_tdb = late
    return moved.take(np.flatnonzero(keep))


@pytest.mark.parametrize("case, mid_fraction", [
    ("off-centre, NaN columns, normalized by the median of all integrations", 0.3),
    ("partial: the transit starts before the first integration", 0.05),
    ("partial: it ends after the last integration", 0.97),
    ("gaps of not whole cadences", 0.45),
    ("16 integrations", 0.5),
])
def test_injected_h2o_depths_are_recovered_with_honest_errors_in_awkward_series(case, mid_fraction):
    def make(seed):
        few = case.startswith("16")
        obs = make_observation("transit", 16 if few else 600, WAVELENGTH, seed=seed, depth=h2o_depth(WAVELENGTH),
                               snr=1500, transit_mid_fraction=mid_fraction, cadence_s=1200 if few else 60,
                               nan_columns=(5, 6) if case.startswith("off") else ())
        return with_uneven_gaps(obs) if case.startswith("gaps") else obs

    normalize = (lambda cube: cube.normalize("median")) if case.startswith("off") else (lambda cube: cube)
    p = seeded_pulls(make, lambda obs: windows_at(obs, mid_fraction), normalize, seeds=range(30 if "16" in case else 6))
    assert p.size == (48 if case.startswith("off") else 50) * (30 if "16" in case else 6)
    assert_unit_normal(p, case)


def test_a_start_ramp_inside_the_baseline_is_reported_and_starting_the_baseline_later_removes_its_bias():
    # a 0.3 % ramp settling in 15 min, in a 10 h visit: a baseline from the first integration made
    # every depth ~2 σ too shallow (pull mean −2.1), silently
    def make(seed):
        return make_observation("transit", 600, WAVELENGTH, seed=seed, depth=h2o_depth(WAVELENGTH), snr=1500,
                                ramp=0.003, ramp_hours=0.25)

    obs = make(0)
    in_transit, (before, after) = transit_windows(obs)
    ramped = obs.to_cube().transmission_spectrum(in_transit, [before, after])
    assert "Warning: a start ramp in the baseline? visit 0" in ramped.description
    assert np.mean(pulls(ramped.depth.to_value(u.one), obs.truth["depth"], ramped.error.to_value(u.one))) < -1
    later = [(before[0] + 1.0, before[1]), after]
    assert_unit_normal(seeded_pulls(make, lambda o: (in_transit, later)), "baseline after the ramp")
    assert "Warning" not in obs.to_cube().transmission_spectrum(in_transit, later).description
    # no ramp: no warning, over several noise draws
    for seed in range(5):
        flat = make_observation("transit", 600, WAVELENGTH, seed=seed, depth=h2o_depth(WAVELENGTH), snr=1500)
        assert "Warning" not in flat.to_cube().transmission_spectrum(*transit_windows(flat)).description


@pytest.mark.parametrize("normalization", [None, "visit"])
def test_sinusoid_over_two_visits_two_days_apart_with_uneven_gaps_keeps_amplitude_and_phase(normalization):
    # phase φ of A sin(2π t/P + φ) with t = hours since the first integration (t0), as injected
    amplitude_pulls, phase_pulls = [], []
    for seed in range(6):
        obs = make_observation("variability", n_integrations=600, wavelength=np.linspace(1, 3, 40), n_visits=2,
                               visit_gap_hours=50.3, seed=seed, snr=500, cadence_s=97.3)
        keep = np.ones(obs.n_integrations, dtype=bool)
        keep[50:83] = keep[400:411] = keep[3::7] = False
        obs = obs.take(np.flatnonzero(keep))
        cube = obs.to_cube() if normalization is None else obs.to_cube().normalize(normalization)
        fit = amplitude_spectrum(cube, obs.truth["period_hours"])
        assert fit.meta["t0_mjd"] == pytest.approx(obs.time_bjd_tdb[0], abs=1e-9)
        amplitude_pulls.append(pulls(fit.relative_amplitude.to_value(u.one), obs.truth["amplitude"],
                                     fit.relative_amplitude_error.to_value(u.one)))
        wrapped = np.angle(np.exp(1j * (fit.phase.to_value(u.rad) - obs.truth["phase"])))
        phase_pulls.append(wrapped / fit.phase_error.to_value(u.rad))
    assert_unit_normal(np.concatenate(amplitude_pulls), "relative amplitude")
    assert_unit_normal(np.concatenate(phase_pulls), "phase")


def test_visits_at_different_levels_do_not_move_the_periodogram_peak_or_the_default_period():
    # raw flux, visit 1 10 % brighter (another visit's pointing, a normalization apart): the step put
    # the white light's peak at 35 h instead of the injected 2.4 h, and the amplitude spectrum's default
    # period with it
    obs = make_observation("variability", 600, np.linspace(1, 3, 40), n_visits=2, visit_gap_hours=50.3, seed=2, snr=500)
    brighter = np.where(obs.visit[:, None] == 1, 1.1, 1.0)
    cube = obs.to_cube().replace(flux=obs.flux * brighter, error=obs.error * brighter)
    white = periodogram(cube.white_light())
    assert white.peak_period.to_value(u.hour) == pytest.approx(obs.truth["period_hours"], rel=2e-3)
    assert white.resolved and white.significant
    assert "each of the 2 visits less its own inverse-variance mean" in white.description
    fit = amplitude_spectrum(cube)
    assert fit.period.to_value(u.hour) == pytest.approx(obs.truth["period_hours"], rel=2e-3)
    assert_unit_normal(pulls(fit.relative_amplitude.to_value(u.one), obs.truth["amplitude"],
                             fit.relative_amplitude_error.to_value(u.one)), "amplitude at the found period")
    # one visit: the periodogram is astropy's on the values as they are
    single = obs.take(obs.visit == 0).to_cube()
    assert "visits less" not in periodogram(single.white_light()).description
