"""The dashboard's callback logic without a browser: options, bands, uploads, jobs, caching, views."""

from __future__ import annotations

import io
import os
import time
import zipfile

import numpy as np
import pytest

import stamp_engine
from dashboard.band_rows import check_band_rows, error_styles, error_tooltips, fitted_rows, preset_rows
from dashboard.server.config import Config
from dashboard.server.data_folder import UnsafePath
from dashboard.server.datasets import UploadRejected, prune_uploads, resolve, safe_filename
from dashboard.features.controls import PROCESS_ORDER, raw_options
from dashboard.features.job import problems_alert, progress_update
from dashboard.jobs import run_job
from dashboard.options import (
    DataLimits,
    DisplayOptions,
    ProcessOptions,
    loaded_key,
    parse_display_options,
    parse_process_options,
    processed_key,
)
from dashboard.pipeline import ThrottledProgress
from stamp_engine.recipe import process
from dashboard.summary import summarize
from dashboard.view_figures import grid_figure, light_curves, slider_marks, spectrum
from dashboard.server.services import build_services
from dashboard.server.upload_route import begin_upload, finish_upload, write_chunk
from stamp_engine.bands import PRESETS, Band
from stamp_engine.figures import COLORSCALES, FIGURE_BUDGET_BYTES, figure_nbytes
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.eureka import write_eureka_s3
from tests.helpers.upload_helpers import upload_files

from tests.helpers.paths import REAL

SESSION = "0123456789abcdef0123456789abcdef"
LIMITS = DataLimits(wavelength=(0.6, 5.3), hours=(0.0, 11.6), n_integrations=520)


# ----------------------------------------------------------------- options
def test_default_controls_give_default_options():
    options, errors = parse_process_options({})
    assert errors == {} and options == ProcessOptions()


def test_controls_values_are_parsed_with_their_units():
    raw = {
        "n_integrations": "200", "interpolate_gaps": True, "gap_hours": "1.5", "zaxis": "variability",
        "normalization": "baseline", "baseline": [0, "2.5"], "wavelength": [1.0, None], "hours": [None, 8],
        "sigma_time": 1.5, "sigma_wavelength": "0", "bin_time": 2, "bin_wavelength": "3",
    }
    options, errors = parse_process_options(raw, LIMITS)
    assert errors == {}
    assert options == ProcessOptions(
        n_integrations=200, interpolate_gaps=True, gap_hours=1.5, normalization="baseline", baseline=(0.0, 2.5),
        wavelength=(1.0, None), hours=(None, 8.0), sigma_time=1.5, bin_time=2, bin_wavelength=3,
    )


@pytest.mark.parametrize(
    "raw, field, words",
    [
        ({"n_integrations": -1}, "n_integrations", "0 (all) or more"),
        ({"n_integrations": 2.5}, "n_integrations", "whole number"),
        ({"gap_hours": 0}, "gap_hours", "above 0 hours"),
        ({"wavelength": [3, 2]}, "wavelength", "start (3 µm) must be below end (2 µm)"),
        ({"wavelength": [6, 7]}, "wavelength", "the data cover 0.6–5.3 µm"),
        ({"hours": [20, None]}, "hours", "no data there"),
        ({"hours": ["soon", 3]}, "hours", "must be a number"),
        ({"normalization": "baseline"}, "baseline", "needs a start and an end"),
        ({"normalization": "baseline", "baseline": [4, 1]}, "baseline", "must be below end"),
        ({"normalization": "mean"}, "normalization", "must be one of"),
        ({"sigma_time": 500}, "sigma_time", "between 0 and 100"),
        ({"bin_wavelength": 0}, "bin_wavelength", "between 1 and 1000"),
        ({"zaxis": "log"}, "zaxis", "must be one of"),
    ],
)
def test_bad_controls_are_flagged_with_a_reason(raw, field, words):
    options, errors = parse_process_options(raw, LIMITS)
    assert field in errors and words in errors[field]
    assert getattr(options, field if field != "baseline" else "baseline") == getattr(ProcessOptions(), field)


def test_baseline_window_ignored_for_raw_flux():
    _, errors = parse_process_options({"zaxis": "flux", "normalization": "baseline"}, LIMITS)
    assert errors == {}


