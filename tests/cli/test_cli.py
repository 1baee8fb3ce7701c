"""The `stamp` console script (stamp_engine.cli), in-process and as a real subprocess."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import types
import zipfile

import h5py
import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time

import stamp_engine
from stamp_engine import cli

from tests.helpers.paths import REAL, REPO

MIRI = REAL / "jwst_x1dints" / "jw02783-o002_t001_miri_p750l-slitlessprism_x1dints.fits"
NIRSPEC = REAL / "eureka" / "tests_data" / "S3_NIRSpec_ap5_bg10_SpecData.h5"


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, "inspect", "--json", *argv)
    return code, json.loads(out), err


def documented_keys() -> set[str]:
    """Every key path named in the INSPECT_JSON_KEYS table, e.g. 'cube.visits[].index'."""
    keys = set()
    for line in cli.INSPECT_JSON_KEYS.splitlines()[2:]:
        first_cell = line.split("|")[1]
        keys.update(re.findall(r"`([^`]+)`", first_cell))
    return keys


def key_paths(value, prefix="") -> set[str]:
    """Key paths of a JSON value, in the table's notation (lists as '[]', mode's keys excluded)."""
    paths = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            paths.add(path)
            if path != "cube.mode":
                paths |= key_paths(item, path)
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        for item in value:
            paths |= key_paths(item, prefix + "[]")
    return paths


@pytest.fixture(scope="module")
def miri_truth():
    with fits.open(MIRI) as hdul:
        times = hdul["INT_TIMES"].data["int_mid_BJD_TDB"].astype(float)
        waves = np.concatenate([h.data["WAVELENGTH"] for h in hdul if h.name == "EXTRACT1D"])
        header = hdul[0].header
        return {
            "times": times,
            "wave": (float(np.nanmin(waves)), float(np.nanmax(waves))),
            "target": header["TARGNAME"],
            "instrument": header["INSTRUME"],
            "filter": header["FILTER"],
            "exp_type": header["EXP_TYPE"],
            "cal_ver": header["CAL_VER"],
            "nints": header["NINTS"],
        }


@pytest.fixture(scope="module")
def nirspec_truth():
    with h5py.File(NIRSPEC, "r") as handle:
        return {"times": handle["time"][()].astype(float), "wave": handle["wave_1d"][()].astype(float)}


# ------------------------------------------------------------------------ basics
def test_version(capsys):
    code, out, err = run(capsys, "--version")
    assert code == 0
    assert out.strip() == f"stamp {stamp_engine.__version__}"


def test_no_command_prints_help_and_exits_2(capsys, stamp_commands):
    code, out, err = run(capsys)
    assert code == 2
    assert "usage: stamp" in err
    assert "inspect" in err and "serve" in err and "render" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["inspect"], "the following arguments are required: PATH"),
        (["inspect", "--gap-hours", "-1", "x.fits"], "'-1' must be a positive number"),
        (["inspect", "--gap-hours", "soon", "x.fits"], "'soon' is not a number"),
        (["inspect", "--order", "0", "x.fits"], "'0' must be 1 or more"),
        (["serve", "--port", "70000"], "'70000' is not a port number"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_usage_errors_exit_2(capsys, stamp_commands, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err + out


# ---------------------------------------------------------------- real data, text
def test_inspect_miri_x1dints_text(capsys, miri_truth):
    code, out, err = run(capsys, "inspect", str(MIRI))
    assert code == 0
    assert out.startswith("Files\n")
    assert f"  {MIRI.name}\n" in out
    assert re.search(rf"integrations {miri_truth['nints']}\n", out)
    assert f"integrations   {miri_truth['nints']} in 1 visit" in out
    assert f"{miri_truth['wave'][0]:.4g}–{miri_truth['wave'][1]:.4g} µm" in out
    assert "BJD_TDB (TDB scale)" in out
    start = Time(miri_truth["times"][0], format="mjd", scale="tdb")
    assert start.isot in out
    assert miri_truth["target"] in out and miri_truth["filter"] in out and miri_truth["exp_type"] in out
    assert miri_truth["cal_ver"] in out
    assert "Traceback" not in err


# ---------------------------------------------------------------- real data, JSON
def test_inspect_miri_x1dints_json_values(capsys, miri_truth):
    code, report, err = run_json(capsys, str(MIRI))
    assert code == 0
    assert report["stamp_version"] == stamp_engine.__version__
    (info,) = report["files"]
    assert info["source"] == MIRI.name
    assert info["used"] is True
    assert info["integrations"] == miri_truth["nints"]
    assert info["layout"] == "x1dints-old"
    assert info["stage"] == 3
    assert info["wavelength_range_um"] == pytest.approx(miri_truth["wave"], rel=1e-9)

    cube = report["cube"]
    times = miri_truth["times"]
    assert cube["integrations"] == len(times) == miri_truth["nints"]
    assert cube["time_standard"] == "BJD_TDB"
    assert cube["time_scale"] == "tdb"
    assert cube["time_start_mjd"] == pytest.approx(times.min(), abs=1e-9)
    assert cube["time_end_mjd"] == pytest.approx(times.max(), abs=1e-9)
    assert cube["time_start_iso"] == Time(times.min(), format="mjd", scale="tdb").isot
    assert cube["duration_hours"] == pytest.approx((times.max() - times.min()) * 24, abs=1e-6)
    assert cube["visits"] == [
        {"index": 0, "start_hours": 0.0, "end_hours": pytest.approx(cube["duration_hours"]), "integrations": len(times)}
    ]
    assert cube["wavelength_range_um"][0] >= miri_truth["wave"][0] - 1e-9
    assert cube["wavelength_range_um"][1] <= miri_truth["wave"][1] + 1e-9
    assert 0 < cube["wavelengths"] <= info["wavelengths"]
    assert cube["target"] == miri_truth["target"]
    assert cube["instrument"] == miri_truth["instrument"]
    assert cube["mode"] == {"exp_type": miri_truth["exp_type"], "filter": miri_truth["filter"],
                            "grating": None, "pupil": None}
    assert miri_truth["cal_ver"] in cube["pipeline"]
    assert cube["flux_unit"] == "Jy"
    assert cube["sources"] == [MIRI.name]
    for problem in report["problems"]:
        assert set(problem) == {"source", "message", "severity"}
        assert problem["severity"] == "warning"


def test_json_keys_match_the_documented_table(capsys):
    code, report, err = run_json(capsys, str(MIRI), str(NIRSPEC))
    assert code == 0
    documented = documented_keys()
    produced = key_paths(report)
    # Visits, files and problems are non-empty here, so every nested key is produced.
    assert report["files"] and report["cube"]["visits"]
    missing_from_docs = produced - documented
    assert missing_from_docs == set()
    never_produced = documented - produced - {"problems[].source", "problems[].message", "problems[].severity"}
    assert never_produced == set()
    assert set(report["cube"]["mode"]) == {"exp_type", "filter", "grating", "pupil"}


def test_inspect_eureka_nirspec_json(capsys, nirspec_truth):
    code, report, err = run_json(capsys, str(NIRSPEC))
    assert code == 0
    (info,) = report["files"]
    assert info["layout"] == "eureka-s3"
    assert info["integrations"] == len(nirspec_truth["times"])
    cube = report["cube"]
    assert cube["integrations"] == len(nirspec_truth["times"])
    assert cube["time_standard"].startswith("BJD_TDB")
    assert cube["time_start_mjd"] == pytest.approx(nirspec_truth["times"].min(), abs=1e-9)
    assert cube["time_end_mjd"] == pytest.approx(nirspec_truth["times"].max(), abs=1e-9)
    wave = nirspec_truth["wave"]
    assert cube["wavelength_range_um"] == pytest.approx([np.nanmin(wave), np.nanmax(wave)], rel=1e-6)
    assert cube["wavelengths"] == np.isfinite(wave).sum()
    assert cube["flux_unit_assumed"] in (True, False)


def test_gap_hours_splits_visits(capsys, nirspec_truth):
    cadence_hours = np.median(np.diff(np.sort(nirspec_truth["times"]))) * 24
    code, report, err = run_json(capsys, "--gap-hours", str(cadence_hours / 10), str(NIRSPEC))
    assert code == 0
    visits = report["cube"]["visits"]
    assert len(visits) == len(nirspec_truth["times"])
    assert [v["integrations"] for v in visits] == [1] * len(visits)
    hours = (np.sort(nirspec_truth["times"]) - nirspec_truth["times"].min()) * 24
    assert [v["start_hours"] for v in visits] == pytest.approx(hours, abs=1e-6)


def test_inspect_mast_zip_names_members(capsys, tmp_path, miri_truth):
    member = f"MAST_2025-11-25T1200/JWST/jw02783-o002_t001_miri_p750l-slitlessprism/{MIRI.name}"
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        handle.write(MIRI, member)
        handle.writestr("MAST_2025-11-25T1200/README.txt", "MAST")
        handle.writestr("__MACOSX/._x", "junk")
    code, report, err = run_json(capsys, str(archive))
    assert code == 0
    assert [f["source"] for f in report["files"]] == [f"upload.zip/{member}"]
    assert report["cube"]["integrations"] == miri_truth["nints"]


# ---------------------------------------------------------------- bad input
@pytest.fixture
def bad_files(tmp_path):
    empty = tmp_path / "empty_x1dints.fits"
    empty.write_bytes(b"")
    text = tmp_path / "notes_x1dints.fits"
    text.write_text("this is not FITS\n" * 20)
    html = tmp_path / "download_x1dints.fits"
    html.write_text("<!DOCTYPE html>\n<html><head><title>MAST: sign in</title></head><body></body></html>\n")
    return empty, text, html


def test_bad_files_exit_2_with_messages_and_no_traceback(capsys, bad_files):
    empty, text, html = bad_files
    code, out, err = run(capsys, "inspect", str(empty), str(text), str(html))
    assert code == 2
    assert f"stamp: error: {empty.name}: is empty (0 bytes)" in err
    assert f"stamp: error: {text.name}: is neither FITS nor HDF5" in err
    assert f"stamp: error: {html.name}: is an HTML page, not a FITS or HDF5 file" in err
    assert err.rstrip().endswith("stamp: error: no usable time-series spectra were found")
    assert "Traceback" not in out + err
    assert out == ""


def test_bad_files_json_still_prints_a_report(capsys, bad_files):
    code, report, err = run_json(capsys, *map(str, bad_files))
    assert code == 2
    assert report["cube"] is None
    # README: `files` lists every file read, also when none was usable (it was `[]`).
    assert [(f["source"], f["used"], f["format"]) for f in report["files"]] == [(f.name, False, None) for f in bad_files]
    assert report["files"][0]["problems"] == ["is empty (0 bytes)"] and report["observations"] == []
    assert [p["source"] for p in report["problems"]] == [f.name for f in bad_files]
    assert all(p["severity"] == "error" for p in report["problems"])
    assert "is empty (0 bytes)" in err


def test_one_good_file_is_enough(capsys, bad_files):
    empty = bad_files[0]
    code, report, err = run_json(capsys, str(empty), str(MIRI))
    assert code == 0
    by_source = {f["source"]: f for f in report["files"]}
    assert by_source[MIRI.name]["used"] is True
    assert by_source[empty.name]["used"] is False
    assert by_source[empty.name]["problems"] == ["is empty (0 bytes)"]
    assert {"source": empty.name, "message": "is empty (0 bytes)", "severity": "error"} in report["problems"]
    assert f"stamp: error: {empty.name}: is empty (0 bytes)" in err


def test_missing_path_and_refused_zip(capsys, tmp_path):
    missing = tmp_path / "nowhere.fits"
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as handle:
        handle.writestr("../escape.fits", b"SIMPLE  =")
    code, out, err = run(capsys, "inspect", str(missing), str(evil))
    assert code == 2
    assert f"stamp: error: {missing}: does not exist" in err
    assert "stamp: error: evil.zip: was refused, nothing was extracted: entry '../escape.fits'" in err
    assert not (tmp_path.parent / "escape.fits").exists()


def test_order_not_in_data(capsys):
    code, out, err = run(capsys, "inspect", "--order", "2", str(MIRI))
    assert code == 2
    assert "'order 2' is not in the data" in err
    assert "Traceback" not in err


def test_unexpected_exception_is_one_line_exit_1(capsys, monkeypatch):
    def broken_load(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(stamp_engine, "load", broken_load)
    code, out, err = run(capsys, "inspect", str(MIRI))
    assert code == 1
    assert err == "stamp: error: internal error (ZeroDivisionError: division by zero); please report it\n"


def test_os_error_is_a_message(capsys, monkeypatch):
    def unreadable(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "/data/x.fits")

    monkeypatch.setattr(stamp_engine, "load", unreadable)
    code, out, err = run(capsys, "inspect", "/data/x.fits")
    assert code == 2
    assert err == "stamp: error: /data/x.fits: Permission denied\n"


# ---------------------------------------------------------------- serve and render
def test_serve_passes_options_to_the_dashboard(capsys, monkeypatch, stamp_commands):
    calls = []
    fake = types.ModuleType("dashboard.server.serve")
    fake.serve = lambda **kwargs: calls.append(kwargs)
    monkeypatch.setitem(sys.modules, "dashboard.server.serve", fake)
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "9000", "--production", "--workers", "3"]) == 0
    assert cli.main(["serve"]) == 0
    assert calls == [
        {"host": "0.0.0.0", "port": 9000, "production": True, "workers": 3},
        {"host": "127.0.0.1", "port": 8050, "production": False},
    ]


def test_render_is_handed_to_the_render_module(capsys, monkeypatch):
    seen = []
    fake = types.ModuleType("stamp_engine.render")

    def add_render_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("paths", nargs="+")
        parser.add_argument("--format", default="png")

    def run_render(args) -> int:
        seen.append((args.paths, args.format))
        return 0

    fake.add_render_arguments, fake.run_render = add_render_arguments, run_render
    monkeypatch.setitem(sys.modules, "stamp_engine.render", fake)
    code, out, err = run(capsys, "render", "a.fits", "--format", "mp4")
    assert code == 0
    assert seen == [(["a.fits"], "mp4")]
    code, out, err = run(capsys, "render", "--help")
    assert code == 0
    assert "--format" in out


def test_render_without_the_render_module(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "stamp_engine.render", None)  # makes the import fail
    code, out, err = run(capsys, "render", "x.fits", "--anything")
    assert code == 1
    assert "`stamp render` is not available in this installation" in err


# ---------------------------------------------------------------- real processes
def _stamp(*argv, code: str | None = None):
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "stamp_engine.cli", *argv]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_subprocess_inspect_json_and_bad_file(tmp_path, miri_truth):
    done = _stamp("inspect", "--json", str(MIRI))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["cube"]["integrations"] == miri_truth["nints"]

    empty = tmp_path / "zero.fits"
    empty.write_bytes(b"")
    done = _stamp("inspect", str(empty))
    assert done.returncode == 2
    assert "stamp: error: zero.fits: is empty (0 bytes)" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_subprocess_serve_help_does_not_import_dash(stamp_commands):
    done = _stamp(code=(
        "import sys\n"
        "from stamp_engine.cli import main\n"
        "code = main(['serve', '--help'])\n"
        "dashboard = sorted(name for name in sys.modules if name.split('.')[0] == 'dashboard')\n"
        "print('EXIT', code, 'DASH', 'dash' in sys.modules, 'DASHBOARD', dashboard)\n"
    ))
    assert done.returncode == 0, done.stderr
    assert "--production" in done.stdout and "--workers" in done.stdout
    # only the plugin module that adds the command, not the server it starts
    assert done.stdout.strip().endswith(
        "EXIT 0 DASH False DASHBOARD ['dashboard', 'dashboard.server', 'dashboard.server.commands']")


def test_the_engine_imports_no_dashboard_module():
    """Every module of stamp_engine, imported in a fresh process, brings in no dashboard module:
    the dashboard's commands reach the CLI through entry points only."""
    done = _stamp(code=(
        "import pkgutil, sys\n"
        "import stamp_engine, stamp_engine.cli\n"
        "names = [m.name for m in pkgutil.walk_packages(stamp_engine.__path__, 'stamp_engine.')]\n"
        "for name in names:\n"
        "    __import__(name)\n"
        "print(len(names), sorted(n for n in sys.modules if n.split('.')[0] == 'dashboard'))\n"
    ))
    assert done.returncode == 0, done.stderr
    count, leaked = done.stdout.split(maxsplit=1)
    assert int(count) == len(list((REPO / "stamp_engine").rglob("*.py"))) - 1  # all but __init__
    assert leaked.strip() == "[]"
    sources = "\n".join(path.read_text(encoding="utf-8") for path in (REPO / "stamp_engine").rglob("*.py"))
    assert not re.search(r"^\s*(from|import)\s+dashboard\b", sources, re.MULTILINE)
    assert not re.search(r"import_module\(\s*[\"']dashboard", sources)


