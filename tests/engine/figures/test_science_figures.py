"""Figures of the science products (stamp_engine.science_figures): what each trace holds, labels with units.

What they look like in a browser is checked on pixels in tests/browser/test_science_browser.py.
"""

from __future__ import annotations

import dataclasses

import astropy.units as u
import numpy as np
import pytest

from stamp_engine import science_figures
from stamp_engine.bands import Band
from stamp_engine.synthetic import make_observation

BANDS = (Band("H2O", 1.3, 1.5), Band("CO2", 4.2, 4.45), Band("outside", 6.0, 7.0))


@pytest.fixture(scope="module")
def transit():
    return make_observation("transit", n_integrations=240, n_visits=2, visit_gap_hours=5.0,
                            wavelength=np.linspace(0.8, 5.0, 120), snr=500.0, seed=5).to_cube().normalize("visit")


@pytest.fixture(scope="module")
def dwarf():
    return make_observation("variability", n_integrations=400, wavelength=np.linspace(0.8, 5.0, 120), seed=6).to_cube()


def roles(fig, role):
    return [t for t in fig.data if (t.meta or {}).get("role") == role]


def test_channel_curves_are_stacked_labelled_by_wavelength_and_broken_between_visits(transit):
    curves = transit.channels(n=6)
    fig = science_figures.channel_light_curves_figure(curves)
    traces = roles(fig, "channel-curve")
    assert len(traces) == 6
    stacked, offsets = curves.offset_stacked()
    y = np.asarray(traces[2].y, dtype=float)
    finite = np.isfinite(y)
    np.testing.assert_allclose(y[finite], stacked[:, 2], rtol=1e-5, atol=1e-5)  # float32
    assert (~finite).sum() == 1  # one break, between the two visits
    assert [t.meta["offset"] for t in traces] == pytest.approx(list(offsets))
    assert list(fig.layout.yaxis.ticktext) == [f"{w:.3f} µm" for w in curves.wavelength]
    assert "(%)" in fig.layout.yaxis.title.text and "Time since t0 (h)" in fig.layout.xaxis.title.text
    # bluest channel on top
    assert np.nanmedian(traces[0].y) > np.nanmedian(traces[-1].y)


def test_display_binning_averages_within_visits(transit):
    curves = transit.channels(n=4)
    fig = science_figures.channel_light_curves_figure(curves, bin_time=10)
    x = np.asarray(fig.data[0].x, dtype=float)
    assert np.isnan(x).sum() == 1 and np.isfinite(x).sum() == 24  # 2 visits × 120 integrations / 10
    first = np.asarray(fig.data[0].y, dtype=float)[0]
    stacked, _ = curves.offset_stacked()
    assert first == pytest.approx(stacked[:10, 0].mean(), abs=1e-5)
    assert "10 integrations per point" in fig.layout.title.text
    with pytest.raises(ValueError, match="whole number"):
        science_figures.channel_light_curves_figure(curves, bin_time=0)


def test_too_many_channels_to_stack_are_refused_with_what_to_do(transit):
    with pytest.raises(ValueError, match="too many to stack.*fewer channels"):
        science_figures.channel_light_curves_figure(transit.channels(), max_channels=80)


def test_depth_spectrum_has_error_bars_channel_widths_bands_and_units(transit):
    spectrum = transit.transmission_spectrum((0.7, 1.3), [(0.0, 0.3), (1.75, 1.98)], R=20)  # in visit 1
    fig = science_figures.depth_spectrum_figure(spectrum, bands=BANDS)
    (trace,) = roles(fig, "depth")
    np.testing.assert_allclose(np.asarray(trace.y, dtype=float), spectrum.depth.to_value(science_figures.DEPTH_UNITS["ppm"]), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(trace.error_y.array, dtype=float), spectrum.error.value, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(trace.error_x.array, dtype=float),
                               0.5 * (spectrum.edges[:, 1] - spectrum.edges[:, 0]), rtol=1e-6)
    assert fig.layout.yaxis.title.text == "Transit depth (ppm)" and fig.layout.xaxis.title.text == "Wavelength (µm)"
    assert [s.name for s in fig.layout.shapes] == ["band H2O", "band CO2"]  # the band outside the data is not drawn
    assert fig.layout.shapes[1].fillcolor == science_figures._rgba(science_figures.band_colour(1), 0.18)
    percent = science_figures.depth_spectrum_figure(spectrum, unit="%")
    np.testing.assert_allclose(np.asarray(percent.data[0].y, dtype=float), spectrum.depth_percent.value, rtol=1e-6)
    assert percent.layout.yaxis.title.text == "Transit depth (%)"
    assert "in transit 0.7–1.3 h, baseline 0–0.3 h, 1.75–1.98 h" in fig.layout.title.text
    # depths in ppm are tens of thousands: written out, not with Plotly's SI "k" (which reads as a unit)
    assert fig.layout.yaxis.exponentformat == "none" and fig.layout.yaxis.separatethousands
    # windows found in the data are not round numbers: the title keeps 4 significant digits
    found = dataclasses.replace(spectrum, in_transit_hours=((0.7231746, 1.2918473),))
    title = science_figures.depth_spectrum_figure(found).layout.title.text
    assert "in transit 0.7232–1.292 h, baseline 0–0.3 h" in title, title
    with pytest.raises(ValueError, match="ppm, %"):
        science_figures.depth_spectrum_figure(spectrum, unit="mmag")