def test_controls_map_onto_option_fields():
    values = {c: None for c in PROCESS_ORDER}
    values.update({"wave-min": 1.0, "wave-max": 2.0, "baseline-end": 3.0, "interpolate-gaps": [], "bin-time": 4})
    raw = raw_options([values[c] for c in PROCESS_ORDER])
    assert raw["wavelength"] == [1.0, 2.0] and raw["baseline"] == [None, 3.0]
    assert raw["interpolate_gaps"] is False and raw["bin_time"] == 4


def test_display_options():
    assert parse_display_options("auto", [None, None], COLORSCALES) == (DisplayOptions(None, None), {})
    options, errors = parse_display_options("Viridis", ["-2", 2], COLORSCALES)
    assert errors == {} and options == DisplayOptions("Viridis", (-2.0, 2.0))
    options, errors = parse_display_options("NoSuchScale", [1, None], COLORSCALES)
    assert options == DisplayOptions(None, None)
    assert "colorscale" in errors and "both ends" in errors["zrange"]
    assert len(COLORSCALES) >= 10 and "RdBu_r" in COLORSCALES


def test_cache_keys_follow_content_and_processing_options_only():
    a = processed_key("content-1", ProcessOptions())
    assert a == processed_key("content-1", ProcessOptions())
    assert a != processed_key("content-2", ProcessOptions())
    assert a != processed_key("content-1", ProcessOptions(bin_time=2))
    assert loaded_key("content-1") == loaded_key("content-1") != loaded_key("content-2")
    assert a.startswith("processed-") and len(a) < 60


# ------------------------------------------------------------------ bands
def test_band_rows_flag_bad_rows_in_place():
    rows = [
        {"name": "H2O", "start": 1.3, "end": 1.5},
        {"name": "reversed", "start": 2.0, "end": 1.9},
        {"name": "far", "start": 8.0, "end": 9.0},
        {"name": "", "start": None, "end": None},  # just added: skipped quietly
        {"name": "H2O", "start": 2.0, "end": 2.1},
        {"name": "text", "start": "abc", "end": 3},
        {"name": "", "start": 1, "end": 2},
        {"name": "CO", "start": "4.5", "end": "4.9"},
    ]
    bands, errors = check_band_rows(rows, np.linspace(0.6, 5.3, 100))
    assert bands == [Band("H2O", 1.3, 1.5), Band("CO", 4.5, 4.9)]
    assert set(errors) == {1, 2, 4, 5, 6}
    assert "must be below end" in errors[1] and "outside the data" in errors[2]
    assert "already called" in errors[4] and "numbers" in errors[5] and "name" in errors[6]
    styles = error_styles(errors)
    assert [s["if"]["row_index"] for s in styles] == [1, 2, 4, 5, 6]
    tips = error_tooltips(len(rows), errors)
    assert tips[0] == {} and tips[1]["start"]["value"] == errors[1]


def test_presets_fill_the_editor():
    rows = preset_rows("Molecules (near-IR)")
    assert rows == [b.to_dict() for b in PRESETS["Molecules (near-IR)"]]
    bands, errors = check_band_rows(rows, np.linspace(0.6, 5.3, 100))
    assert errors == {} and len(bands) == len(rows)
    assert preset_rows("nope") == []


def test_editor_refuses_a_band_between_two_samples_naming_the_nearest():
    samples = np.round(np.arange(1.0, 2.01, 0.1), 6)
    rows = [{"name": "narrow", "start": 1.42, "end": 1.47}, {"name": "ok", "start": 1.35, "end": 1.45}]
    bands, errors = check_band_rows(rows, samples)
    assert bands == [Band("ok", 1.35, 1.45)]
    assert set(errors) == {0}
    assert "narrow" in errors[0] and "no wavelength sample" in errors[0]
    assert "1.4 µm" in errors[0] and "1.5 µm" in errors[0]


def test_light_curve_view_skips_a_band_between_samples_instead_of_failing():
    from dashboard.view_figures import light_curves

    cube = make_observation("transit", n_integrations=20, wavelength=np.round(np.arange(1.0, 2.01, 0.1), 6)).to_cube()
    fig = light_curves(cube.normalize(), [Band("narrow", 1.42, 1.47), Band("ok", 1.35, 1.45)])
    names = {t.name for t in fig.data}
    assert "ok" in names and "narrow" not in names


