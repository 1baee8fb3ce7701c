"""The download package's science products, static figures and recipe.py.

recipe.py is run in a fresh Python process on the original files; what it writes must be
the package's tables, number for number.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable
from PIL import Image

import stamp_engine
from stamp_engine import export
from stamp_engine.bands import Band
from stamp_engine.export.science import SciencePlan
from stamp_engine.recipe import ProcessOptions, process
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.x1dints import write_segments

from tests.helpers.paths import REPO as ROOT

BANDS = [Band("H2O 1.4", 1.30, 1.50), Band("CO2 4.3", 4.20, 4.45), Band("Far away", 20.0, 21.0)]
STAMP = "20250304_050607"
WHEN = __import__("datetime").datetime(2025, 3, 4, 5, 6, 7)


@pytest.fixture(scope="module")
def transit_package(tmp_path_factory):
    """A transit written as two x1dints segments, processed with non-default options, packaged."""
    root = tmp_path_factory.mktemp("recipe")
    obs = make_observation("transit", n_integrations=180, wavelength=np.linspace(0.6, 5.3, 240), seed=5)
    data = root / "data"
    paths = write_segments(data, obs, n_segments=2)
    span = float(obs.hours[-1])
    options = ProcessOptions(
        normalization="baseline", baseline=(0.0, 0.25 * span), wavelength=(0.8, None), bin_wavelength=2, gap_hours=0.7,
    )
    cube = process(stamp_engine.load(paths), options)
    # a period given: the transit's own periodogram peak is not a resolved period (no amplitude spectrum there)
    plan = SciencePlan(channels=12, period_hours=0.3 * span, in_transit=((0.4 * span, 0.6 * span),),
                       baseline=((0.0, 0.25 * span), (0.75 * span, span)))
    zip_path = export.build_package(
        cube, root / "out", bands=BANDS, options=options.describe(), process_options=options, science=plan,
        video=False, when=WHEN, unpacked=True,
    )
    return obs, cube, data, zip_path, root / "out" / f"stamp_package_{STAMP}"


def test_the_package_holds_science_tables_figures_and_the_recipe(transit_package):
    _, _, _, zip_path, _ = transit_package
    names = set(zipfile.ZipFile(zip_path).namelist())
    for name in (
        "recipe.py", f"transit_spectrum_{STAMP}.ecsv", f"amplitude_spectrum_{STAMP}.ecsv",
        f"periodogram_white_light_{STAMP}.ecsv", f"periodogram_H2O_1.4_{STAMP}.ecsv", f"periodogram_CO2_4.3_{STAMP}.ecsv",
        *(f"{kind}_{STAMP}.{ext}" for kind in ("heatmap", "lightcurves", "spectra") for ext in ("png", "pdf")),
    ):
        assert name in names, name
    assert not any("Far" in n for n in names)  # the band outside the data has no table


def test_recipe_run_in_a_fresh_process_rebuilds_the_package_tables(transit_package, tmp_path):
    _, _, data, _, unpacked = transit_package
    rebuilt = tmp_path / "rebuilt"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, str(unpacked / "recipe.py"), str(data), str(rebuilt)],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    tables = sorted(p.name for p in unpacked.glob("*.ecsv"))
    assert len(tables) == 6 and sorted(p.name for p in rebuilt.glob("*.ecsv")) == tables
    for name in tables:
        ours, theirs = QTable.read(unpacked / name), QTable.read(rebuilt / name)
        assert ours.colnames == theirs.colnames, name
        for column in ours.colnames:
            a, b = ours[column], theirs[column]
            if column == "time":
                np.testing.assert_array_equal(a.mjd, b.mjd)
                continue
            assert getattr(a, "unit", None) == getattr(b, "unit", None), (name, column)
            np.testing.assert_array_equal(np.asarray(getattr(a, "value", a)), np.asarray(getattr(b, "value", b)),
                                          err_msg=f"{name}: {column}")
    package_cube = export.read_cube_fits(unpacked / f"stamp_cube_{STAMP}.fits")
    recipe_cube = export.read_cube_fits(rebuilt / f"stamp_cube_{STAMP}.fits")
    np.testing.assert_array_equal(recipe_cube.flux, package_cube.flux)
    np.testing.assert_array_equal(recipe_cube.wavelength, package_cube.wavelength)
    assert recipe_cube.history == package_cube.history


def test_a_recipe_that_no_longer_matches_is_caught(transit_package, tmp_path):
    """The comparison above can fail: a recipe with one option changed gives other numbers."""
    _, _, data, _, unpacked = transit_package
    changed = tmp_path / "recipe.py"
    text = (unpacked / "recipe.py").read_text(encoding="utf-8")
    assert "    bin_wavelength=2," in text
    changed.write_text(text.replace("    bin_wavelength=2,", "    bin_wavelength=1,"), encoding="utf-8")
    subprocess.run([sys.executable, str(changed), str(data), str(tmp_path / "rebuilt")], check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path, timeout=300)
    ours = QTable.read(unpacked / f"lightcurves_{STAMP}.ecsv")
    theirs = QTable.read(tmp_path / "rebuilt" / f"lightcurves_{STAMP}.ecsv")
    assert not np.array_equal(ours["H2O_1.4"].value, theirs["H2O_1.4"].value)


def test_transit_spectrum_ecsv_has_units_a_header_and_the_injected_depths(transit_package):
    obs, _, _, _, unpacked = transit_package
    table = QTable.read(unpacked / f"transit_spectrum_{STAMP}.ecsv")
    assert table["wavelength"].unit == u.um and table["depth"].unit.is_equivalent(u.dimensionless_unscaled)
    assert table.meta["product"] == "transit spectrum" and table.meta["in_transit_hours"] and table.meta["history"]
    assert "baseline" in table.meta["description"].lower()
    low, high = table["wavelength_low"].value, table["wavelength_high"].value
    inside = (obs.wavelength[None, :] >= low[:, None]) & (obs.wavelength[None, :] < high[:, None])
    injected = (inside * obs.truth["depth"][None, :]).sum(axis=1) / inside.sum(axis=1)  # channel mean of the truth
    depth = table["depth"].to_value(u.dimensionless_unscaled)
    error = table["depth_err"].to_value(u.dimensionless_unscaled)
    assert len(table) == 12 and np.all(np.isfinite(depth)) and np.all(error > 0)
    # channels weight their pixels by 1/σ², the truth here is a plain mean: a few % apart at most
    np.testing.assert_allclose(depth, injected, rtol=0.05, atol=3 * error.max())
    assert np.ptp(depth) > 0.2 * np.ptp(injected) > 0  # the molecular features are there, not a flat line
    amplitude = QTable.read(unpacked / f"amplitude_spectrum_{STAMP}.ecsv")
    assert amplitude["amplitude"].unit == u.percent and amplitude.meta["period_hours"] > 0
    periodogram = QTable.read(unpacked / f"periodogram_white_light_{STAMP}.ecsv")
    assert periodogram["period"].unit == u.hour and 0 <= periodogram.meta["peak_power"] <= 1


def test_readme_lists_the_new_files_and_says_what_was_not_made(transit_package, tmp_path):
    _, cube, _, _, unpacked = transit_package
    readme = " ".join((unpacked / "README.txt").read_text(encoding="utf-8").split())
    assert "recipe.py: Python script" in readme and f"transit_spectrum_{STAMP}.ecsv" in readme
    # without windows or processing options: no transmission spectrum and no recipe, and the README says why
    path = export.build_package(cube.take(slice(0, 40)), tmp_path, bands=BANDS[:1], video=False, when=WHEN, unpacked=True)
    names = zipfile.ZipFile(path).namelist()
    assert "recipe.py" not in names and not any(n.startswith("transit_spectrum") for n in names)
    readme = " ".join((tmp_path / f"stamp_package_{STAMP}" / "README.txt").read_text(encoding="utf-8").split())
    assert f"transit_spectrum_{STAMP}.ecsv: not made (no in-transit and baseline windows were chosen)" in readme
    assert "recipe.py: not written" in readme


def test_no_amplitude_spectrum_at_a_transit_peak_and_the_readme_says_why(transit_package, tmp_path):
    _, cube, _, _, _ = transit_package
    path = export.build_package(cube, tmp_path, bands=BANDS[:1], video=False, when=WHEN, unpacked=True)
    assert not any(n.startswith("amplitude_spectrum") for n in zipfile.ZipFile(path).namelist())
    readme = " ".join((tmp_path / f"stamp_package_{STAMP}" / "README.txt").read_text(encoding="utf-8").split())
    assert f"amplitude_spectrum_{STAMP}.ecsv: not made (the white light's peak at" in readme
    assert "not a resolved period; give a period to fit one anyway)" in readme


def _plot_pixels(png: Path) -> np.ndarray:
    return np.asarray(Image.open(png).convert("RGB")).astype(int)


def test_static_heatmap_shows_the_transit_in_blue_and_the_baseline_white(transit_package):
    obs, cube, _, _, unpacked = transit_package
    image = _plot_pixels(unpacked / f"heatmap_{STAMP}.png")
    red, green, blue = image[..., 0], image[..., 1], image[..., 2]
    bluish = (blue - red > 60) & (blue > green)
    assert bluish.sum() > 0.05 * image.shape[0] * image.shape[1]  # the transit (negative variability) is blue
    # rows of the picture: time runs up the y axis; the transit's rows are blue, the baseline's near white
    rows_blue = bluish.mean(axis=1)
    assert rows_blue.max() > 0.3 and (rows_blue < 0.02).sum() > 0.2 * image.shape[0]
    near_white = (red > 225) & (green > 225) & (blue > 225)
    assert near_white.mean() > 0.2


def test_static_spectra_figure_draws_a_point_per_channel_with_error_bars(transit_package):
    _, _, _, _, unpacked = transit_package
    image = _plot_pixels(unpacked / f"spectra_{STAMP}.png")
    marker = (np.abs(image[..., 0] - 31) < 40) & (np.abs(image[..., 1] - 119) < 40) & (image[..., 2] > 140)
    top = marker[: image.shape[0] // 2]  # the transit-depth panel
    # a marker is a disc (many pixels tall); the channel-width bars joining them are 2-3 px thin
    columns = np.flatnonzero(top.sum(axis=0) >= 6)
    runs = 1 + np.count_nonzero(np.diff(columns) > 1) if columns.size else 0
    assert runs == 12  # one marker per channel
    with Image.open(unpacked / f"spectra_{STAMP}.png") as png:
        assert png.size[0] >= 1200
    assert (unpacked / f"spectra_{STAMP}.pdf").read_bytes().startswith(b"%PDF")


def test_an_amplitude_spectrum_at_a_given_unresolved_period_is_made_with_a_warning(transit_package):
    from stamp_engine.export.science import science_products

    _, cube, _, _, _ = transit_package
    span = float(np.nanmax(cube.hours) - np.nanmin(cube.hours))
    products = science_products(cube, [cube.white_light()], SciencePlan(channels=6, period_hours=0.9 * span))
    assert products.amplitude is not None and "amplitude_spectrum" not in products.not_made
    assert "Warning: the period given is not resolved by the data" in products.amplitude.description
    resolved = science_products(cube, [cube.white_light()], SciencePlan(channels=6, period_hours=0.3 * span))
    assert "Warning" not in resolved.amplitude.description