def test_depth_spectrum_says_how_many_channels_have_no_depth():
    obs = make_observation("transit", n_integrations=200, wavelength=np.linspace(1.0, 2.0, 40), nan_columns=(0, 1, 2, 3))
    spectrum = obs.to_cube().transmission_spectrum((1.5, 1.8), (0.0, 0.9), n=10)
    fig = science_figures.depth_spectrum_figure(spectrum)
    assert "1 channel(s) without a depth" in fig.layout.title.text


def test_periodogram_figure_marks_each_peak_and_false_alarm_level_white_light_on_top(dwarf):
    grams = [dwarf.periodogram(), dwarf.periodogram(band=BANDS[0])]
    fig = science_figures.periodogram_figure(grams)
    curves = roles(fig, "periodogram")
    assert [t.meta["curve"] for t in curves] == ["H2O", "White light"]  # drawn last = on top
    white = curves[-1]
    assert white.line.color == science_figures._WHITE_LIGHT_COLOUR and white.legendrank < curves[0].legendrank
    peaks = {t.meta["curve"]: t for t in roles(fig, "peak")}
    assert peaks["White light"].x[0] == pytest.approx(grams[0].peak_period.to_value(u.hour))
    assert abs(peaks["White light"].x[0] - 2.4) < 0.02
    levels = {t.meta["curve"]: t for t in roles(fig, "false-alarm-level")}
    assert list(levels["H2O"].y) == [grams[1].false_alarm_level] * 2
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis.title.text.startswith("Period (h)")
    assert peaks["White light"].meta["resolved"] and peaks["White light"].marker.symbol == "diamond"
    assert "not a resolved period" not in fig.layout.title.text
    assert white.name == f"White light: {grams[0].peak_period.to_value(u.hour):.4g} h"
    assert "false-alarm probability < 1e-300" in white.hovertext  # an overwhelming peak, not "0"


def _short_transit_periodogram():
    """A transit over 4.06 h: its periodogram peaks at a period the data cannot resolve."""
    from stamp_engine.periodogram import periodogram
    from stamp_engine.synthetic import trapezoid_transit
    from tests.engine.science.test_periodogram_resolution import curve

    hours = np.linspace(0.0, 4.06, 400)
    flux = 1 - trapezoid_transit(hours, np.array([0.02]), mid=1.2, duration=1.6, ingress=0.2)[:, 0]
    return periodogram(curve(hours, flux, 0.001))


def test_periodogram_figure_says_an_unresolved_peak_is_not_a_period():
    gram = _short_transit_periodogram()
    assert not gram.resolved and gram.significant  # above the 1 % level, yet no period
    fig = science_figures.periodogram_figure([gram])
    assert "White light: peak at" in fig.layout.title.text and "not a resolved period" in fig.layout.title.text
    (peak,) = roles(fig, "peak")
    assert peak.meta["resolved"] is False and peak.marker.symbol == "diamond-open"
    assert roles(fig, "periodogram")[0].name.endswith("(not resolved)")
    assert "not a resolved period" in peak.hovertemplate


def test_log_period_axis_labels_every_tick_in_full(dwarf):
    fig = science_figures.periodogram_figure([dwarf.periodogram()])
    axis = fig.layout.xaxis
    assert axis.tickmode == "array" and len(axis.tickvals) >= 2
    # 1-2-5 steps, each labelled with its whole value: no lone "2" after "0.01"
    assert all(float(text) == pytest.approx(value, rel=0.01) for value, text in zip(axis.tickvals, axis.ticktext))
    assert axis.minor.ticks == ""
    values, texts = science_figures.log_period_ticks(0.0038, 0.0114)
    assert texts == ["0.005", "0.01"] and values == [0.005, 0.01]
    assert science_figures.log_period_ticks(0.006, 4.06)[1] == ["0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1", "2"]


def test_peak_marker_sits_on_the_drawn_curve():
    from stamp_engine.periodogram import periodogram
    from tests.engine.science.test_periodogram_resolution import curve

    rng = np.random.default_rng(7)  # 7 points, as the NIRCam test file: the peak is at the grid's end
    hours = np.cumsum(rng.uniform(0.0015, 0.0025, 7))
    fig = science_figures.periodogram_figure([periodogram(curve(hours, 1 + 0.01 * rng.normal(size=7), 0.002))])
    (line,), (peak,) = roles(fig, "periodogram"), roles(fig, "peak")
    x, y = np.asarray(line.x, float), np.asarray(line.y, float)
    at_peak = np.interp(np.log(peak.x[0]), np.log(x[::-1]), y[::-1])
    assert peak.y[0] >= y.max() - 1e-6 and peak.y[0] == pytest.approx(at_peak, abs=1e-6)
    assert x.min() <= peak.x[0] <= x.max()  # on the curve, not beyond its end