def test_plugin_commands_come_from_entry_points(capsys, monkeypatch):
    """A command another package declares is added; one whose plugin cannot be loaded says why
    when run; a command no installed package provides is refused naming the entry-point group."""
    from importlib.metadata import EntryPoint

    plugin = types.ModuleType("stamp_test_plugin")
    seen = []

    def add_hello(commands):
        hello = commands.add_parser("hello", help="say hello")
        hello.add_argument("--name", default="world")
        hello.set_defaults(handler=lambda args: seen.append(args.name) or 0)

    plugin.add_hello = add_hello
    monkeypatch.setitem(sys.modules, "stamp_test_plugin", plugin)
    declared = [EntryPoint("hello", "stamp_test_plugin:add_hello", cli.COMMAND_ENTRY_POINTS),
                EntryPoint("broken", "stamp_missing_plugin:add_broken", cli.COMMAND_ENTRY_POINTS),
                EntryPoint("inspect", "stamp_test_plugin:add_hello", cli.COMMAND_ENTRY_POINTS)]
    monkeypatch.setattr(cli, "entry_points", lambda group: [e for e in declared if e.group == group])
    assert run(capsys, "hello", "--name", "Ada")[0] == 0 and seen == ["Ada"]
    code, out, err = run(capsys, "broken", "--whatever")
    assert code == 1
    assert err == ("stamp: error: `stamp broken` is not available in this installation: its plugin "
                   "stamp_missing_plugin:add_broken cannot be loaded (ModuleNotFoundError: "
                   "No module named 'stamp_missing_plugin')\n")
    code, out, err = run(capsys, "serve", "--port", "9000")
    assert code == 2
    assert "invalid choice: 'serve'" in err and "'stamp.commands'" in err and "`stamp serve`" in err
    # a plugin cannot replace the engine's own command
    assert run(capsys, "inspect")[2].count("the following arguments are required: PATH") == 1


