"""Engine colour and time-axis rules (stamp_engine.colour, stamp_engine.timeaxis) and how the
figures and the dashboard use them; the pictures themselves are checked in test_colour_browser.py."""

from __future__ import annotations

import dataclasses
import json

import astropy.units as u
import numpy as np
import plotly.colors as pcolors
import pytest
from astropy.time import Time

from dashboard.options import DisplayOptions, parse_display_options
from dashboard.pipeline import describe_shape
from dashboard.features.controls import display_notes
from dashboard.view_figures import grid_figure
from stamp_engine import colour, figures, steps, timeaxis
from stamp_engine.cube import Cube
from stamp_engine.recipe import ProcessOptions, process
from stamp_engine.synthetic import make_observation

RNG = np.random.default_rng(20)


def _cube(hours, flux, normalized=True) -> Cube:
    flux = np.asarray(flux, dtype=float)
    cube = Cube(np.linspace(1.0, 3.0, flux.shape[1]), Time(60000.0 + np.asarray(hours) / 24.0, format="mjd", scale="tdb"),
                flux, np.full_like(flux, 0.1), u.percent if normalized else u.Jy)
    return cube.replace(reference=np.ones((1, flux.shape[1])), reference_unit=u.Jy) if normalized else cube


def _noisy_edges(n_time=200, n_wave=120, amplitude=2.0, noise=0.3, edge=12, edge_noise=300.0) -> np.ndarray:
    """Variability %: a ±amplitude sinusoid plus noise, with very noisy edge columns and NaN-heavy columns."""
    t = np.arange(n_time)[:, None]
    values = amplitude * np.sin(t / 15.0) * np.ones((1, n_wave)) + RNG.normal(0, noise, (n_time, n_wave))
    values[:, :edge] = RNG.normal(0, edge_noise, (n_time, edge))
    values[:, -edge:] = RNG.normal(0, edge_noise, (n_time, edge))
    values[: int(0.8 * n_time), 50:53] = np.nan  # mostly NaN, and what is left is wild
    values[int(0.8 * n_time):, 50:53] = 5000.0
    return values


# ------------------------------------------------------------------ colour limits
def test_limits_come_from_the_good_wavelengths_not_the_noisy_edges():
    values = _noisy_edges()
    low, high = colour.robust_colour_limits(values, centred=True)
    assert low == -high
    assert 2.0 <= high <= 3.5  # the signal (±2 %) and its noise, not the ±300 % edges
    old_limit = np.percentile(np.abs(values[np.isfinite(values)]), 99.5)  # what the maps used before
    assert old_limit > 100
    good = colour.good_columns(values, centred=True)
    assert not good[:12].any() and not good[-12:].any() and not good[50:53].any()
    assert good[12:-12].sum() >= 90


def test_a_few_outlying_pixels_saturate_instead_of_setting_the_limits():
    values = RNG.normal(0, 0.5, (10, 300))
    values[0, :20] = -9.0  # a first integration still settling, in a few columns
    values[3, 100:104] = 40.0  # cosmic rays
    low, high = colour.robust_colour_limits(values, centred=True)
    assert high < np.percentile(np.abs(values), 99.5)  # the old rule: the outliers set it
    assert high == pytest.approx(colour.MAX_SIGMAS * 0.5, rel=0.1)  # five standard deviations of the noise


def test_flux_limits_follow_the_spectrum_of_the_well_measured_columns():
    spectrum = np.linspace(100.0, 50.0, 80)
    values = spectrum * (1 + RNG.normal(0, 0.01, (40, 80)))
    values[:, :5] = RNG.normal(0, 30.0, (40, 5))  # faint, noisy edge (S/N ≈ 0)
    low, high = colour.robust_colour_limits(values, centred=False)
    assert 45 < low < 55 and 95 < high < 105


@pytest.mark.parametrize("values, expected", [
    (np.full((5, 4), np.nan), None),
    (np.zeros((5, 4)), (-1.0, 1.0)),
    (np.full((1, 3), 7.0), (6.5, 7.5)),
])
def test_limits_of_degenerate_maps(values, expected):
    centred = expected is None or expected[0] == -1.0
    assert colour.robust_colour_limits(values, centred=centred) == expected


def test_a_single_integration_still_gets_limits():
    values = RNG.normal(0, 1.0, (1, 50))
    low, high = colour.robust_colour_limits(values, centred=True)
    assert low == -high and 1.0 < high < 4.0


# -------------------------------------------------------------- centred colour scale
def _value_colour(scale, low, high, value):
    return pcolors.sample_colorscale(scale, [(value - low) / (high - low)])[0]


