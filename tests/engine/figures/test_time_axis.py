"""The time axis of every figure: time since t0 in a unit chosen from the span, t0's value printed,
implausible cadences flagged (stamp_engine.timeaxis).

The cubes are written as x1dints files by stamp_engine.synthetic and loaded as a user would.
"""

from __future__ import annotations

import re

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time

import stamp_engine as se
from stamp_engine import figures
from stamp_engine.cli import _cube_json
from stamp_engine.explore_figures import explore_payload, point_light_curve_figure
from stamp_engine.export.video import _stamp_texts
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.x1dints import write_x1dints
from stamp_engine.timeaxis import cadence_problem, display_time_unit

WAVELENGTH = np.linspace(1.0, 2.0, 12)


def _load(tmp_path, cadence_s: float, n: int, name: str = "tso", **write) -> tuple[se.Cube, object]:
    obs = make_observation(n_integrations=n, cadence_s=cadence_s, wavelength=WAVELENGTH, seed=3)
    path = write_x1dints(tmp_path / f"{name}_x1dints.fits", obs, **write)
    # a visit break well above the cadence: the series stays one visit
    cube = se.load([path], se.LoadOptions(visit_gap_hours=max(0.5, 5 * cadence_s / 3600)))
    return cube, obs


def _t0_value(title: str) -> tuple[str, float, int]:
    """Standard, value and printed decimals of the t0 in an axis title."""
    match = re.search(r"t0 = (\w+) (\d+)\.(\d+)", title)
    assert match, title
    return match.group(1), float(f"{match.group(2)}.{match.group(3)}"), len(match.group(3))


@pytest.mark.parametrize("cadence_s, n, unit, span", [
    (0.5, 60, "s", 29.5),          # 30 s: seconds
    (10.0, 2000, "h", 5.5528),     # 5.6 h: hours
    (3600.0, 200, "d", 8.2917),    # 8.3 days: days
])
def test_time_is_drawn_in_the_unit_of_the_span_in_every_figure(tmp_path, cadence_s, n, unit, span):
    cube, _ = _load(tmp_path, cadence_s, n)
    axis = cube.time_axis()
    assert axis.unit_name == unit
    heat = figures.heatmap_figure(cube, visits="one axis")
    title = heat.layout.yaxis.title.text
    assert title.startswith(f"Time since t0 ({unit}); t0 = BJD_TDB ")
    assert heat.layout.meta["time_axis"]["unit"] == unit
    assert heat.layout.yaxis.exponentformat == "power"  # no SI-prefixed ticks ("20µ")
    y = np.concatenate([np.asarray(t.y, dtype=float) for t in heat.data])
    cadence = cadence_s * float(axis.per_hour) / 3600.0
    # cell edges: half a cadence beyond the first and last integration, in the display unit
    assert np.nanmin(y) == pytest.approx(-cadence / 2, rel=1e-3)
    assert np.nanmax(y) == pytest.approx(span + cadence / 2, rel=1e-3)
    assert f" {unit} since t0 (BJD_TDB)" in heat.data[0].hovertemplate

    curves = figures.light_curve_figure(cube.light_curves())
    assert curves.layout.xaxis.title.text == title
    line = [t for t in curves.data if t.meta["role"] == "light-curve"][0]
    x = np.asarray(line.x, dtype=float)
    assert np.nanmax(x) == pytest.approx(span, rel=1e-3)  # block-averaged near the end at most
    assert f" {unit} since t0" in line.hovertemplate

    surface = figures.surface_figure(cube)  # the scene has no room for t0: it is a note under it
    assert surface.layout.scene.yaxis.title.text == f"Time since t0 ({unit})"
    assert [a.text for a in surface.layout.annotations if a.name == "t0"] == [f"t0 = {axis.t0_text}"]
    assert title == f"Time since t0 ({unit}); t0 = {axis.t0_text}"
    assert point_light_curve_figure(cube).layout.xaxis.title.text == title
    assert explore_payload(cube)["time_axis"]["per_hour"] == pytest.approx(float(axis.per_hour))
    frames = figures.spectrum_frames(cube, max_frames=50).labels
    assert frames[-1].endswith(f" {unit}") or frames[-1].split(",")[1].strip().endswith(unit)
    texts = _stamp_texts(cube, cube, 1)
    assert f" {unit} since t0" in texts[1]


def test_sub_second_cadence_reads_seconds_not_micro_hours(tmp_path):
    cube, obs = _load(tmp_path, 0.5, 60)
    frames = figures.spectrum_frames(cube).labels
    assert frames[3] == "frame 4 of 60: integration 4, 1.50 s"
    assert _stamp_texts(cube, cube, 1)[3].startswith("t =     1.50 s since t0")
    report = _cube_json(cube)
    assert report["time_unit"] == "s" and report["cadence_seconds"] == pytest.approx(0.5, rel=1e-6)


@pytest.mark.parametrize("cadence_s, n", [(0.5, 60), (10.0, 2000), (3600.0, 200)])
def test_t0_printed_is_the_first_integration_in_its_time_standard(tmp_path, cadence_s, n):
    cube, obs = _load(tmp_path, cadence_s, n)
    first = Time(obs.time_bjd_tdb[0], format="mjd", scale="tdb")
    name, value, decimals = _t0_value(figures.heatmap_figure(cube).layout.yaxis.title.text)
    assert name == "BJD_TDB"
    # printed to the resolution of the cadence (≥ 5 decimals of a day), rounded, not cut
    assert abs(value - first.jd) <= 0.5 * 10 ** -decimals + 1e-9
    assert decimals >= 5 and 10 ** -decimals <= max(cadence_s / 86400, 1e-5)
    assert _t0_value(figures.light_curve_figure(cube.light_curves()).layout.xaxis.title.text) == (name, value, decimals)


