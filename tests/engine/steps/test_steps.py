"""The engine's structure: steps bound as Cube methods, one option/band/time-standard rule, history records."""

from __future__ import annotations

import inspect
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
from astropy.time import Time

import astropy.units as u

from stamp_engine import steps
from stamp_engine.bands import Band, band_from_record, parse_bands
from stamp_engine.cube import Cube
from stamp_engine.history import HistoryStep, from_json, last_step, to_json
from stamp_engine.labels import row_spans
from stamp_engine.recipe import DataLimits, ProcessOptions
from stamp_engine.synthetic import make_observation
from stamp_engine.timestandard import TIME_STANDARDS, time_standard

from tests.helpers.paths import REPO as ROOT

BOUND = {
    "normalize": "normalize", "split_visits": "split_visits", "select": "select", "limit": "limit",
    "interpolate_gaps": "interpolate_gaps", "bin": "bin", "smooth": "smooth", "clip": "clip",
    "light_curve": "band_light_curve", "white_light": "white_light_curve",
}


def _cube(n: int = 60, n_wave: int = 12, gap_after: int | None = None) -> Cube:
    hours = np.arange(n) / 60.0
    if gap_after is not None:
        hours = np.delete(np.arange(n + 3) / 60.0, range(gap_after, gap_after + 3))
    rng = np.random.default_rng(3)
    flux = 100.0 + rng.normal(0, 1, (n, n_wave))
    return Cube(np.linspace(1.0, 2.0, n_wave), Time(60200.0 + hours / 24.0, format="mjd", scale="tdb"), flux,
                np.full(flux.shape, 1.0), u.Jy)


# ------------------------------------------------------------------ steps as methods
@pytest.mark.parametrize("method, function", sorted(BOUND.items()))
def test_each_cube_method_is_the_step_function_itself(method, function):
    assert getattr(Cube, method) is getattr(steps, function)


def test_every_step_option_reaches_the_method():
    cube = _cube()
    cube.flux[7, 3] = 1e4  # an outlier that one iteration at 3σ already clips
    clipped = cube.clip(sigma=3.0, maxiters=1)  # Cube.clip used to lack maxiters
    assert np.isnan(clipped.flux[7, 3]) and clipped.history[-1].parameters["maxiters"] == 1
    assert list(inspect.signature(Cube.clip).parameters) == ["cube", "sigma", "maxiters"]


