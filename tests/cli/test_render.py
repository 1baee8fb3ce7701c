"""``stamp render``: the whole package from generated files, options applied, clear failures."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from astropy.table import QTable

import stamp_engine
from stamp_engine import cli, export
from stamp_engine.bands import parse_bands, read_bands_file
from stamp_engine.render import parse_size
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.eureka import write_eureka_s3
from stamp_engine.export.video import probe_video


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    obs = make_observation("transit", n_integrations=80, wavelength=np.linspace(0.6, 5.3, 160), seed=21,
                           meta={"target": "WASP-RENDER b"})
    return obs, write_eureka_s3(folder / "S3_render_ap5_bg10_SpecData.h5", obs)


def test_render_writes_every_file_with_the_options_applied(dataset, tmp_path, capsys):
    obs, path = dataset
    bands_file = tmp_path / "bands.json"
    bands_file.write_text(json.dumps([{"name": "CO2 4.3", "start": 4.2, "end": 4.45}]))
    out = tmp_path / "out"
    status = cli.main([
        "render", str(path), "-o", str(out), "--bands", "H2O:1.3-1.5,CH4:1.6-1.8", "--bands-file", str(bands_file),
        "--bin-time", "2", "--wavelength", "1.0", "5.0", "--normalize", "baseline", "--baseline", "0", "0.3",
        "--size", "320x240", "--fps", "8", "--max-frames", "15", "--unpacked",
    ])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    zips = list(out.glob("stamp_package_*.zip"))
    assert len(zips) == 1 and str(zips[0]) in captured.out
    stamp = zips[0].stem.removeprefix("stamp_package_")
    with zipfile.ZipFile(zips[0]) as archive:
        names = set(archive.namelist())
    for name in (f"surface_plot_{stamp}.html", f"heatmap_plot_{stamp}.html", f"combined_plots_{stamp}.html",
                 f"spectrum_{stamp}.mp4", f"lightcurves_{stamp}.ecsv", f"lightcurves_{stamp}.csv",
                 f"stamp_cube_{stamp}.fits", "README.txt"):
        assert name in names
    files = out / f"stamp_package_{stamp}"
    cube = export.read_cube_fits(files / f"stamp_cube_{stamp}.fits")
    assert cube.n_integrations == 40  # 80 binned by 2
    assert 1.0 <= cube.wavelength[0] and cube.wavelength[-1] <= 5.0
    assert cube.is_normalized and cube.sources == ("S3_render_ap5_bg10_SpecData.h5",)
    info = probe_video(files / f"spectrum_{stamp}.mp4")
    # 40 binned integrations, at most 15 frames: the video averages them 3 by 3 (14 frames, the last of 1)
    assert (info["frames"], info["width"], info["height"], info["codec"]) == (14, 320, 240, "h264")
    table = QTable.read(files / f"lightcurves_{stamp}.ecsv")
    assert {"H2O", "CH4", "CO2_4.3"} <= set(table.colnames)
    # out of transit the baseline-normalized white light is ~0 %; in transit it dips by the injected depth
    hours = table["hours"].value
    mid = np.abs(hours - hours[-1] / 2) < hours[-1] * 0.1
    assert abs(np.mean(table["white_light"].value[hours < 0.3])) < 0.05
    assert np.mean(table["white_light"].value[mid]) < -1.0
    readme = (files / "README.txt").read_text(encoding="utf-8")
    assert "S3_render_ap5_bg10_SpecData.h5" in readme and "normalize: baseline" in readme
    assert "bin time: 2" in readme
    assert "at most 15 frames" in readme and "averaged into 14 frames of 3 consecutive" in " ".join(readme.split())


@pytest.mark.parametrize("arguments, message", [
    (["--bands", "H2O:1.5-1.3"], "must be below"),
    (["--bands", "water"], "NAME:START-END"),
    (["--normalize", "baseline"], "--baseline needs a start and an end"),
    (["--bin-time", "0"], "--bin-time must be between 1 and 1000"),
    (["--smooth-time", "-1"], "--smooth-time must be between 0 and 100"),
    (["--hours", "3", "1"], "--hours: start (3 h) must be below end (1 h)"),
    (["--wavelength", "8", "9"], "no wavelengths between 8 and 9"),
    (["--preset", "nope"], "unknown band preset"),
    (["--colorscale", "nope"], "unknown colour scale"),
    (["--size", "641x360"], "must be even"),
])
def test_bad_options_exit_2_with_a_message_and_no_traceback(dataset, tmp_path, capsys, arguments, message):
    _, path = dataset
    status = cli.main(["render", str(path), "-o", str(tmp_path / "out"), "--no-video", *arguments])
    err = capsys.readouterr().err
    assert status == 2
    assert message in err and "Traceback" not in err
    assert not list((tmp_path / "out").glob("*.zip")) if (tmp_path / "out").exists() else True


def test_nothing_usable_exits_2_naming_the_file(tmp_path, capsys):
    junk = tmp_path / "junk.fits"
    junk.write_bytes(b"not a fits file at all")
    status = cli.main(["render", str(junk), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2
    assert "junk.fits" in err and "no usable" in err and "Traceback" not in err


def test_band_and_size_parsing(tmp_path):
    bands = parse_bands("H2O:1.3-1.5, CH4 : 1.6–1.8,2.0..2.2")
    assert [(b.name, b.start, b.end) for b in bands] == [("H2O", 1.3, 1.5), ("CH4", 1.6, 1.8), ("Band 3", 2.0, 2.2)]
    assert parse_size("1920x1080") == (1920, 1080)
    (tmp_path / "b.json").write_text(json.dumps({"bands": {"Na": [0.585, 0.595]}}))
    assert [(b.name, b.start) for b in read_bands_file(tmp_path / "b.json")] == [("Na", 0.585)]
    (tmp_path / "b.yaml").write_text("- {name: K, start: 0.76, end: 0.775}\n")
    assert [b.name for b in read_bands_file(tmp_path / "b.yaml")] == ["K"]
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_bands_file(tmp_path / "bad.json")


def test_render_interpolate_gaps_keeps_every_measured_integration(tmp_path, capsys):
    """Issue 9.2 through ``stamp render``: gaps inside visits are filled, measured rows kept, visits kept."""
    obs = make_observation("transit", n_integrations=120, n_visits=2, visit_gap_hours=1.01234,
                           wavelength=np.linspace(1.0, 3.0, 30), seed=22)
    missing = np.arange(30, 35)
    kept = np.setdiff1d(np.arange(120), missing)
    path = write_eureka_s3(tmp_path / "S3_gaps_ap5_bg10_SpecData.h5", obs.take(kept))
    out = tmp_path / "out"
    status = cli.main(["render", str(path), "-o", str(out), "--interpolate-gaps", "--z", "flux", "--no-video",
                       "--unpacked"])
    assert status == 0, capsys.readouterr().err
    cube = export.read_cube_fits(next(out.glob("stamp_package_*/stamp_cube_*.fits")))
    assert cube.n_integrations == 120 and cube.n_visits == 2  # 5 rows added, none across the 1 h gap
    loaded = stamp_engine.load([path])
    measured = cube.integration > 0
    np.testing.assert_array_equal(cube.integration[measured], loaded.integration)
    np.testing.assert_array_equal(cube.flux[measured], loaded.flux)
    np.testing.assert_array_equal(cube.error[measured], loaded.error)
    np.testing.assert_allclose(cube.time.mjd[measured], obs.time_bjd_tdb[kept], rtol=0, atol=1e-9)
    np.testing.assert_allclose(cube.time.mjd[~measured], obs.time_bjd_tdb[missing], rtol=0, atol=1e-9)
    assert np.isnan(cube.error[~measured]).all()
    assert any("5 row(s) added in 1 gap(s) inside visits" in step for step in cube.history)
    readme = next(out.glob("stamp_package_*/README.txt")).read_text(encoding="utf-8")
    assert readme.count("split visits at time gaps") == 1  # load and the processing both split: said once


def test_render_without_bands_uses_the_preset_that_fits_the_data(tmp_path, capsys):
    # MIRI LRS-like wavelengths: the near-IR molecules would be "outside the data"
    obs = make_observation("variability", n_integrations=30, wavelength=np.linspace(5.0, 12.0, 120), seed=3,
                           meta={"target": "MIRI-RENDER"})
    path = write_eureka_s3(tmp_path / "S3_miri_SpecData.h5", obs)
    out = tmp_path / "out"
    status = cli.main(["render", str(path), "-o", str(out), "--no-video", "--unpacked"])
    assert status == 0, capsys.readouterr().err
    folder = next(p for p in out.iterdir() if p.is_dir())
    table = QTable.read(next(folder.glob("lightcurves_*.ecsv")))
    assert {"H2O_6.3", "CH4_7.7", "Silicates_10"} <= set(table.colnames)
    readme = (folder / "README.txt").read_text(encoding="utf-8")
    assert "Mid-IR (MIRI) (chosen from the data's wavelengths)" in readme
    html_page = next(folder.glob("heatmap_plot_*.html")).read_text(encoding="utf-8")
    assert 'data-band="Silicates 10"' in html_page  # band buttons, as in the dashboard's package
