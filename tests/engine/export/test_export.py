"""Exports: light-curve tables (ECSV/CSV), the FITS cube round trip, HTML pages, README, the ZIP."""

from __future__ import annotations

import re
import zipfile

import astropy.units as u
import numpy as np
import pytest
from astropy.io import ascii, fits
from astropy.table import QTable
from astropy.time import Time

from stamp_engine import export
from stamp_engine.bands import Band
from stamp_engine.cube import Cube
from stamp_engine.problems import Problem, ReadError
from stamp_engine.synthetic import make_observation
from stamp_engine.export.video import probe_video

BANDS = [Band("H2O 1.4", 1.30, 1.50), Band("CO2 4.3", 4.20, 4.45)]
HOSTILE = '<img src=x onerror="window.PWNED=1"></script><script>window.PWNED=2</script>'


def _cube(obs, **changes) -> Cube:
    return obs.to_cube(sources=("jw09999001001_04101_00001-seg001_nrs1_x1dints.fits",), **changes)


@pytest.fixture(scope="module")
def transit():
    """A transit normalized to its out-of-transit baseline: variability = −depth in transit."""
    obs = make_observation("transit", n_integrations=240, wavelength=np.linspace(0.6, 5.3, 300), seed=11)
    cube = _cube(obs, problems=(Problem("other.fits", "holds a single spectrum", "error"),))
    span = obs.hours[-1]
    baseline = (0.0, span * 0.25)  # before ingress (transit is 0.3–0.7 of the span)
    return obs, cube.split_visits(0.5).normalize("baseline", baseline=baseline)


def test_light_curve_table_recovers_the_injected_band_depths(transit):
    obs, cube = transit
    curves = cube.light_curves(BANDS)
    table = export.light_curve_table(curves, cube.time_standard)
    assert table.colnames == ["time", "hours", "visit", "white_light", "white_light_err",
                              "H2O_1.4", "H2O_1.4_err", "CO2_4.3", "CO2_4.3_err"]
    assert table["H2O_1.4"].unit == u.percent
    assert "1.3000–1.5000 µm" in table["H2O_1.4"].info.description
    in_transit = np.abs(obs.hours - obs.hours[-1] / 2) < obs.hours[-1] * 0.1  # flat bottom
    for band, column in zip(BANDS, ("H2O_1.4", "CO2_4.3")):
        mask = band.mask(obs.wavelength)
        weights = 1.0 / obs.error[0, mask] ** 2
        expected = -100.0 * np.average(obs.truth["depth"][mask], weights=weights)
        measured = table[column].value[in_transit]
        noise = np.median(table[f"{column}_err"].value[in_transit]) / np.sqrt(in_transit.sum())
        assert measured.mean() == pytest.approx(expected, abs=5 * noise + 1e-3)
    # the CO2 feature is deeper than the H2O 1.4 one in the injected spectrum
    assert table["CO2_4.3"].value[in_transit].mean() < table["H2O_1.4"].value[in_transit].mean()


def test_ecsv_and_csv_read_back_equal_to_the_cube_light_curves(transit, tmp_path):
    _, cube = transit
    curves = cube.light_curves(BANDS)
    table = export.light_curve_table(curves, cube.time_standard)
    export.write_light_curves(table, tmp_path / "lc.ecsv", tmp_path / "lc.csv", title="Light curves")
    back = QTable.read(tmp_path / "lc.ecsv")
    assert isinstance(back["time"], Time) and back["time"].scale == "tdb"
    assert np.max(np.abs((back["time"] - cube.time).to_value(u.s))) < 1e-6
    assert back["hours"].unit == u.hour
    np.testing.assert_allclose(back["hours"].value, cube.hours, rtol=0, atol=1e-12)
    for curve, name in zip(curves, ("white_light", "H2O_1.4", "CO2_4.3")):
        assert back[name].unit == u.percent
        np.testing.assert_array_equal(back[name].value, curve.value)
        np.testing.assert_array_equal(back[f"{name}_err"].value, curve.error)
    assert back.meta["time_standard"] == "BJD_TDB"
    assert [c["name"] for c in back.meta["curves"]] == ["White light", "H2O 1.4", "CO2 4.3"]

    text = (tmp_path / "lc.csv").read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any(line.startswith("# H2O_1.4:") and "[%]" in line and "1.3000–1.5000 µm" in line for line in header)
    assert any(line.startswith("# time:") and "TDB" in line for line in header)
    csv = ascii.read(tmp_path / "lc.csv", format="csv", comment="#")
    np.testing.assert_allclose(csv["time"], cube.time.mjd, rtol=0, atol=1e-9)
    np.testing.assert_allclose(csv["H2O_1.4"], curves[1].value, rtol=1e-9)


def test_light_curves_with_different_times_are_refused(transit):
    _, cube = transit
    short = cube.take(slice(0, 10))
    with pytest.raises(ValueError, match="different times"):
        export.light_curve_table([cube.white_light(), short.white_light()])
    with pytest.raises(ValueError, match="no light curves"):
        export.light_curve_table([])