def test_steps_do_not_import_the_cube_module():
    """No import circle: the steps import nothing from stamp_engine.cube, which imports them."""
    code = ("import sys, stamp_engine.steps, stamp_engine.statistics, stamp_engine.labels, stamp_engine.history; "
            "print('stamp_engine.cube' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


# ------------------------------------------------------------------------ history
def test_every_step_records_its_name_and_parameters():
    cube = _cube(gap_after=20)
    chain = (cube.split_visits(0.5).normalize(method="baseline", baseline=(0.0, 0.3)).select(wavelength=(1.1, 1.9))
             .limit(50).interpolate_gaps().bin(time=2, wavelength=2, method="median").smooth(1.0, 0.5).clip(4.0))
    records = [h for h in chain.history if isinstance(h, HistoryStep)]
    assert [r.step for r in records] == ["split_visits", "normalize", "select", "limit", "interpolate_gaps", "bin",
                                         "smooth", "clip"]
    assert last_step(chain.history, "normalize").parameters["baseline_hours"] == [0.0, 0.3]
    assert last_step(chain.history, "select").parameters == {"wavelength": [1.1, 1.9]}
    assert last_step(chain.history, "bin").parameters == {"time": 2, "wavelength": 2, "method": "median"}
    assert last_step(chain.history, "normalize").startswith("normalize (baseline): variability %")


def test_history_records_survive_pickle_and_json():
    cube = _cube().normalize(method="visit").bin(time=3)
    again = pickle.loads(pickle.dumps(cube.history))
    assert again == cube.history and [r.parameters for r in again] == [r.parameters for r in cube.history]
    back = from_json(json.loads(json.dumps(to_json(("loaded 1 file(s)", *cube.history)))))
    assert back[0] == "loaded 1 file(s)" and not isinstance(back[0], HistoryStep)
    assert last_step(back, "normalize").parameters["method"] == "visit"


# ------------------------------------------------------------------------- labels
def test_selecting_rows_of_a_binned_gap_filled_cube_keeps_every_row_label_aligned():
    binned = _cube(gap_after=20).interpolate_gaps().bin(time=4)
    assert binned.interpolated.any()
    part = binned.select(hours=(0.2, 0.6))
    rows = np.flatnonzero((binned.hours >= 0.2) & (binned.hours <= 0.6))
    # the binned spans (first/last integration and time per row), not one integration per row
    np.testing.assert_array_equal(row_spans(part), row_spans(binned)[rows])
    np.testing.assert_array_equal(part.interpolated, binned.interpolated[rows])
    np.testing.assert_array_equal(part.integration, binned.integration[rows])
    assert (row_spans(part)[:, 1] > row_spans(part)[:, 0]).all()


# ----------------------------------------------------------------------- options
def test_default_options_are_valid_and_every_rule_names_its_field():
    assert ProcessOptions().validate() == {}
    limits = DataLimits(wavelength=(0.6, 5.3), hours=(0.0, 10.0), n_integrations=100)
    bad = ProcessOptions(n_integrations=-2, gap_hours=0.0, zaxis="log", normalization="baseline", baseline=None,
                         wavelength=(6.0, 7.0), hours=(3.0, 1.0), sigma_time=float("nan"), sigma_wavelength=101.0,
                         bin_time=0, bin_wavelength=2.5)
    errors = bad.validate(limits)
    assert set(errors) == {"n_integrations", "gap_hours", "zaxis", "wavelength", "hours", "sigma_time",
                           "sigma_wavelength", "bin_time", "bin_wavelength"}  # baseline only applies to variability
    assert "the data cover 0.6–5.3 µm" in errors["wavelength"] and "must be below end" in errors["hours"]
    assert "finite" in errors["sigma_time"] and "whole number" in errors["bin_wavelength"]
    flagged = ProcessOptions(normalization="baseline").validate(labels={"baseline": "--baseline"})
    assert flagged == {"baseline": "--baseline needs a start and an end (hours since the first integration)"}
    assert ProcessOptions(normalization="baseline", baseline=(20.0, 30.0)).validate(limits)["baseline"].endswith(
        "no data there; the data cover 0–10 h")


def test_bad_options_fall_back_to_the_defaults_field_by_field():
    options = ProcessOptions(bin_time=0, sigma_time=2.0)
    fixed = options.with_defaults_for(options.validate())
    assert fixed == ProcessOptions(sigma_time=2.0)


# ------------------------------------------------------------------------- bands
@pytest.mark.parametrize("record, words", [
    ({"name": "flag", "start": True, "end": 2.0}, "numbers"),  # a bool is not a wavelength
    ({"name": "x" * 81, "start": 1.0, "end": 2.0}, "at most 80"),
    ({"name": "", "start": 1.0, "end": 2.0}, "name"),
    ({"name": "r", "start": 2.0, "end": 1.0}, "must be below end"),
    ({"name": "t", "start": "abc", "end": 2.0}, "numbers"),
    ("H2O:1-2", "record"),
])
def test_every_front_end_refuses_the_same_bands(record, words):
    from dashboard.band_rows import check_band_rows
    from dashboard.features.views import BandsRefused, _bands

    with pytest.raises(ValueError, match=words):
        band_from_record(record)
    with pytest.raises(BandsRefused):
        _bands([record])
    if isinstance(record, dict):
        bands, errors = check_band_rows([record])
        assert bands == [] and words in errors[0]


def test_every_front_end_reads_the_same_band_the_same_way():
    from dashboard.band_rows import check_band_rows
    from dashboard.features.views import _bands

    record = {"name": " CO ", "start": "4.5", "end": 4.9}
    expected = Band("CO", 4.5, 4.9)
    assert band_from_record(record) == expected
    assert _bands([record]) == [expected]
    assert check_band_rows([record])[0] == [expected]
    assert parse_bands("CO:4.5-4.9") == [expected]


# ------------------------------------------------------------------ time standard
def test_time_standard_labels_say_scale_and_reference_position():
    for label, standard in TIME_STANDARDS.items():
        assert standard.label == label and str(standard) == label
    assert (time_standard("BJD_TDB").scale, time_standard("BJD_TDB").reference_position) == ("tdb", "BARYCENTER")
    assert time_standard("HJD_UTC").reference_position == "HELIOCENTER"
    cadence = time_standard("MJD_UTC (from EXPSTART + cadence)")
    assert (cadence.name, cadence.timesys, cadence.note) == ("MJD_UTC", "UTC", "from EXPSTART + cadence")
    with pytest.raises(ValueError, match="unknown time standard 'TT'"):
        time_standard("TT")
    cube = make_observation("transit", n_integrations=20, seed=1).to_cube()
    assert cube.time_reference.scale == cube.time.scale == "tdb"


# ------------------------------------------------------------------------- median
@pytest.mark.parametrize("seed", range(6))
def test_nan_median_equals_numpy_on_mixed_clean_dead_and_scattered_columns(seed):
    """Clean columns, all-NaN columns, columns with a few or with most values missing,
    infinities and ties in one array: each group takes a different path of the median."""
    rng = np.random.default_rng(seed)
    n_rows = int(rng.integers(40, 400))
    values = np.round(rng.normal(0, 3, (n_rows, 30)), int(rng.integers(0, 3)))  # ties
    values[:, 3] = np.nan
    values[rng.random(n_rows) < 0.05, 5:12] = np.nan
    values[rng.random((n_rows, 30)) < 0.02] = np.nan
    values[rng.random(n_rows) < 0.7, 20] = np.nan
    values[rng.integers(0, n_rows, 3), 25] = np.inf
    values[rng.integers(0, n_rows, 3), 26] = -np.inf
    rows = rng.random(n_rows) < 0.8
    from stamp_engine.statistics import nanmedian_over_time

    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanmedian(values, axis=0), np.nanmedian(values[rows], axis=0)
    assert np.array_equal(nanmedian_over_time(values), expected[0], equal_nan=True)
    assert np.array_equal(nanmedian_over_time(values, rows), expected[1], equal_nan=True)
