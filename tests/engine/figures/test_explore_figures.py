"""The linked-exploration payload and panels (stamp_engine.explore_figures), without a browser."""

from __future__ import annotations

import base64

import numpy as np

from stamp_engine.explore_figures import (
    CROSSHAIR_COLOUR,
    DATA_COLOUR,
    explore_payload,
    point_light_curve_figure,
    point_spectrum_figure,
)
from stamp_engine.figures import display_cube
from stamp_engine.labels import INTERPOLATED_KEY
from stamp_engine.steps import normalize
from stamp_engine.synthetic import make_observation


def _decode(text: str, dtype: str, shape=None) -> np.ndarray:
    values = np.frombuffer(base64.b64decode(text), dtype=dtype)
    return values.reshape(shape) if shape else values


def make_cube(n_time: int, n_wave: int, n_visits: int = 1, normalized: bool = True):
    obs = make_observation("variability", n_integrations=n_time, wavelength=np.linspace(1.0, 2.0, n_wave),
                           n_visits=n_visits, visit_gap_hours=5.0, seed=2)
    cube = obs.to_cube()
    return normalize(cube) if normalized else cube


def test_payload_holds_the_display_cube_values_errors_and_times():
    cube = make_cube(n_time=30, n_wave=16, n_visits=2)
    shown = display_cube(cube)
    payload = explore_payload(shown)
    nt, nw = payload["n_time"], payload["n_wave"]
    assert (nt, nw) == shown.shape
    np.testing.assert_array_equal(_decode(payload["wavelength"], "<f8"), shown.wavelength)
    np.testing.assert_array_equal(_decode(payload["hours"], "<f8"), shown.hours)
    np.testing.assert_array_equal(_decode(payload["value"], "<f4", (nt, nw)), shown.flux.astype(np.float32))
    np.testing.assert_array_equal(_decode(payload["error"], "<f4", (nt, nw)), shown.error.astype(np.float32))
    assert payload["visit"] == [int(v) for v in shown.visit]
    # a change of visit is a break: no line joins the visits' light curves
    last_of_first_visit = int(np.flatnonzero(shown.visit == 0)[-1])
    assert last_of_first_visit in payload["breaks"]
    assert payload["unit"] == "%" and payload["value_name"] == "Variability"


def test_payload_breaks_at_a_gap_and_hides_errors_of_interpolated_rows():
    cube = make_cube(n_time=30, n_wave=8)
    hours_mjd = cube.time.mjd.copy()
    hours_mjd[15:] += 2.0 / 24.0  # a two-hour gap after row 14
    cube = cube.replace(time=cube.time.__class__(hours_mjd, format="mjd", scale=cube.time.scale))
    flags = np.zeros(30, dtype=bool)
    flags[3] = True
    cube = cube.replace(meta={**cube.meta, INTERPOLATED_KEY: flags})
    payload = explore_payload(cube)
    assert payload["breaks"] == [14]
    assert payload["interpolated"] == [3]
    error = _decode(payload["error"], "<f4", cube.shape)
    assert np.isnan(error[3]).all() and np.isfinite(error[2]).all()


def test_panel_templates_name_what_they_show_and_select_boxes():
    cube = make_cube(n_time=10, n_wave=6)
    spectrum, light_curve = point_spectrum_figure(cube), point_light_curve_figure(cube)
    assert spectrum.layout.meta["stamp_figure"] == "explore-spectrum"
    assert light_curve.layout.meta["stamp_figure"] == "explore-light-curve"
    assert spectrum.layout.xaxis.title.text == "Wavelength (µm)"
    assert light_curve.layout.xaxis.title.text == cube.time_axis().title
    assert spectrum.layout.yaxis.title.text == "Variability (%)"
    assert [t.meta["role"] for t in spectrum.data] == ["error-ribbon", "spectrum"]
    assert [t.meta["role"] for t in light_curve.data] == ["error-ribbon", "light-curve", "band-curve"]
    assert spectrum.data[1].line.color == DATA_COLOUR != CROSSHAIR_COLOUR
    assert spectrum.layout.dragmode == light_curve.layout.dragmode == "select"


def test_flux_cube_labels_flux_with_its_unit():
    cube = make_cube(n_time=10, n_wave=6, normalized=False)
    payload = explore_payload(cube)
    assert payload["value_name"] == "Flux"
    assert point_spectrum_figure(cube).layout.yaxis.title.text.startswith("Flux")


def test_spectrum_panel_range_is_not_flattened_by_a_faint_edge():
    # the edges of a spectrum where the reference is faint run to hundreds of % variability
    # (WASP-39 b NIRSpec PRISM below 1.1 µm); the panel keeps the player's robust range
    cube = make_cube(n_time=40, n_wave=60)
    flux = cube.flux.copy()
    flux[:, :2] = 700.0
    shown = display_cube(cube.replace(flux=flux))
    y_range = point_spectrum_figure(shown).layout.yaxis.range
    assert y_range is not None
    typical = np.nanpercentile(np.abs(shown.flux[:, 2:]), 99)
    assert -100 < y_range[0] < -typical and typical < y_range[1] < 100
    raw = point_spectrum_figure(display_cube(make_cube(n_time=40, n_wave=60, normalized=False)))
    assert raw.layout.yaxis.range[0] > 0  # flux: not about 0
