"""Periodogram peaks the data cannot resolve (over half the span, at the Nyquist limit) are flagged,
on injected signals of known period and size."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.time import Time

from stamp_engine.periodogram import periodogram
from stamp_engine.steps.light_curves import LightCurve
from stamp_engine.synthetic import trapezoid_transit

REAL = Path(__file__).resolve().parents[2] / "data" / "real"


def curve(hours: np.ndarray, value: np.ndarray, noise: float, seed: int = 3) -> LightCurve:
    rng = np.random.default_rng(seed)
    value = value + rng.normal(0.0, noise, hours.size)
    return LightCurve(name="White light", band=(1.0, 2.0), time=Time(60000.0 + hours / 24.0, format="mjd"),
                      hours=hours, value=value, error=np.full(hours.size, noise), unit=u.dimensionless_unscaled,
                      visit=np.zeros(hours.size, dtype=int), time_label="Hours since t0")


def test_sinusoid_well_inside_the_span_is_found_and_resolved():
    hours = np.linspace(0.0, 11.6, 520)  # the demo's span
    gram = periodogram(curve(hours, 1 + 0.01 * np.sin(2 * np.pi * hours / 2.4), 0.002))
    assert abs(gram.peak_period.to_value(u.hour) / 2.4 - 1) < 5e-3
    assert gram.resolved and gram.significant and gram.amplitude_refusal is None
    assert gram.span.to_value(u.hour) == 11.6


def test_transit_over_a_short_span_peaks_at_the_span_and_is_flagged():
    hours = np.linspace(0.0, 4.06, 400)
    depth = np.array([0.02])
    flux = 1 - trapezoid_transit(hours, depth, mid=2.03, duration=1.6, ingress=0.2)[:, 0]
    gram = periodogram(curve(hours, flux, 0.001))
    assert gram.peak_period.to_value(u.hour) > 0.5 * 4.06  # a transit is not a period
    assert gram.significant and not gram.resolved  # high, yet not a resolved period
    assert "fewer than two cycles in the 4.06 h" in gram.unresolved_reason
    assert "not a resolved period" in gram.unresolved_reason
    assert gram.amplitude_refusal == gram.unresolved_reason


def test_linear_trend_is_flagged_at_the_span():
    hours = np.linspace(0.0, 0.0402, 60)
    gram = periodogram(curve(hours, 1 + 0.5 * hours, 0.001))
    assert abs(gram.peak_period.to_value(u.hour) / 0.0402 - 1) < 1e-6  # the longest period searched
    assert not gram.resolved and "peak at 2.41 min = the data span" in gram.unresolved_reason  # 0.0402 h, as drawn


def test_sinusoid_at_the_nyquist_limit_is_flagged():
    cadence = 0.00305
    hours = np.arange(200) * cadence
    flux = 1 + 0.01 * np.cos(np.pi * hours / cadence)  # alternating points: period = 2 cadences
    gram = periodogram(curve(hours, flux, 0.001))
    assert abs(gram.peak_period.to_value(u.hour) / (2 * cadence) - 1) < 1e-3
    assert not gram.resolved and "Nyquist" in gram.unresolved_reason


def test_noise_peak_below_the_false_alarm_level_refuses_an_amplitude_fit():
    hours = np.linspace(0.0, 10.0, 300)
    gram = periodogram(curve(hours, np.ones(hours.size), 0.001, seed=11))
    assert not gram.significant
    if gram.resolved:
        assert "below the 1 % false-alarm level" in gram.amplitude_refusal


def test_refined_peak_is_never_below_the_drawn_grid():
    # 7 points: astropy's grid runs past the searched maximum frequency; the peak was refined below it
    rng = np.random.default_rng(7)
    hours = np.cumsum(rng.uniform(0.0015, 0.0025, 7))
    gram = periodogram(curve(hours, 1 + 0.01 * rng.normal(size=7), 0.002))
    assert gram.peak_power >= np.max(gram.power) - 1e-12
    assert np.all(gram.period.to_value(u.hour) >= gram.minimum_period.to_value(u.hour) * (1 - 1e-9))


def test_power_rising_to_the_nyquist_edge_is_flagged():
    # the NIRCam test file's 7 integrations: the power rises to the Nyquist edge, and the refined
    # peak sits a hair (6e-4) inside it; within one frequency step of the edge is at the edge
    import stamp_engine
    from stamp_engine.recipe import ProcessOptions, process

    path = REAL / "eureka" / "tests_data" / "S3_NIRCam_ap8_bg12_SpecData.h5"
    gram = periodogram(process(stamp_engine.load([path]), ProcessOptions()).white_light())
    assert gram.n_points == 7
    assert 1 < gram.peak_period.to_value(u.hour) / gram.minimum_period.to_value(u.hour) < 1.01
    assert not gram.resolved and "Nyquist" in gram.unresolved_reason