def test_amplitude_not_drawn_figure_says_why_and_a_typed_period_warns():
    gram = _short_transit_periodogram()
    fig = science_figures.amplitude_not_drawn_figure(gram.amplitude_refusal)
    assert not fig.data and "No amplitude spectrum: peak at" in fig.layout.annotations[0].text
    assert fig.layout.meta["role"] == "amplitude-not-drawn"


def test_thinning_a_long_periodogram_keeps_its_peak():
    period = np.linspace(1, 10, 100_001)
    power = np.exp(-0.5 * ((period - 7.3) / 0.01) ** 2) + 1e-3 * np.sin(period * 40)
    kept_period, kept_power = science_figures._thinned(period, power, 4000)
    assert kept_power.size <= 4100
    assert kept_power.max() == power.max() and kept_period[kept_power.argmax()] == period[power.argmax()]


def test_amplitude_spectrum_figure_rows_amplitude_percent_and_phase_degrees(dwarf):
    amplitude = dwarf.amplitude_spectrum(2.4, n=12)
    fig = science_figures.amplitude_spectrum_figure(amplitude, bands=BANDS)
    (amp,), (phase,) = roles(fig, "amplitude"), roles(fig, "phase")
    np.testing.assert_allclose(np.asarray(amp.y, dtype=float), amplitude.relative_amplitude.to_value(u.percent), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(phase.y, dtype=float), amplitude.phase.to_value(u.deg), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(phase.error_y.array, dtype=float), amplitude.phase_error.to_value(u.deg), rtol=1e-5)
    assert phase.yaxis == "y2" and fig.layout.yaxis2.title.text == "Phase at t0 (°)"
    assert fig.layout.yaxis.title.text == "Relative semi-amplitude (%)"
    assert fig.layout.xaxis2.title.text == "Wavelength (µm)"
    assert "2.4 h" in fig.layout.title.text
    # the phase's convention and zero are written out: the model, and t0 as a date in its standard
    assert "A sin(2πt/P + φ)" in fig.layout.title.text
    assert f"t in h since MJD {dwarf.time[0].mjd:.5f} {dwarf.time_standard}" in fig.layout.title.text
    assert len(fig.layout.shapes) == 2


def test_depth_range_is_set_by_the_channels_with_usual_errors(transit):
    # the faint ends of a PRISM spectrum: errors of 10⁵ ppm would flatten a 10³ ppm feature
    spectrum = transit.transmission_spectrum((0.7, 1.3), [(0.0, 0.3), (1.75, 1.98)], R=20)
    error = spectrum.error.copy()
    error[0] = 200 * np.median(error)
    noisy = dataclasses.replace(spectrum, error=error)
    fig = science_figures.depth_spectrum_figure(noisy)
    depth, sigma = spectrum.depth.value[1:], spectrum.error.value[1:]
    low, high = fig.layout.yaxis.range
    assert low <= np.min(depth - sigma) and np.max(depth + sigma) <= high
    assert high - low < 3 * (np.max(depth + sigma) - np.min(depth - sigma))
    assert "1 channel(s) with errors > 5× the median run off the axis" in fig.layout.title.text
    # nothing left out: Plotly's own range
    assert science_figures.depth_spectrum_figure(spectrum).layout.yaxis.range is None


def test_amplitude_ranges_are_set_by_the_channels_with_usual_errors(dwarf):
    amplitude = dwarf.amplitude_spectrum(2.4, R=20)
    relative_error = amplitude.relative_amplitude_error.copy()
    relative_error[0] = 300 * np.median(relative_error)
    phase_error = amplitude.phase_error.copy()
    phase_error[0] = 300 * np.median(phase_error)
    fig = science_figures.amplitude_spectrum_figure(
        dataclasses.replace(amplitude, relative_amplitude_error=relative_error, phase_error=phase_error))
    value, sigma = amplitude.relative_amplitude.to_value(u.percent)[1:], amplitude.relative_amplitude_error.to_value(u.percent)[1:]
    low, high = fig.layout.yaxis.range
    assert low <= np.min(value - sigma) and np.max(value + sigma) <= high < np.max(value + sigma) + np.ptp(value)
    assert fig.layout.yaxis2.range is not None
    assert "1 channel(s) with errors > 5× the median run off the axes" in fig.layout.title.text
    assert science_figures.amplitude_spectrum_figure(amplitude).layout.yaxis.range is None