def test_loading_other_data_swaps_an_unedited_preset_for_the_one_that_fits():
    miri = np.linspace(5.0, 12.0, 200)
    rows = preset_rows("Molecules (near-IR)")
    assert fitted_rows(rows, miri) == preset_rows("Mid-IR (MIRI)")
    assert fitted_rows(rows, np.linspace(0.6, 5.3, 100)) is None  # already the best
    edited = [*rows[:2], {"name": "mine", "start": 6.0, "end": 6.5}]
    assert fitted_rows(edited, miri) is None  # the user's own bands stay


# ---------------------------------------------------------------- uploads
def test_upload_is_saved_on_the_server_under_the_session(tmp_path):
    config = Config(cache_dir=tmp_path)
    descriptor = upload_files(config, SESSION, [("../../etc/a.fits", b"one"), ("b.h5", b"two")])
    assert descriptor["kind"] == "upload" and descriptor["names"] == ["a.fits", "b.h5"]
    folder = tmp_path / "uploads" / SESSION / descriptor["digest"]
    assert (folder / "a.fits").read_bytes() == b"one" and (folder / "b.h5").read_bytes() == b"two"
    # same content → same key; different content → different key
    again = upload_files(config, SESSION, [("a.fits", b"one"), ("b.h5", b"two")])
    assert again["digest"] == descriptor["digest"]
    other = upload_files(config, SESSION, [("a.fits", b"one!")])
    assert other["digest"] != descriptor["digest"]
    dataset = resolve(config, descriptor)
    assert [p.name for p in dataset.paths] == ["a.fits", "b.h5"] and dataset.content_key.endswith(descriptor["digest"])


def test_upload_limits_and_bad_uploads(tmp_path):
    config = Config(cache_dir=tmp_path, max_upload_mb=1)
    # just over the limit: both sizes in bytes, since rounded they would read the same
    with pytest.raises(UploadRejected, match="big.fits is 1048577 bytes; the limit is 1048576 bytes"):
        upload_files(config, SESSION, [("big.fits", b"x" * (2**20 + 1))])
    with pytest.raises(UploadRejected, match="session"):
        upload_files(config, "../../etc", [("a.fits", b"x")])
    # an upload whose bytes did not all arrive is never turned into a dataset
    incoming = begin_upload(config, SESSION, [{"name": "a.fits", "size": 3}])
    write_chunk(config, SESSION, incoming.upload_id, 0, 0, 2, io.BytesIO(b"ab"))
    with pytest.raises(UploadRejected, match="a.fits: 2 of 3 bytes arrived"):
        finish_upload(config, SESSION, incoming.upload_id)
    assert not (tmp_path / "uploads").exists() or not any(
        p for p in (tmp_path / "uploads").rglob("*.fits") if ".incoming" not in p.parts)


def test_file_names_are_reduced_to_plain_names():
    assert safe_filename("C:\\Users\\me\\x1d ints.fits") == "x1d_ints.fits"
    assert safe_filename("../.bashrc") == "bashrc"
    assert safe_filename("") == "upload"


def test_descriptors_from_the_browser_are_rechecked(tmp_path):
    config = Config(cache_dir=tmp_path, demo_path=None)
    for descriptor in (
        None, {"kind": "nope"}, {"kind": "demo"},
        {"kind": "upload", "session": "../x", "digest": "abcdef12"},
        {"kind": "upload", "session": SESSION, "digest": "abcdef1234"},  # expired / never uploaded
        {"kind": "server", "paths": ["a.fits"]},  # no data folder
    ):
        with pytest.raises(UnsafePath):
            resolve(config, descriptor)


def test_old_upload_sessions_are_pruned(tmp_path):
    config = Config(cache_dir=tmp_path, upload_ttl_hours=1)
    upload_files(config, SESSION, [("a.fits", b"x")])
    assert prune_uploads(config) == 0
    old = time.time() - 7200
    os.utime(tmp_path / "uploads" / SESSION, (old, old))
    assert prune_uploads(config) == 1 and not (tmp_path / "uploads" / SESSION).exists()


# ------------------------------------------------------------------- jobs
def _small_observation(n_visits: int = 2, seed: int = 3):
    return make_observation(kind="variability", n_integrations=160, n_visits=n_visits, visit_gap_hours=2.0,
                            wavelength=np.linspace(0.8, 5.0, 90), snr=3000.0, seed=seed)