def test_inspect_labels_times_and_elements_as_documented(capsys, tmp_path):
    """Issue 9.7: a BJD_TDB time is not labelled MJD; one element is an empty list; info is its own severity."""
    from stamp_engine.synthetic.x1dints import make_mode_observation, write_segments

    prism, _ = make_mode_observation("nirspec_prism", 12, n_wavelengths=20)
    g395h, extra = make_mode_observation("nirspec_g395h", 12, n_wavelengths=20)
    [single] = write_segments(tmp_path / "prism", prism, 1, layout="new")
    [both] = write_segments(tmp_path / "g395h", g395h, 1, layout="old", stage=3, extra_spectra=extra)
    code, out, err = run(capsys, "inspect", str(single))
    assert code == 0
    start = next(line for line in out.splitlines() if line.strip().startswith("start"))
    assert start.split()[-2] == "BMJD_TDB" and " MJD " not in start
    assert float(start.split()[-1]) == pytest.approx(prism.time_bjd_tdb[0], abs=1e-6)
    code, report, err = run_json(capsys, str(single))
    assert report["files"][0]["elements"] == []  # one element: empty, as the README says
    code, report, err = run_json(capsys, str(both))
    assert report["files"][0]["elements"] == ["NRS1", "NRS2"]
    told_apart = [p for p in report["problems"] if "told apart by wavelength range" in p["message"]]
    assert [p["severity"] for p in told_apart] == ["info"]
    assert "stamp: info: " in err