@pytest.mark.parametrize("low, high", [(-1.0, 3.0), (-5.0, 0.5), (-0.01, 100.0)])
def test_zero_gets_the_centre_colour_whatever_the_range(low, high):
    scale = figures.colorscale("RdBu_r")
    centred = colour.centred_colorscale(scale, low, high)
    assert _value_colour(centred, low, high, 0.0).replace(" ", "") == "rgb(247,247,247)"
    assert centred[0][1] == scale[0][1] and centred[-1][1] == scale[-1][1]  # full colour at both ends
    positions = [p for p, _ in centred]
    assert positions == sorted(positions) and positions[0] == 0 and positions[-1] == pytest.approx(1.0)
    # uncentred (the old behaviour), 0 is drawn in another colour
    assert _value_colour(scale, low, high, 0.0).replace(" ", "") != "rgb(247,247,247)"


def test_symmetric_ranges_and_ranges_without_zero_keep_the_scale():
    scale = figures.colorscale("PuOr_r")
    assert colour.centred_colorscale(scale, -2.0, 2.0) == scale
    assert colour.centred_colorscale(scale, 1.0, 3.0) == scale


def test_the_centring_stops_the_browser_evaluates_are_the_rule_itself():
    """The heatmap's meta carries centring_stops; evaluated where 0 falls they give centred_colorscale."""
    cube = process(make_observation(kind="variability", n_integrations=30, seed=1).to_cube(), ProcessOptions())
    meta = figures.heatmap_figure(cube).layout.meta["colour"]
    for name in figures.COLORSCALES:
        entry = meta["scales"][name]
        assert entry["stops"] == figures.colorscale(name)
        assert (entry["centring"] is not None) == (name in figures.DIVERGING_COLORSCALES)
    entry = meta["scales"]["RdBu_r"]
    for low, high in [(-1.0, 3.0), (-5.0, 0.5)]:
        zero = colour.zero_position(low, high)
        assert zero == pytest.approx(-low / (high - low))
        evaluated = [[a + b * zero, c] for a, b, c in entry["centring"]]
        assert evaluated == colour.centred_colorscale(figures.colorscale("RdBu_r"), low, high)
    assert colour.zero_position(-2.0, 2.0) is None and colour.zero_position(1.0, 3.0) is None
    # a flux map has nothing to centre
    flux = figures.heatmap_figure(make_observation(n_integrations=30, seed=1).to_cube()).layout.meta["colour"]
    assert all(entry["centring"] is None for entry in flux["scales"].values())


def test_a_manual_range_on_a_variability_map_puts_zero_at_the_centre_colour():
    cube = _cube(np.arange(20) * 0.1, RNG.normal(0, 1, (20, 30)))
    fig = figures.heatmap_figure(cube, zrange=(-1.0, 3.0), colorscale="BrBG")
    axis = fig.layout.coloraxis
    scale = [list(s) for s in axis.colorscale]
    assert _value_colour(scale, -1.0, 3.0, 0.0) == pcolors.sample_colorscale(figures.colorscale("BrBG"), [0.5])[0]
    # a sequential scale is left alone
    fig = figures.heatmap_figure(cube, zrange=(-1.0, 3.0), colorscale="Viridis")
    assert [list(s) for s in fig.layout.coloraxis.colorscale] == figures.colorscale("Viridis")


def test_the_dashboard_says_when_zero_cannot_be_white_or_a_stretch_is_ignored():
    options, _ = parse_display_options("auto", [1, 3], figures.COLORSCALES)
    assert "outside the colour range" in display_notes(options, "variability")[0]
    options, _ = parse_display_options("auto", [-1, 3], figures.COLORSCALES)
    assert display_notes(options, "variability") == []
    options, _ = parse_display_options("auto", [None, None], figures.COLORSCALES, "log")
    assert "raw flux only" in display_notes(options, "variability")[0]
    assert display_notes(options, "flux") == []
    options, errors = parse_display_options("auto", [None, None], figures.COLORSCALES, "cubic", "sideways")
    assert (options.stretch, options.visits) == ("linear", "auto") and set(errors) == {"stretch", "visits"}


