"""ZIP members are read straight from the archive, never extracted into the work folder.

A member stored uncompressed is memory-mapped from the ZIP itself; a deflated one is
inflated by the reader into memory.  The cube is the same, bit for bit, as the cube of the
same files on disk, and the hostile-input checks (declared size, CRC) still name the member.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

import stamp_engine
from stamp_engine.io.containers import expand_inputs
from stamp_engine.io.sandbox import ReadLimits, read_files
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.eureka import write_eureka_s3
from stamp_engine.synthetic.x1dints import write_segments

WAVELENGTH = np.linspace(1.0, 3.0, 700)
COMPRESSIONS = {"stored": zipfile.ZIP_STORED, "deflated": zipfile.ZIP_DEFLATED}


@pytest.fixture(scope="module")
def observation():
    return make_observation("transit", n_integrations=400, wavelength=WAVELENGTH, seed=8)


def zip_files(archive: Path, files: list[Path], compression: int, folder: str = "MAST_2026/JWST") -> Path:
    with zipfile.ZipFile(archive, "w", compression) as handle:
        for path in files:
            handle.write(path, f"{folder}/{path.name}")
    return archive


def regular_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def load_watching_workdir(paths, workdir: Path, **options):
    """load(), and the regular files in its work folder once every file has been read."""
    seen: list[Path] = []

    def progress(stage, done, total):
        if stage == "Read files":
            seen.extend(regular_files(workdir))

    cube = stamp_engine.load(paths, progress=progress, workdir=workdir, **options)
    return cube, seen


def assert_same_cube(cube, reference):
    for name in ("flux", "error", "wavelength"):
        assert np.array_equal(getattr(cube, name), getattr(reference, name), equal_nan=True), name
    assert np.array_equal(cube.time.mjd, reference.time.mjd)
    assert cube.flux.dtype == reference.flux.dtype


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("layout", ["new", "old"])
def test_x1dints_in_a_zip_give_the_cube_of_the_files_on_disk_without_extracting(
        tmp_path, observation, layout, compression):
    files = write_segments(tmp_path / "disk", observation, 3, layout=layout)
    reference = stamp_engine.load(files)
    archive = zip_files(tmp_path / "upload.zip", files, COMPRESSIONS[compression])
    workdir = tmp_path / "work"
    workdir.mkdir()
    cube, seen = load_watching_workdir([archive], workdir)
    assert_same_cube(cube, reference)
    assert not cube.problems
    member_names = {f.name for f in files}
    # No copy of any member in the work folder (the old code extracted all three there).
    assert not [p for p in seen if p.name in member_names]
    if compression == "stored" and layout == "new":
        # Not even the arrays: the columns are views of the archive.
        assert seen == []
    assert regular_files(workdir) == []


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_eureka_hdf5_in_a_zip_gives_the_cube_of_the_file_on_disk(tmp_path, observation, compression):
    path = write_eureka_s3(tmp_path / "S3_wasp_ap5_bg10_SpecData.h5", observation)
    reference = stamp_engine.load([path])
    archive = zip_files(tmp_path / "eureka.zip", [path], COMPRESSIONS[compression], folder="Stage3")
    cube = stamp_engine.load([archive], workdir=tmp_path)
    assert_same_cube(cube, reference)
    assert not cube.problems


@pytest.mark.parametrize("isolate", [True, False])
def test_stored_member_arrays_are_mapped_from_the_zip_itself(tmp_path, observation, isolate):
    files = write_segments(tmp_path / "disk", observation, 1, layout="new")
    archive = zip_files(tmp_path / "stored.zip", files, zipfile.ZIP_STORED)
    items, problems = expand_inputs([archive], tmp_path / "work", extract_members=False)
    assert not problems
    assert [item.path for item in items] == [archive]
    assert items[0].member.stored and items[0].member.size == files[0].stat().st_size
    outcomes = read_files(items, ReadLimits(isolate=isolate), tmp_path / "work" / "read")
    assert outcomes[0].error is None
    flux = outcomes[0].blocks[0].flux
    root = flux
    while isinstance(root.base, np.ndarray):
        root = root.base
    if isolate:  # the parent maps the ZIP at the member's offset
        assert isinstance(root, np.memmap) and Path(root.filename) == archive.resolve()
    disk = stamp_engine.load(files)
    assert np.array_equal(np.asarray(flux, dtype=np.float64), disk.flux, equal_nan=True)
    assert regular_files(tmp_path / "work") == []


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_a_damaged_member_is_named_and_the_others_still_load(tmp_path, observation, compression):
    files = write_segments(tmp_path / "disk", observation, 3, layout="new")
    reference = stamp_engine.load(files[1:])
    archive = zip_files(tmp_path / "upload.zip", files, COMPRESSIONS[compression])
    with zipfile.ZipFile(archive) as handle:
        first = handle.infolist()[0]
        start = first.header_offset + 30 + len(first.filename.encode()) + len(first.extra)
    data = bytearray(archive.read_bytes())
    # Past the headers, inside the flux data: the file still looks like x1dints, its CRC fails.
    middle = start + first.compress_size // 2
    data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])
    archive.write_bytes(bytes(data))

    cube = stamp_engine.load([archive], workdir=tmp_path)
    assert_same_cube(cube, reference)
    damaged = [p for p in cube.problems if p.severity == "error"]
    assert [p.source for p in damaged] == [f"upload.zip/{first.filename}"]
    assert damaged[0].message.startswith("is damaged inside the archive and was skipped (")


def test_a_member_holding_more_than_its_header_declares_is_refused(tmp_path, observation):
    files = write_segments(tmp_path / "disk", observation, 2, layout="new")
    archive = zip_files(tmp_path / "liar.zip", files, zipfile.ZIP_DEFLATED)
    items, problems = expand_inputs([archive], tmp_path / "work", extract_members=False)
    assert not problems and len(items) == 2
    # The header declares fewer bytes than the member inflates to (as a crafted archive would).
    short = items[0].member.size // 2
    lying = type(items[0])(items[0].path, items[0].source,
                           type(items[0].member)(items[0].member.name, short, items[0].member.data_offset, False))
    outcomes = read_files([lying, items[1]], ReadLimits(), tmp_path / "work" / "read")
    assert outcomes[0].error.startswith(f"was refused: entry {items[0].member.name!r} holds more data than its "
                                        f"header declares ({short} bytes)")
    assert outcomes[1].error is None and outcomes[1].blocks


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_a_member_larger_than_the_reader_memory_goes_through_a_scratch_file_removed_after(
        tmp_path, observation, compression):
    files = write_segments(tmp_path / "disk", observation, 1, layout="new")
    archive = zip_files(tmp_path / "big.zip", files, COMPRESSIONS[compression])
    items, _ = expand_inputs([archive], tmp_path / "work", extract_members=False)
    scratch = tmp_path / "work" / "read"
    # In this process (no memory cap is applied), with a cap smaller than the member.
    outcomes = read_files(items, ReadLimits(isolate=False, max_memory_bytes=1024), scratch)
    assert outcomes[0].error is None
    disk = stamp_engine.load(files)
    assert np.array_equal(np.asarray(outcomes[0].blocks[0].flux, dtype=np.float64), disk.flux, equal_nan=True)
    assert regular_files(tmp_path / "work") == []