def _assert_same_cube(a: Cube, b: Cube) -> None:
    np.testing.assert_array_equal(a.wavelength, b.wavelength)
    np.testing.assert_array_equal(a.flux, b.flux)
    np.testing.assert_array_equal(a.error, b.error)
    assert a.time.scale == b.time.scale
    assert np.max(np.abs((a.time - b.time).to_value(u.ns))) < 1.0
    assert a.flux_unit == b.flux_unit and a.reference_unit == b.reference_unit
    assert a.time_standard == b.time_standard
    for name in ("visit", "integration", "source_index"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.sources == b.sources and a.history == b.history and a.problems == b.problems
    assert a.meta == b.meta
    if a.reference is None:
        assert b.reference is None
    else:
        np.testing.assert_array_equal(a.reference, b.reference)


def test_fits_round_trip_of_a_normalized_cube(transit, tmp_path):
    _, cube = transit
    cube = cube.replace(meta={**cube.meta, "files": [{"source": cube.sources[0], "format": "x1dints", "used": True}]})
    path = export.write_cube_fits(cube, tmp_path / "cube.fits", options={"normalize": "baseline", "bands": BANDS})
    back = export.read_cube_fits(path)
    _assert_same_cube(cube, back)
    with fits.open(path) as hdul:
        assert hdul["FLUX"].header["BUNIT"] == "%"
        assert hdul["REFERENCE"].header["BUNIT"] == "Jy"
        assert hdul["WAVELENGTH"].header["BUNIT"] == "um"
        th = hdul["TIME"].header
        assert (th["TIMESYS"], th["TREFPOS"], th["TIMEUNIT"]) == ("TDB", "BARYCENTER", "d")
        mjd = th["MJDREFI"] + th["MJDREFF"] + hdul["TIME"].data["TIME"]
        np.testing.assert_allclose(mjd, cube.time.mjd, rtol=0, atol=1e-9)
        primary = hdul[0].header
        assert primary["TARGNAME"] == cube.target and primary["NORMLZD"] is True
        history = "\n".join(str(h) for h in primary["HISTORY"])
        assert "source: jw09999001001" in history and "normalize" in history
        assert hdul["SOURCES"].data["FORMAT"][0] == "x1dints"


def test_fits_round_trip_of_a_utc_flux_cube(tmp_path):
    obs = make_observation("variability", n_integrations=30, wavelength=np.linspace(1, 2, 40), n_visits=2, seed=2)
    cube = Cube(
        obs.wavelength, Time(obs.time_mjd_utc, format="mjd", scale="utc"), obs.flux, obs.error, u.Unit("MJy/sr"),
        time_standard="MJD_UTC", visit=obs.visit, integration=np.arange(101, 131), source_index=np.repeat([0, 1], 15),
        sources=("a.fits", "b.fits"), meta={"target": "Ünïcode ☄", "nints": 30}, history=("loaded 2 file(s)",),
    )
    back = export.read_cube_fits(export.write_cube_fits(cube, tmp_path / "utc.fits"))
    _assert_same_cube(cube, back)
    assert fits.getheader(tmp_path / "utc.fits", "TIME")["TIMESYS"] == "UTC"


def test_reading_a_fits_file_that_is_not_a_stamp_cube_fails_clearly(tmp_path):
    fits.HDUList([fits.PrimaryHDU(np.zeros((3, 3)))]).writeto(tmp_path / "other.fits")
    with pytest.raises(ReadError, match="not a STAMP cube"):
        export.read_cube_fits(tmp_path / "other.fits")


def _scripts(page: str) -> list[str]:
    return re.findall(r"<script[^>]*>(.*?)</script>", page, flags=re.DOTALL)


def test_standalone_html_embeds_everything_and_escapes_names(transit):
    from stamp_engine import figures

    _, cube = transit
    hostile_bands = [*BANDS, Band(HOSTILE, 2.0, 2.5)]
    fig = figures.heatmap_figure(figures.display_cube(cube), hostile_bands, title=HOSTILE)
    page = export.standalone_html(fig, hostile_bands, HOSTILE)
    assert page.startswith("<!DOCTYPE html>")
    assert not re.findall(r"<script[^>]*\bsrc\s*=", page, flags=re.IGNORECASE)  # plotly.js is inlined
    assert "Plotly" in page and "stampHighlightDiv" in page
    assert HOSTILE not in page  # neither as markup nor inside a script
    assert html_text(HOSTILE) in page
    assert page.count("<script") == page.count("</script>")
    for body in _scripts(page):
        assert "<script" not in body.lower()  # nothing ends a script early or opens a new one
    assert page.count('class="stamp-band"') == len(hostile_bands) + 1  # "All" + one per band


def html_text(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def test_combined_html_has_one_set_of_buttons_for_all_figures(transit):
    from stamp_engine import figures

    _, cube = transit
    shown = figures.display_cube(cube)
    page = export.combined_html(
        {"Surface": figures.surface_figure(shown, BANDS), "Heatmap": figures.heatmap_figure(shown, BANDS),
         "Light curves": figures.light_curve_figure(cube.light_curves(BANDS))},
        BANDS, "Combined",
    )
    assert page.count("data-stamp-figure=") == 3
    assert page.count('class="stamp-band"') == len(BANDS) + 1
    assert page.count('class="stamp-bands"') == 1


def test_readme_lists_inputs_steps_options_and_files(transit):
    _, cube = transit
    files = export.package_files("20250101_120000")
    text = export.readme_text(cube, {"normalize": "baseline", "bands": BANDS}, files)
    assert cube.sources[0] in text
    assert "other.fits: holds a single spectrum" in text
    for step in cube.history:
        assert step.split(":")[0] in text
    assert "Normalization (baseline)" in text and "H2O 1.4 1.3–1.5 µm" in text
    for name in files:
        assert name in text
    assert "BJD_TDB" in text and f"{cube.n_integrations} integrations" in text


def test_build_package_writes_exactly_the_package(transit, tmp_path):
    _, cube = transit
    calls = []
    when = __import__("datetime").datetime(2025, 3, 4, 5, 6, 7)
    far = Band("Far away", 20.0, 21.0)
    path = export.build_package(
        cube.take(slice(0, 60)), tmp_path, bands=[*BANDS, far], options={"normalize": "baseline"},
        size=(320, 240), fps=10, progress=lambda *a: calls.append(a), when=when, unpacked=True,
    )
    stamp = "20250304_050607"
    assert path == tmp_path / f"stamp_package_{stamp}.zip"
    expected = {
        f"surface_plot_{stamp}.html", f"heatmap_plot_{stamp}.html", f"combined_plots_{stamp}.html",
        f"spectrum_{stamp}.mp4", f"lightcurves_{stamp}.ecsv", f"lightcurves_{stamp}.csv",
        f"stamp_cube_{stamp}.fits", "README.txt",
    }
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        assert archive.testzip() is None
        readme = archive.read("README.txt").decode("utf-8")
    expected |= {f"{kind}_{stamp}.{ext}" for kind in ("heatmap", "lightcurves") for ext in ("png", "pdf")}
    expected |= {f"periodogram_{curve}_{stamp}.ecsv" for curve in ("white_light", "H2O_1.4", "CO2_4.3")}
    # No windows, no processing options: no transit spectrum, no recipe.  A transit is no
    # periodic signal: the white light's peak is not a resolved period, so no amplitude spectrum
    # is fitted (nor a spectra figure drawn), and the README says why.
    assert names == expected
    assert f"amplitude_spectrum_{stamp}.ecsv: not made (the white light's peak" in readme
    unpacked = tmp_path / f"stamp_package_{stamp}"
    assert {p.name for p in unpacked.iterdir()} == names
    assert "Far away" in readme  # the band outside the data is reported, not tabulated
    table = QTable.read(unpacked / f"lightcurves_{stamp}.ecsv")
    assert "Far_away" not in table.colnames and "CO2_4.3" in table.colnames
    back = export.read_cube_fits(unpacked / f"stamp_cube_{stamp}.fits")
    assert back.n_integrations == 60
    assert calls[-1] == ("done", calls[-1][2], calls[-1][2])
    assert {c[0] for c in calls} >= {"tables", "html", "video", "fits", "zip"}
    assert not list(tmp_path.glob("stamp-package-*"))  # the work folder is gone
    # 60 integrations, under the default frame limit: one frame per integration
    assert probe_video(unpacked / f"spectrum_{stamp}.mp4")["frames"] == 60
    assert "one frame per integration (60 frames; 320×240, 10 fps, H.264)" in " ".join(readme.split())


def test_a_long_cube_makes_a_time_binned_video_and_says_so(transit, tmp_path):
    _, cube = transit  # 240 integrations in one visit
    assert export.DEFAULT_MAX_VIDEO_FRAMES == 600
    path = export.build_package(cube, tmp_path, bands=BANDS, size=(320, 240), max_video_frames=50, unpacked=True,
                                when=__import__("datetime").datetime(2025, 3, 4, 5, 6, 7))
    files = tmp_path / "stamp_package_20250304_050607"
    assert path.exists()
    info = probe_video(files / "spectrum_20250304_050607.mp4")
    assert info["frames"] == 48  # bins of 5 integrations: none left out, at most 50 frames
    readme = " ".join((files / "README.txt").read_text(encoding="utf-8").split())
    assert "the 240 integrations are averaged into 48 frames of 5 consecutive integrations" in readme
    assert "bin centre" in readme
    assert export.read_cube_fits(files / "stamp_cube_20250304_050607.fits").n_integrations == 240  # only the video is binned


def test_build_package_without_video_into_a_named_zip(transit, tmp_path):
    _, cube = transit
    path = export.build_package(cube.take(slice(0, 30)), tmp_path / "out" / "mine.zip", bands=BANDS, video=False)
    assert path == tmp_path / "out" / "mine.zip"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    assert not any(n.endswith(".mp4") for n in names)
    assert "README.txt" in names and sum(n.endswith(".html") for n in names) == 3
