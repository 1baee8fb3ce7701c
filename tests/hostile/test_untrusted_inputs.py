"""Untrusted inputs (issues 9 and 13): floods of entries, folders of several observations.

Every hostile file is generated here, tiny.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import struct
import time
import zipfile
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
from astropy.io import fits

from dashboard.features.job import problems_alert
from stamp_engine import cli, load
from stamp_engine.io import registry
from stamp_engine.io.containers import ArchiveLimits, expand_inputs
from stamp_engine.io.sandbox import ReadLimits
from stamp_engine.problem_summary import group_problems, summary_lines
from stamp_engine.problems import NoUsableData, Problem
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.eureka import write_eureka_s3
from stamp_engine.synthetic.x1dints import write_segments

from tests.helpers.paths import REAL

MIRI = REAL / "jwst_x1dints" / "jw02783-o002_t001_miri_p750l-slitlessprism_x1dints.fits"


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------ 9.3 entry flood
@pytest.fixture(scope="module")
def flood_zip(tmp_path_factory) -> Path:
    """Exactly STAMP_ZIP_MAX_FILES (default 5,000) empty ``.fits`` entries: the limit lets it through."""
    path = tmp_path_factory.mktemp("flood") / "flood.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for k in range(ArchiveLimits().max_files):
            archive.writestr(f"junk/{k:04d}_x1dints.fits", b"")
    return path


def test_an_entry_flood_is_a_few_grouped_lines_on_stderr_and_every_problem_in_json(capsys, flood_zip, monkeypatch):
    monkeypatch.delenv("STAMP_ZIP_MAX_FILES", raising=False)
    code, out, err = run(capsys, "inspect", str(flood_zip))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 2, lines[:5]  # was 5,001 lines: one per entry plus the verdict
    assert lines[0].startswith("stamp: error: 5,000 files (e.g. flood.zip/junk/0000_x1dints.fits, ")
    assert "and 4,997 more): is empty (0 bytes)" in lines[0]
    code, out, err = run(capsys, "inspect", "--json", str(flood_zip))
    report = json.loads(out)
    assert code == 2 and len(report["problems"]) == 5000 and len(report["files"]) == 5000
    assert len(err.strip().splitlines()) == 2


def test_text_report_lists_a_flood_of_unreadable_files_as_one_entry(capsys, flood_zip, tmp_path):
    shutil.copy(flood_zip, tmp_path / "flood.zip")
    code, out, err = run(capsys, "inspect", str(tmp_path / "flood.zip"), str(MIRI))
    assert code == 0
    assert out.count("not readable") == 1 and "5,000 files (e.g. flood.zip/junk/0000_x1dints.fits" in out
    assert len(out.splitlines()) < 60 and len(err.splitlines()) == 1


def test_problem_groups_cap_the_kinds_and_keep_errors_first():
    problems = [Problem(f"f{k}.fits", f"note {k}", "warning") for k in range(40)]
    problems += [Problem(f"e{k}.fits", "is empty (0 bytes)") for k in range(7)]
    groups = group_problems(problems)
    assert len(groups) == 41 and groups[-1].count == 7 and groups[-1].sources[0] == "e0.fits"
    lines = summary_lines(problems, max_groups=5)
    assert len(lines) == 6
    assert lines[0] == ("error", "7 files (e.g. e0.fits, e1.fits, e2.fits and 4 more): is empty (0 bytes)")
    assert lines[-1] == ("warning", "36 files (e.g. f4.fits, f5.fits, f6.fits and 33 more): "
                                    "… and 36 more problem(s) of 36 other kind(s), not shown")


def test_dashboard_alert_groups_repeated_problems():
    problems = [{"source": f"up.zip/{k}.fits", "message": "is empty (0 bytes)", "severity": "error"}
                for k in range(5000)]
    alert = problems_alert(problems, loaded=False)
    items = alert.children[1].children
    assert len(items) == 1  # was 5,000 list items
    text = json.dumps(alert.to_plotly_json(), default=str)
    assert "5,000 files (e.g. up.zip/0.fits" in text and "5,000 file(s) could not be used" in text


# ------------------------------------------------------------------ 9.5 several observations
def _x1dints(folder: Path, target: str, start: float, *, program: str, observation: str, n: int, seed: int):
    obs = make_observation(kind="transit", n_integrations=n, wavelength=np.linspace(1.0, 3.0, 12), seed=seed,
                           t_start_bjd_mjd=start, meta={"target": target, "program": program,
                                                        "observation": observation})
    return write_segments(folder, obs, n_segments=1)


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory) -> Path:
    """The real MIRI file, a Eureka! file and two synthetic observations 100 days apart of one target."""
    root = tmp_path_factory.mktemp("mixed") / "downloads"
    root.mkdir()
    shutil.copy(MIRI, root / MIRI.name)
    write_eureka_s3(root / "S3_other_SpecData.h5", make_observation(n_integrations=15, seed=3,
                                                                    t_start_bjd_mjd=59000.0))
    _x1dints(root / "early", "HD 189733 b", 60200.25, program="01234", observation="001", n=40, seed=1)
    _x1dints(root / "late", "HD 189733 b", 60300.25, program="01234", observation="002", n=30, seed=2)
    return root


def test_inspect_of_a_mixed_folder_lists_every_file_and_observation_and_loads_the_largest(capsys, mixed_folder):
    code, out, err = run(capsys, "inspect", "--json", str(mixed_folder))
    report = json.loads(out)
    assert code == 0  # was 2 with "files": []
    sources = [f["source"] for f in report["files"]]
    assert len(sources) == 4 and f"downloads/{MIRI.name}" in sources
    by_id = {g["id"]: g for g in report["observations"]}
    assert len(by_id) == 4  # the two epochs 100 days apart are not merged
    largest = report["observations"][0]
    assert largest["used"] and largest["integrations"] == 40 and largest["target"] == "HD 189733 b"
    assert largest["id"] == "jw01234-o001" and "jw01234-o002" in by_id
    assert report["cube"]["integrations"] == 40 and report["cube"]["observation"] == "jw01234-o001"
    assert {f["observation"] for f in report["files"]} == set(by_id)
    assert [f["used"] for f in report["files"]].count(True) == 1
    warning = next(p for p in report["problems"] if p["source"] == "observations")
    assert "holds 4 observations; loaded jw01234-o001" in warning["message"] and "jw01234-o002" in warning["message"]
    assert "--observation" in warning["message"]


def test_observation_option_and_load_parameter_choose_another(capsys, mixed_folder):
    code, out, err = run(capsys, "inspect", "--json", "--observation", "jw02783-o002", str(mixed_folder))
    report = json.loads(out)
    assert code == 0 and report["cube"]["integrations"] == 10 and report["cube"]["target"] == "WASP-39"
    cube = load(mixed_folder, observation="jw01234-o002")
    assert cube.n_integrations == 30 and cube.meta["observation"] == "jw01234-o002"
    assert abs(cube.time[0].mjd - 60300.25) < 0.1
    assert load(mixed_folder, observation=2).meta["observation"] == cube.meta["observations"][1]["id"]
    with pytest.raises(NoUsableData) as caught:
        load(mixed_folder, observation="jw9")
    assert "observation 'jw9' is not in the data (found: jw01234-o001, " in str(caught.value)
    assert len(caught.value.files) == 4


def test_two_targets_at_one_time_are_two_observations(tmp_path):
    _x1dints(tmp_path, "WASP-39", 60200.25, program="01366", observation="001", n=20, seed=1)
    _x1dints(tmp_path, "WASP-107", 60200.30, program="01366", observation="002", n=25, seed=2)
    cube = load(tmp_path)
    assert cube.n_integrations == 25 and cube.meta["target"] == "WASP-107"
    assert [g["target"] for g in cube.meta["observations"]] == ["WASP-107", "WASP-39"]
    assert any(p.source == "observations" and "WASP-39" in p.message for p in cube.problems)


def test_visits_of_one_observation_days_apart_still_stack(tmp_path):
    obs = make_observation(kind="transit", n_integrations=40, n_visits=2, visit_gap_hours=60.0,
                           wavelength=np.linspace(1.0, 3.0, 12), seed=5)
    write_segments(tmp_path, obs, n_segments=1)  # one observation number per visit
    cube = load(tmp_path)
    assert cube.n_integrations == 40 and cube.n_visits == 2 and len(cube.meta["observations"]) == 1
    assert not any(p.source == "observations" for p in cube.problems)


# ------------------------------------------------------------------ 9.6 / 13.4 hangs, crashes, memory
HOSTILE_MAGIC = b"STAMP-TEST-HOSTILE "


def _hostile_read(path, source):
    action = Path(path).read_bytes()[len(HOSTILE_MAGIC):].strip()
    if action == b"hang":
        Path(path).with_suffix(".pid").write_text(str(os.getpid()))
        while True:  # as libhdf5 does on some corrupted files: never returns, ignores nothing
            time.sleep(1)
    if action == b"crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if action == b"memory":
        return [np.ones(2**31, dtype=np.uint8)]  # 2 GiB, far above the cap of the test
    raise AssertionError(action)


@pytest.fixture
def hostile_reader():
    """A reader that hangs, crashes or eats memory on files starting with HOSTILE_MAGIC."""
    registry.register_reader("hostile-test", lambda path, head: head.startswith(HOSTILE_MAGIC), _hostile_read,
                             priority=100)
    yield
    del registry._READERS["hostile-test"]


def _hostile(folder: Path, action: str) -> Path:
    path = folder / f"{action}_SpecData.h5"
    path.write_bytes(HOSTILE_MAGIC + action.encode())
    return path


TIGHT = ReadLimits(timeout_s=2.0, max_memory_bytes=512 * 2**20)


@pytest.mark.parametrize("action, words", [
    ("hang", "reading was stopped after 2 s (STAMP_READ_TIMEOUT_S): the file makes the reader hang"),
    ("crash", "made the reader crash (SIGSEGV)"),
    ("memory", "needs more memory than a reader may use (512.0 MiB, STAMP_READ_MAX_MEMORY)"),
])
def test_a_reader_that_hangs_crashes_or_eats_memory_is_a_problem_and_the_rest_loads(hostile_reader, tmp_path,
                                                                                    action, words):
    bad = _hostile(tmp_path, action)
    good = write_eureka_s3(tmp_path / "good_SpecData.h5", make_observation(n_integrations=12, seed=1))
    began = time.monotonic()
    cube = load([bad, good], read_limits=TIGHT)
    assert time.monotonic() - began < 15
    assert cube.n_integrations == 12 and cube.sources == (good.name,)
    problem = next(p for p in cube.problems if p.source == bad.name)
    assert words in problem.message and problem.severity == "error"


def test_after_a_hang_the_files_after_it_are_read_by_a_fresh_reader(hostile_reader, tmp_path):
    first = write_eureka_s3(tmp_path / "a_SpecData.h5", make_observation(n_integrations=12, seed=1))
    bad = _hostile(tmp_path, "hang")
    last = write_eureka_s3(tmp_path / "z_SpecData.h5", make_observation(n_integrations=12, seed=1,
                                                                           t_start_bjd_mjd=60200.5))
    cube = load([first, bad, last], read_limits=TIGHT)
    assert set(cube.sources) == {first.name, last.name} and cube.n_integrations == 24


def test_stamp_inspect_reports_a_hanging_file_instead_of_hanging(hostile_reader, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STAMP_READ_TIMEOUT_S", "1.5")
    bad = _hostile(tmp_path, "hang")
    crash = _hostile(tmp_path, "crash")
    began = time.monotonic()
    code, out, err = run(capsys, "inspect", str(bad), str(crash), str(MIRI))
    assert code == 0 and time.monotonic() - began < 15
    assert f"stamp: error: {bad.name}: reading was stopped after 1.5 s" in err
    assert f"stamp: error: {crash.name}: made the reader crash (SIGSEGV)" in err


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_a_reader_never_outlives_its_killed_parent(hostile_reader, tmp_path):
    """A job killed from outside (kill -9 of the job process) must not leave its reader spinning."""
    bad = _hostile(tmp_path, "hang")
    parent = os.fork()
    if parent == 0:
        try:
            load([bad], read_limits=ReadLimits(timeout_s=600))
        finally:
            os._exit(0)
    pid_file = bad.with_suffix(".pid")
    deadline = time.monotonic() + 20
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    reader = int(pid_file.read_text())
    assert _alive(reader)
    os.kill(parent, signal.SIGKILL)
    os.waitpid(parent, 0)
    deadline = time.monotonic() + 5
    while _alive(reader) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(reader)


@pytest.mark.parametrize("layout", ["new", "old", "eureka"])
def test_isolated_reading_gives_the_same_cube_and_maps_new_layout_columns_from_the_file(tmp_path, layout):
    obs = make_observation(kind="transit", n_integrations=600, wavelength=np.linspace(1.0, 3.0, 600), seed=2)
    if layout == "eureka":
        paths = [write_eureka_s3(tmp_path / "x_SpecData.h5", obs)]
    else:
        paths = write_segments(tmp_path, obs, n_segments=2, layout=layout)
    isolated = load(paths, read_limits=ReadLimits())
    in_process = load(paths, read_limits=ReadLimits(isolate=False))
    np.testing.assert_array_equal(isolated.flux, in_process.flux)
    np.testing.assert_array_equal(isolated.error, in_process.error)
    np.testing.assert_array_equal(isolated.time.mjd, in_process.time.mjd)
    assert isolated.problems == in_process.problems
    if layout == "new":  # 2.9 MB of FLUX (per segment) came back as a view of the input file, not as a copy
        from stamp_engine.io.containers import InputFile
        from stamp_engine.io.sandbox import read_files

        [outcome] = read_files([InputFile(paths[0], paths[0].name)], ReadLimits(), tmp_path / "scratch")
        flux = outcome.blocks[0].flux
        root = flux
        while isinstance(root.base, np.ndarray):
            root = root.base
        assert isinstance(root, np.memmap) and Path(root.filename) == paths[0].resolve()


def test_read_limits_from_the_environment():
    limits = ReadLimits.from_env({"STAMP_READ_TIMEOUT_S": "30", "STAMP_READ_MAX_MEMORY": "2GiB",
                                  "STAMP_READ_ISOLATE": "0"})
    assert limits == ReadLimits(isolate=False, timeout_s=30.0, max_memory_bytes=2 * 2**30)
    assert ReadLimits.from_env({}) == ReadLimits(isolate=True, timeout_s=300.0, max_memory_bytes=8 * 2**30)
    with pytest.warns(UserWarning, match="STAMP_READ_TIMEOUT_S"):
        assert ReadLimits.from_env({"STAMP_READ_TIMEOUT_S": "-1"}).timeout_s == 300.0


# ------------------------------------------------------------------ 13.1 one decompression budget
def _stored_entry(name: bytes, data: bytes) -> bytes:
    """A local header (stored, no compression) followed by the data."""
    crc = zlib.crc32(data)
    return struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0x21, crc, len(data), len(data), len(name), 0) \
        + name + data


def _central(name: bytes, data: bytes, offset: int) -> bytes:
    crc = zlib.crc32(data)
    return struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 0, 0, 0x21, crc, len(data), len(data),
                       len(name), 0, 0, 0, 0, 0, offset) + name


def overlapping_zip(path: Path, inner_payload: bytes) -> Path:
    """``outer.fits``'s data *contains* the whole entry ``inner.fits``: two entries sharing bytes.

    Python 3.11.7's zipfile extracts both; repeated with DEFLATE this is how 33 KB wrote 2.1 GB.
    """
    inner = _stored_entry(b"inner.fits", inner_payload)
    outer = _stored_entry(b"outer.fits", inner)
    inner_offset = len(outer) - len(inner)
    directory = _central(b"outer.fits", inner, 0) + _central(b"inner.fits", inner_payload, inner_offset)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 2, 2, len(directory), len(outer), 0)
    path.write_bytes(outer + directory + end)
    return path


def test_overlapping_zip_entries_are_refused_before_anything_is_written(tmp_path):
    archive = overlapping_zip(tmp_path / "overlap.zip", b"SIMPLE  =" + bytes(3000))
    with zipfile.ZipFile(archive) as check:  # a valid archive as far as this Python's zipfile goes
        assert check.read("outer.fits").endswith(check.read("inner.fits"))
    work = tmp_path / "work"
    files, problems = expand_inputs([archive], work)
    assert files == []
    assert problems == [Problem("overlap.zip", "was refused, nothing was extracted: entries 'outer.fits' and "
                                               "'inner.fits' overlap in the file: a crafted archive "
                                               "(an overlapping-entry ZIP bomb)")]
    assert not [p for p in work.rglob("*") if p.is_file()]


def _gz(path: Path, n_bytes: int) -> Path:
    path.write_bytes(gzip.compress(b"SIMPLE  =" + bytes(n_bytes - 9)))
    return path


def test_gzip_members_of_an_archive_share_one_budget(tmp_path):
    limits = ArchiveLimits(max_total_bytes=100_000)
    archive = tmp_path / "up.zip"
    with zipfile.ZipFile(archive, "w") as handle:  # stored: the members are small gzip files
        for name in ("a_x1dints.fits.gz", "b_x1dints.fits.gz"):
            handle.writestr(name, _gz(tmp_path / name, 55_000).read_bytes())
    work = tmp_path / "work"
    files, problems = expand_inputs([archive], work, limits)
    assert [f.source for f in files] == ["up.zip/a_x1dints.fits.gz"]  # each got 100,000 bytes before
    assert [p.source for p in problems] == ["up.zip/b_x1dints.fits.gz"]
    assert "the upload expands to more than 97.7 KiB (STAMP_ZIP_MAX_BYTES, shared by every" in problems[0].message
    written = sum(p.stat().st_size for p in work.rglob("*") if p.is_file())
    assert written <= 100_000


def test_bare_gzip_files_and_archives_of_one_upload_share_one_budget(tmp_path):
    limits = ArchiveLimits(max_total_bytes=100_000)
    first, second = _gz(tmp_path / "a.fits.gz", 60_000), _gz(tmp_path / "b.fits.gz", 60_000)
    archive = tmp_path / "c.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("c.fits", b"SIMPLE  =" + bytes(30_000))
    files, problems = expand_inputs([first, second, archive], tmp_path / "work", limits)
    assert [f.source for f in files] == ["a.fits.gz"]  # each bare .gz had its own limit, the ZIP another
    assert problems[0].source == "b.fits.gz" and "was refused: the upload expands to more than" in problems[0].message
    # Decompressing b spent the rest of the budget (counted while writing): nothing is left for c.zip.
    assert problems[1].source == "c.zip" and "more than the 0 bytes left of the upload's limit" in problems[1].message
    files, problems = expand_inputs([first, archive, archive], tmp_path / "work2", limits)
    assert [f.source for f in files] == ["a.fits.gz", "c.zip/c.fits"]
    assert "more than the 9.8 KiB left of the upload's limit of 97.7 KiB" in problems[0].message


# ------------------------------------------------------------------ 13.3 FITS header fields vs the file
def _patch_card(path: Path, extname: bytes, keyword: bytes, value: int) -> Path:
    """Set an integer card of the HDU named ``extname`` in place (the file keeps its length)."""
    data = bytearray(path.read_bytes())
    header_start = data.rfind(b"XTENSION=", 0, data.find(b"EXTNAME = '" + extname))
    header_end = data.find(b"END" + b" " * 77, header_start)
    where = data.find(keyword.ljust(8) + b"= ", header_start, header_end)
    assert where > 0 and where % 80 == 0
    data[where + 10:where + 30] = str(value).rjust(20).encode()
    patched = path.with_name("patched_" + path.name)
    patched.write_bytes(bytes(data))
    return patched


@pytest.fixture(scope="module")
def small_x1dints(tmp_path_factory) -> Path:
    obs = make_observation(kind="transit", n_integrations=6, wavelength=np.linspace(1.0, 3.0, 8), seed=3)
    return write_segments(tmp_path_factory.mktemp("fits"), obs, n_segments=1)[0]


@pytest.mark.parametrize("keyword, value, words", [
    (b"TFIELDS", 20_000_000, "declares TFIELDS = 20000000 columns; the FITS standard allows 0 to 999"),
    (b"TFIELDS", 999_999_999, "declares TFIELDS = 999999999 columns"),
    (b"NAXIS2", 10**12, "declares 1,180,000,000,000,000 bytes of data in EXTRACT1D table 2"),
    (b"NAXIS", 5000, "has no valid BITPIX/NAXIS"),
])
def test_structural_fits_header_fields_are_checked_before_anything_is_allocated(small_x1dints, keyword, value,
                                                                                  words):
    hostile = _patch_card(small_x1dints, b"EXTRACT1D", keyword, value)
    assert hostile.stat().st_size < 40_000
    began = time.monotonic()
    with pytest.raises(NoUsableData) as caught:
        load([hostile], read_limits=ReadLimits(isolate=False))  # in this process: the reader itself must be safe
    assert time.monotonic() - began < 3  # TFIELDS = 20000000 took 61 s and 1.6 GB
    [problem] = caught.value.problems
    assert problem.source == hostile.name and words in problem.message, problem.message


# ------------------------------------------------------------------ 13.2 HDF5 declared shapes vs the file
def _eureka_like(path: Path, **flux_options) -> Path:
    """A tiny HDF5 file whose ``optspec`` is declared by ``flux_options`` (shape, compression …)."""
    with h5py.File(path, "w") as h5:
        h5["time"] = np.linspace(60200.0, 60200.1, 20000)
        h5["wave_1d"] = np.linspace(1.0, 3.0, 20000)
        h5.create_dataset("optspec", dtype="f8", **flux_options)
    return path


def test_an_hdf5_declaring_gigabytes_with_no_data_stored_is_refused_from_its_header(tmp_path):
    path = _eureka_like(tmp_path / "empty_SpecData.h5", shape=(20000, 20000))  # 3.2 GB declared
    assert path.stat().st_size < 400_000
    with pytest.raises(NoUsableData) as caught:  # was 12.5 GB and a MemoryError "internal error"
        load([path], read_limits=ReadLimits(timeout_s=20, max_memory_bytes=1024**3))
    [problem] = caught.value.problems
    assert problem.message.startswith("declares a 20000 × 20000 float64 dataset 'optspec' (3,200,000,000 bytes) "
                                      f"but the whole file has {path.stat().st_size:,} bytes")


def test_a_compressed_hdf5_dataset_is_held_to_a_ratio_and_a_ceiling(tmp_path, monkeypatch):
    bomb = _eureka_like(tmp_path / "bomb_SpecData.h5", shape=(20000, 20000), chunks=(1000, 1000), compression="gzip")
    with pytest.raises(NoUsableData) as caught:
        load([bomb], read_limits=ReadLimits(isolate=False))
    assert "a compression ratio above 1,000 (STAMP_ZIP_MAX_RATIO): a compression bomb" in str(caught.value)
    good = tmp_path / "good_SpecData.h5"
    obs = make_observation(n_integrations=300, wavelength=np.linspace(1.0, 3.0, 600), seed=1)
    with h5py.File(good, "w") as h5:
        h5["time"], h5["wave_1d"] = obs.time_bjd_tdb, obs.wavelength
        h5.create_dataset("optspec", data=obs.flux, compression="gzip")
    assert load([good], read_limits=ReadLimits(isolate=False)).n_integrations == 300
    monkeypatch.setenv("STAMP_HDF5_MAX_BYTES", "1M")
    with pytest.raises(NoUsableData, match=r"more than the 1,048,576 bytes a compressed dataset may expand to "
                                           r"\(STAMP_HDF5_MAX_BYTES\)"):
        load([good], read_limits=ReadLimits(isolate=False))


# ------------------------------------------------------------------ 13.8 absurd times and wavelengths
@pytest.fixture
def absurd_fits(tmp_path) -> tuple[Path, Path]:
    """A good new-layout file, and a copy with one time of 1e300 and one NaN wavelength column."""
    obs = make_observation(kind="transit", n_integrations=20, wavelength=np.linspace(1.0, 3.0, 12), seed=1,
                           meta={"target": "WASP-39"})
    [good] = write_segments(tmp_path / "good", obs, n_segments=1)
    bad = tmp_path / "absurd_x1dints.fits"
    with fits.open(good) as hdus:
        hdus["INT_TIMES"].data["int_mid_BJD_TDB"][5] = 1e300
        hdus["EXTRACT1D"].data["TDB-MID"][5] = 1e300
        hdus["EXTRACT1D"].data["WAVELENGTH"][:, 3] = np.nan
        hdus.writeto(bad)
    return good, bad


def test_one_absurd_time_and_a_nan_wavelength_drop_one_row_and_one_column_not_the_load(capsys, absurd_fits):
    good, bad = absurd_fits
    code, out, err = run(capsys, "inspect", "--json", str(bad))
    report = json.loads(out)
    assert code == 0  # was exit 1: "internal error (ErfaError …)"
    cube = report["cube"]
    assert cube["integrations"] == 19 and cube["wavelengths"] == 11
    assert cube["duration_hours"] < 1 and cube["wavelength_range_um"] == [1.0, 3.0]
    messages = [p["message"] for p in report["problems"]]
    assert "1 integration(s) of NRS1 with a missing or absurd time (e.g. 1e+300) were left out" in messages
    assert "1 wavelength column(s) of NRS1 with a missing, negative or absurd wavelength were left out" in messages
    reference = load([good])
    loaded = load([bad])
    np.testing.assert_array_equal(loaded.flux, np.delete(np.delete(reference.flux, 5, axis=0), 3, axis=1))


@pytest.mark.parametrize("layout", ["old", "new"])
def test_one_integration_without_wavelengths_drops_that_integration_not_the_file(tmp_path, layout):
    """Every WAVELENGTH of one integration NaN (a corrupt table among good ones): the whole file was
    refused, saying 'every value is missing' although 19 of 20 integrations were fine."""
    obs = make_observation(kind="transit", n_integrations=20, wavelength=np.linspace(1.0, 3.0, 12), seed=1)
    [path] = write_segments(tmp_path, obs, n_segments=1, layout=layout)
    with fits.open(path, mode="update") as hdus:
        if layout == "old":
            [table] = [h for h in hdus if h.name == "EXTRACT1D" and h.header["INT_NUM"] == 6]
            table.data["WAVELENGTH"][:] = np.nan
        else:
            hdus["EXTRACT1D"].data["WAVELENGTH"][5] = np.nan
    cube = load([path], read_limits=ReadLimits(isolate=False))
    keep = np.delete(np.arange(20), 5)
    np.testing.assert_array_equal(cube.integration, keep + 1)
    np.testing.assert_allclose(cube.flux, obs.flux[keep])
    assert [p.message for p in cube.problems if p.source == path.name] == [
        "1 integration(s) of NRS1 without a usable wavelength (INT_NUM 6) were left out",
        f"integration 6 is missing (left out of {path.name}: see its warnings)"]


def test_an_absurd_time_never_stretches_the_dashboard_summary(tmp_path):
    from dashboard.summary import summarize

    obs = make_observation(n_integrations=30, wavelength=np.linspace(1.0, 3.0, 10), seed=2)
    path = write_eureka_s3(tmp_path / "x_SpecData.h5", obs)
    with h5py.File(path, "r+") as h5:
        h5["time"][7] = 1e300
        h5["time"][8] = 99999.0  # plausible as a date, 100 years from the others
        h5["wave_1d"][2] = np.nan
        h5["wave_1d"][4] = -1.0
    cube = load([path])
    assert cube.n_integrations == 28 and cube.n_wavelengths == 8
    assert float(cube.hours[-1] - cube.hours[0]) < 1  # the dashboard showed a span of 2.4e301 h
    text = " ".join(value for _, value in summarize(cube))
    assert "nan" not in text.lower() and "e+" not in text


def test_a_file_whose_every_wavelength_is_nan_is_a_problem_and_the_other_file_loads(tmp_path, absurd_fits):
    good, _ = absurd_fits
    nan = tmp_path / "nanwave_x1dints.fits"
    with fits.open(good) as hdus:
        hdus["EXTRACT1D"].data["WAVELENGTH"][:] = np.nan
        hdus[0].header["OBSERVTN"] = "002"
        hdus.writeto(nan)
    cube = load([nan, good])
    assert cube.sources == (good.name,) and np.isfinite(cube.wavelength).all()
    problem = next(p for p in cube.problems if p.source == nan.name)
    assert problem.message == "has no usable wavelengths (every value is missing, negative or absurd) (NRS1)"
