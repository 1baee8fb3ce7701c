"""The science panels' logic (dashboard/features/science.py) without a browser: inputs the page
sends are checked with clear messages, the products are the engine's, windows from the store."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard import ids
from dashboard.features import science
from stamp_engine.bands import Band
from stamp_engine.export.science import SciencePlan
from stamp_engine.synthetic import make_observation
from stamp_engine.windows import read_windows

BANDS = [Band("H2O", 1.3, 1.5), Band("CO2", 4.2, 4.45)]


@pytest.fixture(scope="module")
def transit():
    return make_observation("transit", n_integrations=300, wavelength=np.linspace(0.8, 5.0, 100), seed=8).to_cube().normalize()


@pytest.fixture(scope="module")
def dwarf():
    return make_observation("variability", n_integrations=300, wavelength=np.linspace(0.8, 5.0, 100), seed=9).to_cube()


@pytest.mark.parametrize("mode, value, expected", [("R", 30, {"R": 30.0}), ("width", "0.25", {"width": 0.25}),
                                                   ("n", 12.0, {"n": 12})])
def test_channel_binning_from_the_panel(mode, value, expected):
    assert science.channel_binning(mode, value) == expected


@pytest.mark.parametrize("mode, value, message", [
    ("R", None, "give the channel resolving power R"),
    ("R", -3, "must be positive"),
    ("n", 2.5, "whole number"),
    ("width", "abc", "must be a number"),
    ("width", float("inf"), "finite"),
    ("bins", 3, "must be made by width, R, n"),
    ("R", True, "must be a number"),
])
def test_bad_channel_inputs_are_refused_with_a_message(mode, value, message):
    with pytest.raises(science.ScienceInputError, match=message):
        science.channel_binning(mode, value)


def test_windows_from_typed_values():
    assert science.window(None, "", "baseline") is None
    assert science.window("1", 2.5, "baseline") == (1.0, 2.5)
    with pytest.raises(science.ScienceInputError, match="give both the start and the end of the baseline"):
        science.window(1, None, "baseline")
    with pytest.raises(science.ScienceInputError, match="start must be before its end"):
        science.window(3, 2, "in-transit")


def test_depth_request_without_windows_says_what_to_set():
    with pytest.raises(science.ScienceInputError, match="Set the in-transit and baseline window.*box-select"):
        science.depth_request("R", 30, "transit", "ppm", None, None, None, None, None, None)
    with pytest.raises(science.ScienceInputError, match="Set the in-eclipse window"):
        science.depth_request("R", 30, "eclipse", "ppm", None, None, 0, 1, None, None)
    request = science.depth_request("n", 5, "transit", "%", 2, 3, 0, 1, 4, 4.9)
    assert request.baseline == ((0.0, 1.0), (4.0, 4.9)) and request.binning == {"n": 5} and request.unit == "%"
    with pytest.raises(science.ScienceInputError, match="transit or an eclipse"):
        science.depth_request("n", 5, "occultation", "%", 2, 3, 0, 1, None, None)


def test_depth_view_draws_the_engines_spectrum(transit):
    request = science.depth_request("R", 20, "transit", "ppm", 2.0, 3.0, 0.0, 1.4, 3.6, 4.98)
    figure, note = science.depth_view(transit, request, BANDS)
    expected = transit.transmission_spectrum((2.0, 3.0), [(0.0, 1.4), (3.6, 4.98)], R=20)
    np.testing.assert_allclose(np.asarray(figure.data[0].y, dtype=float), expected.depth.value, rtol=1e-6)
    assert note == expected.description
    assert [s.name for s in figure.layout.shapes] == ["band H2O", "band CO2"]


def test_a_window_outside_the_data_is_the_engines_message(transit):
    request = science.depth_request("R", 20, "transit", "ppm", 20.0, 30.0, 0.0, 1.4, None, None)
    with pytest.raises(ValueError, match="in-transit window 20–30 h lies outside the data"):
        science.depth_view(transit, request, [])


def test_channels_view_divides_by_the_white_light_over_the_baseline(transit):
    figure, note = science.channels_view(transit, "n", 5, None, True, (0.0, 1.4))
    assert "baseline 0–1.4 h" in note and "residuals" in figure.layout.title.text
    median_note = science.channels_view(transit, "n", 5, "3", True, None)[1]
    assert "median" in median_note
    with pytest.raises(science.ScienceInputError, match="display binning"):
        science.channels_view(transit, "n", 5, 0, False, None)


def test_variability_view_peak_user_period_and_band_notes(dwarf):
    grams, amplitude, summary = science.variability_view(dwarf, BANDS, "n", 10, None)
    assert "White light: peak at 2.4" in summary and "the white light's periodogram peak" in summary
    assert [t.meta["curve"] for t in grams.data if t.meta["role"] == "periodogram"] == ["CO2", "H2O", "White light"]
    peak_fit = np.asarray(amplitude.data[0].y, dtype=float)
    _, at_two_hours, summary = science.variability_view(dwarf, BANDS, "n", 10, "2.0")
    assert "at 2 h (the period typed)" in summary
    # a wrong period fits a smaller sinusoid
    assert np.median(np.asarray(at_two_hours.data[0].y, dtype=float)) < 0.8 * np.median(peak_fit)
    with pytest.raises(science.ScienceInputError, match="positive number of hours"):
        science.variability_view(dwarf, BANDS, "n", 10, -1)


def test_transit_peak_gives_no_amplitude_spectrum_unless_a_period_is_typed(transit):
    short = transit.select(hours=(0.0, 0.45 * float(np.nanmax(transit.hours))))  # a partial transit: a trend
    grams, amplitude, summary = science.variability_view(short, [], "n", 6, None)
    assert "No amplitude spectrum: peak at" in summary and "not a resolved period" in summary
    assert not amplitude.data and amplitude.layout.meta["role"] == "amplitude-not-drawn"
    assert "not a resolved period" in grams.layout.title.text
    span = float(np.nanmax(short.hours) - np.nanmin(short.hours))
    _, typed, summary = science.variability_view(short, [], "n", 6, f"{0.9 * span:.4f}")
    assert typed.data and "Warning: the period typed is not resolved by the data" in typed.layout.title.text
    assert "not resolved by the data (" in summary and "fewer than two cycles" in summary


def test_a_band_without_enough_points_is_named_not_dropped(dwarf):
    flux = dwarf.flux.copy()
    flux[2:, (dwarf.wavelength > 1.3) & (dwarf.wavelength < 1.5)] = np.nan
    _, _, summary = science.variability_view(dwarf.replace(flux=flux), BANDS, "n", 10, None)
    assert "H2O: no periodogram" in summary and "at least 3" in summary


def test_long_series_are_averaged_before_the_periodogram_and_it_says_so():
    cube = make_observation("variability", n_integrations=2500, wavelength=np.linspace(1, 2, 20), cadence_s=20).to_cube()
    grams, _, summary = science.variability_view(cube, [], "n", 4, None)
    assert "averaged over 3 integrations per point (834 points)" in summary
    peak = [t for t in grams.data if t.meta["role"] == "peak"][0].x[0]
    assert abs(peak - 2.4) < 0.02


def test_stored_windows_keep_only_well_formed_pairs():
    """The science tabs and the downloads read the page's windows by the engine's one rule."""
    assert read_windows({"in_transit": [3.1, 1.9], "baseline": [0, 1.4]}) == {
        "in_transit": (1.9, 3.1), "baseline": (0.0, 1.4)}
    assert read_windows({"in_transit": ["a", 2], "baseline": [1, 1]}) == {}
    assert read_windows({"in_transit": [0, float("nan")], "baseline": [0, 1, 2], "baseline2": [None, 1]}) == {}
    assert read_windows("not a dict") == {} and read_windows(None) == {}
    assert read_windows({"baseline2": (5, 4.12345678)}) == {"baseline2": (4.1234568, 5.0)}
    # a window of a few seconds (a box on a light curve drawn in s) keeps its integrations: 3–10 s
    assert read_windows({"baseline": [3 / 3600, 10 / 3600]})["baseline"] == pytest.approx((3 / 3600, 10 / 3600), abs=1e-7)
    plan = SciencePlan.from_windows({"in_transit": [2, 1], "baseline": [0, 0.5], "baseline2": [3, "x"]})
    assert plan.in_transit == ((1.0, 2.0),) and plan.baseline == ((0.0, 0.5),)
    plan = SciencePlan.from_windows({"baseline": [0, 0.5], "baseline2": [3, 4]})
    assert plan.in_transit is None and plan.baseline == ((0.0, 0.5), (3.0, 4.0))
    assert SciencePlan.from_windows(None) == SciencePlan()


def test_the_windows_store_is_written_by_the_linked_views_and_read_by_the_science_tabs():
    from dashboard.app import create_app

    tabs = science.tabs()
    assert [t.tab_id for t in tabs] == [ids.TAB_CHANNELS, ids.TAB_TRANSMISSION, ids.TAB_VARIABILITY]
    app = create_app()
    page = app.layout() if callable(app.layout) else app.layout
    assert str(page).count(f"id='{ids.WINDOWS_STORE}'") == 1  # one store, not one per feature
    store_data = f"{ids.WINDOWS_STORE}.data"
    writers = [key for key in app.callback_map if store_data in key]
    readers = [key for key, c in app.callback_map.items() if any(i["id"] == ids.WINDOWS_STORE for i in c["inputs"])]
    assert writers and readers


def test_raw_flux_channels_and_depths_keep_the_flux_unit_and_are_close_to_the_normalized_cubes():
    obs = make_observation("transit", n_integrations=300, wavelength=np.linspace(0.8, 5.0, 100), seed=8)
    raw = obs.to_cube()
    figure, _ = science.channels_view(raw, "n", 4, None, False, None)
    assert "(Jy)" in figure.layout.yaxis.title.text
    request = science.depth_request("n", 5, "transit", "ppm", 2.0, 3.0, 0.0, 1.4, 3.6, 4.98)
    raw_depth = np.asarray(science.depth_view(raw, request, [])[0].data[0].y, dtype=float)
    normalized = np.asarray(science.depth_view(raw.normalize(), request, [])[0].data[0].y, dtype=float)
    # not equal: a raw channel weights its pixels by 1/σ² of flux, a normalized one of relative flux
    np.testing.assert_allclose(raw_depth, normalized, rtol=0.01)