def test_a_file_without_bjd_says_its_times_are_mjd_utc(tmp_path):
    cube, obs = _load(tmp_path, 10.0, 40, nan_time_columns=True, int_times="none")
    assert cube.time_standard.startswith("MJD_UTC")
    name, value, _ = _t0_value(figures.heatmap_figure(cube).layout.yaxis.title.text)
    assert name == "MJD_UTC"
    assert value == pytest.approx(Time(cube.time.mjd[0], format="mjd", scale="utc").mjd, abs=1e-5)
    assert "(from EXPSTART + cadence)" in cube.time_axis().title


def test_visits_side_by_side_choose_the_unit_of_the_longest_visit():
    obs = make_observation(n_integrations=120, cadence_s=1.0, n_visits=2, visit_gap_hours=200.0, wavelength=WAVELENGTH)
    cube = obs.to_cube()
    fig = figures.heatmap_figure(cube)
    assert fig.layout.meta["visits_side_by_side"]
    assert fig.layout.yaxis.title.text.startswith("Time since visit start (s); t0 = BJD_TDB")
    second = [t for t in fig.data if t.meta["visit"] == 1][0]
    assert np.nanmax(np.asarray(second.y, dtype=float)) == pytest.approx(59.5, abs=0.01)
    assert "Visit 2: starts 8.33 d after t0" in [a.text for a in fig.layout.annotations]


def test_unit_rule_boundaries():
    assert display_time_unit(119 / 3600) == display_time_unit(0.0, 0.5 / 3600) == se.timeaxis.u.s
    assert display_time_unit(121 / 3600).to_string() == "min"
    assert display_time_unit(1.99).to_string() == "min"
    assert display_time_unit(2.01).to_string() == "h"
    assert display_time_unit(71.9).to_string() == "h"
    assert display_time_unit(72.1).to_string() == "d"
    assert display_time_unit(float("nan")).to_string() == "h"


def test_implausible_cadence_and_repeated_times_are_flagged_naming_the_file(tmp_path):
    fine, _ = _load(tmp_path, 10.0, 30, name="fine")
    assert not [p for p in fine.problems if "integration times" in p.message]

    fast = make_observation(n_integrations=30, cadence_s=0.001, wavelength=WAVELENGTH)
    fast_path = write_x1dints(tmp_path / "fast_x1dints.fits", fast)
    repeated = make_observation(n_integrations=30, cadence_s=10.0, wavelength=WAVELENGTH)
    repeated.time_bjd_tdb[5] = repeated.time_bjd_tdb[4]
    repeated_path = write_x1dints(tmp_path / "repeated_x1dints.fits", repeated)
    for path, reason in ((fast_path, "median cadence 0.001 s is outside the plausible 0.1 s–1 d"),
                         (repeated_path, "1 integration time(s) repeat the previous one")):
        cube = se.load([path])
        found = [p for p in cube.problems if "integration times look wrong" in p.message]
        assert len(found) == 1, cube.problems
        assert found[0].source.endswith(path.name) and found[0].severity == "warning"
        assert reason in found[0].message
        assert cube.n_integrations == 30  # flagged, not dropped


def test_cadence_problem_rule():
    hours = np.arange(10) * 10 / 3600
    assert cadence_problem(hours) is None
    assert "go backwards" in cadence_problem(hours[[0, 1, 3, 2, 4, 5]])
    assert "median cadence 48 h is outside" in cadence_problem(np.arange(5) * 48.0)  # two-day steps: not a JWST TSO
    assert cadence_problem(np.array([0.0])) is None
    # 0.026 s (a simulated file's steps) is faster than any JWST time-series mode; MIRI's 0.159 s frames are not
    assert "median cadence 0.026 s is outside" in cadence_problem(np.arange(20) * 0.026 / 3600)
    assert cadence_problem(np.arange(20) * 0.159 / 3600) is None
    # a change of visit is not a backwards step
    assert cadence_problem(np.r_[hours, hours], np.repeat([0, 1], 10)) is None


def test_periodogram_of_a_short_series_is_drawn_in_its_unit():
    from stamp_engine import science_figures
    from stamp_engine.periodogram import periodogram
    from tests.engine.science.test_periodogram_resolution import curve

    hours = np.linspace(0.0, 0.0402, 60)  # the MIRI file's 2.41 min
    gram = periodogram(curve(hours, 1 + 0.01 * np.sin(2 * np.pi * hours / 0.01), 0.001))
    fig = science_figures.periodogram_figure([gram])
    assert fig.layout.xaxis.title.text.startswith("Period (min)")
    assert fig.layout.meta["period_unit"] == "min"
    peak = [t for t in fig.data if t.meta["role"] == "peak"][0]
    assert peak.x[0] == pytest.approx(gram.peak_period.to_value(u.min)) and abs(peak.x[0] - 0.6) < 0.01
    assert peak.meta["resolved"]
    ticks = [float(t) for t in fig.layout.xaxis.ticktext]
    assert min(ticks) < 0.6 < max(ticks) <= 2.5  # minutes, not 0.00x hours