# ------------------------------------------------------------------------ stretches
def test_log_and_asinh_stretches_of_raw_flux_are_labelled_in_flux():
    flux = np.exp(RNG.normal(0, 2, (20, 40)))  # spans orders of magnitude
    flux[0, 0] = -1.0
    cube = _cube(np.arange(20) * 0.1, flux, normalized=False)
    fig = figures.heatmap_figure(cube, stretch="log")
    z = np.concatenate([np.asarray(t.z, dtype=float) for t in fig.data], axis=1)
    assert np.isnan(z[0, 0]) and np.allclose(z[1:], np.log10(flux[1:]).astype(np.float32), rtol=1e-5)
    bar = fig.layout.coloraxis.colorbar
    assert bar.title.text.split("  <span")[0] == "Flux (Jy), log stretch"
    for value, label in zip(bar.tickvals, bar.ticktext):
        assert 10 ** value == pytest.approx(float(label), rel=1e-6)
    assert "log₁₀(Flux / Jy)" in fig.data[0].hovertemplate
    fig = figures.heatmap_figure(cube, stretch="asinh")
    assert fig.layout.coloraxis.colorbar.title.text.split("  <span")[0] == "Flux (Jy), asinh stretch"
    softening = colour.asinh_softening(flux)
    for value, label in zip(fig.layout.coloraxis.colorbar.tickvals, fig.layout.coloraxis.colorbar.ticktext):
        assert np.sinh(value) * softening == pytest.approx(float(label), rel=1e-6, abs=1e-12)
    json.loads(fig.to_json())
    with pytest.raises(ValueError, match="above 0"):
        figures.heatmap_figure(cube, stretch="log", zrange=(-1.0, 10.0))
    with pytest.raises(ValueError, match="raw flux"):
        figures.heatmap_figure(_cube(np.arange(3.0), np.ones((3, 4))), stretch="log")
    # the dashboard draws variability linearly whatever the stretch control says, and explains what it cannot draw
    assert grid_figure(_cube(np.arange(3.0), np.ones((3, 4))), (), DisplayOptions(stretch="log"), "heatmap").data
    refused = grid_figure(cube, (), DisplayOptions(stretch="log", zrange=(-1.0, 2.0)), "heatmap")
    assert "above 0" in refused.layout.annotations[0].text


def test_stretch_round_trips():
    values = np.array([-5.0, 0.0, 0.3, 7.0])
    np.testing.assert_allclose(colour.unstretch_values(colour.stretch_values(values, "asinh", 0.2), "asinh", 0.2), values)
    np.testing.assert_allclose(colour.unstretch_values(colour.stretch_values(values[2:], "log"), "log"), values[2:])


# ------------------------------------------------------------------- gaps in time
def test_gap_rows_end_half_a_cadence_after_their_integration():
    hours = np.array([0.0, 0.1, 0.2, 0.3, 2.0, 2.1, 2.2])
    fig = figures.heatmap_figure(_cube(hours, np.ones((7, 5))), visits="one axis")
    edges = np.asarray(fig.data[0].y, dtype=float)
    np.testing.assert_allclose(edges, [-0.05, 0.05, 0.15, 0.25, 0.35, 1.95, 2.05, 2.15, 2.25], atol=1e-6)
    z = np.asarray(fig.data[0].z, dtype=float)
    assert np.isnan(z[4]).all() and np.isfinite(np.delete(z, 4, axis=0)).all()
    assert fig.data[0].hoverongaps is False
    surface = figures.surface_figure(_cube(hours, np.ones((7, 5))))
    assert np.isnan(np.asarray(surface.data[0].z, dtype=float)[4]).all()  # the surface breaks too


def test_time_gaps_whatever_the_visit_threshold():
    hours = np.array([0.0, 1, 2, 3, 4, 10, 11, 12, 40, 41])
    visit = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
    gaps = timeaxis.time_gaps(hours, visit)
    assert np.flatnonzero(gaps).tolist() == [4, 7]
    assert timeaxis.time_gaps(hours[:5]).sum() == 0  # a regular cadence has none
    assert timeaxis.time_gaps(np.array([0.0, 1, 2, 3.5])).sum() == 0  # 1.5 cadences is not a gap


def test_light_curves_break_at_gaps_and_draw_interpolated_points_apart():
    hours = np.concatenate([np.arange(40), 100 + np.arange(40)]) / 60.0
    cube = _cube(hours, np.ones((80, 6))).split_visits(gap_hours=5.0)
    line = figures.light_curve_figure([cube.white_light()]).data[1]
    x = np.asarray(line.x, dtype=float)
    assert np.isnan(x).sum() == 1 and np.isnan(x[40])
    filled = steps.interpolate_gaps(cube)
    fig = figures.light_curve_figure([filled.white_light()])
    roles = [t.meta["role"] for t in fig.data]
    assert roles == ["error-ribbon", "light-curve", "interpolated"]
    measured = np.asarray(fig.data[1].x, dtype=float)
    assert np.isfinite(measured).sum() == 80  # only measured points on the solid line
    assert "no error" in fig.data[2].hovertemplate and fig.data[2].line.dash == "dot"