class CountingLoader:
    """Wraps stamp_engine.load and counts how often files are actually read."""

    def __init__(self):
        self.calls = 0

    def __call__(self, paths, progress=None, workdir=None):
        self.calls += 1
        return stamp_engine.load(paths, progress=progress, workdir=workdir)


@pytest.fixture
def server_data(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    obs = _small_observation()
    write_eureka_s3(root / "good_SpecData.h5", obs, flux_units="mJy")
    (root / "broken_x1dints.fits").write_bytes(b"SIMPLE  =                    T" + b"\0" * 100)
    return root, obs


def test_job_reads_files_once_and_reuses_the_cache(tmp_path, server_data):
    root, obs = server_data
    loader = CountingLoader()
    services = build_services(Config(cache_dir=tmp_path / "cache", data_dir=root), loader=loader)
    dataset = {"kind": "server", "paths": ["good_SpecData.h5"]}
    reports = []
    first = run_job(services, dataset, {}, None, lambda *r: reports.append(r))
    assert first.message is None and loader.calls == 1
    assert any(stage.startswith("Reading") for stage, _, _ in reports) and reports[-1] == ("Done", 1, 1)
    # the same options again: nothing is read or processed
    again = run_job(services, dataset, {}, first.result)
    assert again.result["key"] == first.result["key"] and loader.calls == 1
    # a processing option changes the key but re-uses the loaded cube
    binned = run_job(services, dataset, {"bin_time": 2}, first.result)
    assert binned.result["key"] != first.result["key"] and loader.calls == 1
    assert services.cubes.processed(binned.result["key"]).n_integrations == 80
    # display-only changes (colour scale, range, bands) draw from the cache
    display = services.cubes.display(first.result["key"])
    bands = [Band("H2O", 1.3, 1.5), Band("CO2", 4.2, 4.45)]
    for options in (DisplayOptions(), DisplayOptions("Viridis", (-1.0, 1.0))):
        for kind in ("surface", "heatmap"):
            grid_figure(display, bands, options, kind)
    light_curves(services.cubes.processed(first.result["key"]), bands)
    assert loader.calls == 1


def test_job_recovers_the_injected_variability(tmp_path, server_data):
    root, obs = server_data
    services = build_services(Config(cache_dir=tmp_path / "cache", data_dir=root))
    outcome = run_job(services, {"kind": "server", "paths": ["good_SpecData.h5"]}, {"normalization": "visit"})
    cube = services.cubes.processed(outcome.result["key"])
    assert cube.is_normalized and cube.n_visits == 2
    # semi-amplitude per wavelength: half the peak-to-peak of the variability over ≥ 1 period
    measured = (np.percentile(cube.flux, 99, axis=0) - np.percentile(cube.flux, 1, axis=0)) / 2
    truth = obs.truth["amplitude"] * 100
    assert np.allclose(measured, truth, rtol=0.12, atol=0.15)
    # the band with the largest injected amplitude is the one the light curves show largest
    curves = cube.light_curves([Band("H2O", 1.3, 1.5), Band("continuum", 3.6, 4.0)])
    spread = [np.nanmax(c.value) - np.nanmin(c.value) for c in curves[1:]]
    assert spread[0] > 1.5 * spread[1]


def test_raw_flux_keeps_the_file_unit(tmp_path, server_data):
    root, obs = server_data
    services = build_services(Config(cache_dir=tmp_path / "cache", data_dir=root))
    outcome = run_job(services, {"kind": "server", "paths": ["good_SpecData.h5"]}, {"zaxis": "flux"})
    cube = services.cubes.processed(outcome.result["key"])
    assert not cube.is_normalized and cube.flux_unit.to_string() == "mJy"
    assert np.allclose(cube.flux, obs.flux * 1000, rtol=1e-5, equal_nan=True)


def test_bad_file_is_reported_while_the_good_one_loads(tmp_path, server_data):
    root, _ = server_data
    services = build_services(Config(cache_dir=tmp_path / "cache", data_dir=root))
    outcome = run_job(services, {"kind": "server", "paths": ["good_SpecData.h5", "broken_x1dints.fits"]}, {})
    assert outcome.result is not None and outcome.message is None
    assert [p["source"] for p in outcome.problems] == ["broken_x1dints.fits"]
    alert = problems_alert(outcome.problems)
    assert "broken_x1dints.fits" in str(alert) and alert.color == "warning"
    only_bad = run_job(services, {"kind": "server", "paths": ["broken_x1dints.fits"]}, {})
    assert only_bad.result is None and "No usable" in only_bad.message
    assert problems_alert(only_bad.problems, loaded=False).color == "danger"


def test_options_are_checked_against_the_data_before_processing(tmp_path, server_data):
    root, _ = server_data
    loader = CountingLoader()
    services = build_services(Config(cache_dir=tmp_path / "cache", data_dir=root), loader=loader)
    dataset = {"kind": "server", "paths": ["good_SpecData.h5"]}
    outcome = run_job(services, dataset, {"wavelength": [7, 9]})
    assert outcome.result is None and "wavelength" in outcome.field_errors and "0.8–5 µm" in outcome.message
    outcome = run_job(services, dataset, {"bin_time": 0})
    assert outcome.result is None and loader.calls == 1  # refused before reading
    outcome = run_job(services, {"kind": "server", "paths": ["../x.h5"]}, {})
    assert outcome.result is None and outcome.message.startswith("Cannot open the data")


def test_processing_steps_follow_the_controls(tmp_path, server_data):
    root, obs = server_data
    cube = stamp_engine.load([root / "good_SpecData.h5"])
    out = process(cube, ProcessOptions(wavelength=(1.0, 3.0), n_integrations=50, bin_wavelength=2))
    assert out.n_integrations == 50 and out.wavelength[0] >= 1.0 and out.wavelength[-1] <= 3.0
    assert out.n_wavelengths == int(np.sum((cube.wavelength >= 1) & (cube.wavelength <= 3))) // 2
    gappy = cube.take(np.r_[0:10, 15:cube.n_integrations])  # 5 integrations missing inside the first visit
    filled = process(gappy, ProcessOptions(interpolate_gaps=True, zaxis="flux"))
    assert filled.n_integrations == cube.n_integrations and filled.n_visits == cube.n_visits == 2
    assert np.array_equal(filled.flux[~filled.meta["interpolated"]], gappy.flux, equal_nan=True)
    split = process(cube, ProcessOptions(gap_hours=5.0))  # the 2 h gap no longer splits
    assert split.n_visits == 1
    baseline = process(cube, ProcessOptions(normalization="baseline", baseline=(0.0, 1.0)))
    first_hour = baseline.flux[baseline.hours <= 1.0]
    assert abs(np.nanmedian(first_hour)) < 0.05
    smoothed = process(cube, ProcessOptions(zaxis="flux", sigma_time=3, sigma_wavelength=1))
    expected = cube.split_visits(0.5).smooth(sigma_time=3, sigma_wavelength=1)
    assert np.allclose(smoothed.flux, expected.flux, equal_nan=True) and not smoothed.is_normalized
    assert not np.allclose(smoothed.flux, cube.flux, equal_nan=True)


def test_progress_is_throttled_and_formatted():
    seen = []
    throttled = ThrottledProgress(lambda *r: seen.append(r), interval=60)
    for i in range(100):
        throttled("Assembling cube", i, 100)
    throttled("Assembling cube", 100, 100)
    throttled("Normalizing", 0, 2)
    assert seen == [("Assembling cube", 0, 100), ("Assembling cube", 100, 100), ("Normalizing", 0, 2)]
    assert progress_update("Assembling cube", 130, 520) == (25.0, "Assembling cube — 130 / 520")
    assert progress_update("Starting", 0, 0)[0] == 0.0


# ------------------------------------------------------------------ views
def test_views_of_the_demo(tmp_path):
    services = build_services(Config(cache_dir=tmp_path / "cache"))
    outcome = run_job(services, {"kind": "demo"}, {})
    rows = dict(outcome.result["summary"])
    assert rows["Target"].startswith("STAMP-BD-1") and rows["Visits"] == "2" and rows["Integrations"] == "520"
    assert rows["Time scale"] == "BJD_TDB" and rows["Wavelengths"].endswith("0.600–5.300 µm")
    assert "variability %" in rows["Shown"]
    display = services.cubes.display(outcome.result["key"])
    bands = PRESETS["Molecules (near-IR)"]
    surface = grid_figure(display, bands, DisplayOptions(), "surface")
    heatmap = grid_figure(display, bands, DisplayOptions(), "heatmap")
    curves = light_curves(services.cubes.processed(outcome.result["key"]), bands)
    for fig in (surface, heatmap, curves, spectrum(display, 10)):
        assert figure_nbytes(fig) <= FIGURE_BUDGET_BYTES
    visits = {t.meta["visit"] for t in surface.data if t.type == "surface"}
    assert visits == {0, 1}
    maps = [t for t in surface.data if t.meta and t.meta.get("role") == "band-map"]
    assert len(maps) == 2 and all("H2O 1.4" in [b["name"] for b in t.meta["bands"]] for t in maps)
    marks = slider_marks(display)
    assert 1 in marks and display.n_integrations in marks and marks[1] == "0.00 h"  # 1-based, as the title
    assert summarize(stamp_engine.load([Config().demo_path]))[0] == ("Target", rows["Target"])


def test_demo_file_is_the_one_the_script_writes(tmp_path):
    from stamp_engine.synthetic.demo import make_demo

    written = stamp_engine.load([make_demo(tmp_path / "demo.h5")])
    shipped = stamp_engine.load([Config().demo_path])
    assert np.array_equal(written.flux, shipped.flux, equal_nan=True)
    assert shipped.n_integrations >= 400 and shipped.n_visits == 2
    assert Config().demo_path.stat().st_size < 5e6


@pytest.mark.parametrize(
    "path", sorted(p.relative_to(REAL).as_posix() for p in REAL.rglob("*") if p.suffix in (".h5", ".fits")),
)
def test_every_real_file_opens_in_the_dashboard(tmp_path, path):
    services = build_services(Config(cache_dir=tmp_path / "cache", data_dir=REAL))
    outcome = run_job(services, {"kind": "server", "paths": [path]}, {})
    if outcome.result is None:
        # only a file holding no spectra at all may be refused, with the reason named
        assert "photometry" in outcome.problems[0]["message"], outcome.message
        return
    display = services.cubes.display(outcome.result["key"])
    assert display.n_integrations >= 2
    for kind in ("surface", "heatmap"):
        assert figure_nbytes(grid_figure(display, PRESETS["Molecules (near-IR)"], DisplayOptions(), kind)) <= FIGURE_BUDGET_BYTES
    assert len(light_curves(services.cubes.processed(outcome.result["key"]), []).data) >= 1
    assert spectrum(display, 0).data


def test_upload_zip_of_x1dints_runs_end_to_end(tmp_path):
    from stamp_engine.synthetic.x1dints import write_segments

    obs = _small_observation(seed=5)
    files = write_segments(tmp_path / "mast", obs, n_segments=2)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for f in files:
            archive.write(f, f"MAST_download/{f.name}")
    config = Config(cache_dir=tmp_path / "cache")
    descriptor = upload_files(config, SESSION, [("mast.zip", buffer.getvalue())])
    services = build_services(config)
    outcome = run_job(services, descriptor, {})
    assert outcome.message is None and outcome.problems == []
    cube = services.cubes.processed(outcome.result["key"])
    assert cube.n_visits == 2 and cube.n_integrations == 160
    assert dict(outcome.result["summary"])["Files"] == f"{len(files)} used of {len(files)}"


def test_dataset_label_is_what_process_loads_and_names_only_files_that_loaded():
    from dashboard.features.job import dataset_label
    from dashboard.jobs import loaded_label

    upload = {"kind": "upload", "session": SESSION, "digest": "ab" * 8, "names": ["a_bad.fits", "b.fits", "c.fits"]}
    shown = {"dataset": {"kind": "demo"}, "label": "Demo: demo_brown_dwarf.h5"}
    assert dataset_label({"kind": "demo"}, shown) == "Demo: demo_brown_dwarf.h5"
    # an upload whose job was cancelled: the demo is still shown, but Process loads the upload
    pending = dataset_label(upload, shown)
    assert pending.startswith("Upload: a_bad.fits, b.fits, c.fits") and "not processed yet" in pending

    class Loaded:
        meta = {"files": [{"source": "a_bad.fits", "used": False}, {"source": "b.fits", "used": True},
                          {"source": "up.zip/dir/c.fits", "used": True}]}

    assert loaded_label("Upload: a_bad.fits, b.fits, c.fits", Loaded) == "Upload: b.fits, c.fits (2 of 3 files used)"