def test_summary_counts_interpolated_rows_apart_from_integrations():
    hours = np.concatenate([np.arange(40), 100 + np.arange(40)]) / 60.0
    filled = steps.interpolate_gaps(_cube(hours, np.ones((80, 6))))
    made = int(figures.interpolated_rows(filled).sum())
    assert made == filled.n_integrations - 80 > 0
    assert describe_shape(filled).startswith(f"80 integrations (+{made} interpolated for display) × 6 wavelengths")
    assert describe_shape(_cube(hours, np.ones((80, 6)))).startswith("80 integrations × 6")


def test_interpolated_rows_of_a_heatmap_carry_no_error_and_are_veiled():
    hours = np.concatenate([np.arange(40), 100 + np.arange(40)]) / 60.0
    filled = steps.interpolate_gaps(_cube(hours, np.ones((80, 6))))
    fig = figures.heatmap_figure(filled)
    error = np.asarray(fig.data[0].customdata, dtype=float)
    made = figures.interpolated_rows(filled)
    assert np.isnan(error[made]).all() and np.isfinite(error[~made]).all()
    (veil,) = fig.layout.shapes
    assert veil.y0 == pytest.approx(39.5 / 60, abs=1e-6) and veil.y1 == pytest.approx(99.5 / 60, abs=1e-6)
    assert "interpolated" in fig.layout.annotations[0].text


# ---------------------------------------------------------------- visits side by side
def test_visits_go_side_by_side_when_one_axis_would_be_mostly_empty():
    hours = np.concatenate([np.arange(0, 5, 0.1), 700 + np.arange(0, 5, 0.1)])
    visit = np.repeat([0, 1], 50)
    assert timeaxis.visits_side_by_side(hours, visit)
    assert not timeaxis.visits_side_by_side(hours, visit, "one axis")
    close = np.concatenate([np.arange(0, 5, 0.1), 6 + np.arange(0, 5, 0.1)])
    assert not timeaxis.visits_side_by_side(close, visit)
    assert timeaxis.visits_side_by_side(close, visit, "side by side")
    assert not timeaxis.visits_side_by_side(hours, np.zeros(100, dtype=int), "side by side")
    with pytest.raises(ValueError, match="visit layout"):
        timeaxis.visits_side_by_side(hours, visit, "stacked")


def test_side_by_side_panels_show_hours_since_each_visit_start():
    hours = np.concatenate([np.arange(0, 5, 0.1), 700 + np.arange(0, 5, 0.1)])
    cube = _cube(hours, RNG.normal(0, 1, (100, 8))).split_visits(0.5)
    fig = figures.heatmap_figure(cube)
    assert fig.layout.meta["visits_side_by_side"]
    axes = {(t.xaxis, t.yaxis) for t in fig.data}
    assert axes == {("x", "y"), ("x2", "y2")}
    second = [t for t in fig.data if t.meta["visit"] == 1][0]
    assert np.asarray(second.y, dtype=float)[0] == pytest.approx(-0.05, abs=1e-4)  # since its own start
    assert "since visit start" in second.hovertemplate
    assert fig.layout.xaxis.domain[1] < fig.layout.xaxis2.domain[0]
    assert "Visit 2: starts 29.2 d after t0" in [a.text for a in fig.layout.annotations]  # 700 h, in days


def test_surface_z_range_and_player_y_range_ignore_noisy_edge_columns():
    """The 3D surface's z axis and the spectrum player's y axis follow the good wavelengths
    (as the colours do), not Plotly's autorange, which a few wild edge columns set."""
    rng = np.random.default_rng(3)
    n_time, n_wave = 40, 120
    signal = 1.0 * np.sin(np.linspace(0, 4 * np.pi, n_time))[:, None] * np.ones((1, n_wave))
    flux = 100.0 * (1 + (signal + rng.normal(0, 0.1, (n_time, n_wave))) / 100.0)
    flux[:, :3] = 100.0 * (1 + rng.normal(0, 30.0, (n_time, 3)) / 100.0)  # ±3000 % edge columns
    obs = make_observation("variability", n_integrations=n_time, wavelength=np.linspace(1.0, 3.0, n_wave), seed=1)
    cube = steps.normalize(dataclasses.replace(obs.to_cube(), flux=flux, error=np.full_like(flux, 0.1)))
    z_low, z_high = figures.surface_figure(cube).layout.scene.zaxis.range
    assert -3.0 < z_low < -1.0 and 1.0 < z_high < 3.0  # the ±1 % signal fills the box
    frames = figures.spectrum_frames(cube)
    y_low, y_high = frames.y_range
    assert -3.0 < y_low < -1.0 and 1.0 < y_high < 3.0
    # a range the user sets is the surface's range
    assert tuple(figures.surface_figure(cube, zrange=(-5.0, 5.0)).layout.scene.zaxis.range) == (-5.0, 5.0)
