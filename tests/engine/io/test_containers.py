"""Safe expansion of files, folders and ZIP uploads (stamp_engine.io.containers)."""

from __future__ import annotations

import gzip
import hashlib
import io
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from stamp_engine.io.containers import (
    ArchiveLimits,
    InputFile,
    _copy_limited,
    expand_inputs,
    parse_size,
)
from stamp_engine.problems import Problem, UnsafeArchiveError

from tests.helpers.paths import REAL
X1DINTS = REAL / "jwst_x1dints" / "jw02783-o002_t001_miri_p750l-slitlessprism_x1dints.fits"
WHTLT = REAL / "jwst_x1dints" / "jw02783-o002_t001_miri_p750l-slitlessprism_whtlt.ecsv"
EUREKA_S3 = REAL / "eureka" / "tests_data" / "S3_NIRSpec_ap5_bg10_SpecData.h5"

MAST_DIR = "MAST_2025-11-25T1200/JWST/jw02783-o002_t001_miri_p750l-slitlessprism"
FITS_NAME = "jw02783-o002_t001_miri_p750l-slitlessprism_x1dints.fits"


def make_zip(path: Path, entries, compression=zipfile.ZIP_DEFLATED) -> Path:
    """Write a ZIP of (name or ZipInfo, bytes) entries."""
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return path


def tree(root: Path) -> set[str]:
    """Every file and folder below root, as relative POSIX paths."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")} if root.exists() else set()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def upload_dir(tmp_path):
    folder = tmp_path / "upload"
    folder.mkdir()
    return folder


@pytest.fixture
def workdir(tmp_path):
    return tmp_path / "work"


def assert_nothing_extracted(tmp_path: Path, workdir: Path, before: set[str]) -> None:
    """Nothing new anywhere under tmp_path, and no file at all inside workdir."""
    assert {p for p in tree(workdir) if (workdir / p).is_file()} == set()
    assert tree(tmp_path) - before <= {"work"}
    assert not (tmp_path / "evil.fits").exists()


# --------------------------------------------------------------------------- happy paths
def test_mast_bundle_zip_yields_only_data_files_with_user_names(upload_dir, workdir, tmp_path):
    fits_bytes = X1DINTS.read_bytes()
    h5_bytes = EUREKA_S3.read_bytes()
    archive = make_zip(
        upload_dir / "upload.zip",
        [
            ("MAST_2025-11-25T1200/README.txt", b"MAST download\n"),
            (f"{MAST_DIR}/{FITS_NAME}", fits_bytes),
            (f"{MAST_DIR}/{WHTLT.name}", WHTLT.read_bytes()),
            (f"{MAST_DIR}/preview.png", b"\x89PNG\r\n\x1a\n" + bytes(100)),
            ("MAST_2025-11-25T1200/JWST/manifest.json", b'{"files": []}'),
            (f"__MACOSX/{MAST_DIR}/._{FITS_NAME}", b"\x00\x05\x16\x07AppleDouble"),
            (".DS_Store", b"Bud1" + bytes(60)),
            (f"{MAST_DIR}/.DS_Store", b"Bud1" + bytes(60)),
            (f"{MAST_DIR}/.hidden_x1dints.fits", fits_bytes[:2880]),
            ("Stage3/S3_2022-07-01_nirspec_run1/ap5_bg10/S3_NIRSpec_ap5_bg10_SpecData.h5", h5_bytes),
            # No telling name, but HDF5 content: still data.
            ("Stage3/S3_2022-07-01_nirspec_run1/ap5_bg10/specdata_copy", h5_bytes),
        ],
    )
    before = tree(tmp_path)

    files, problems = expand_inputs([archive], workdir)

    assert problems == []
    assert [f.source for f in files] == [
        f"upload.zip/{MAST_DIR}/{FITS_NAME}",
        "upload.zip/Stage3/S3_2022-07-01_nirspec_run1/ap5_bg10/S3_NIRSpec_ap5_bg10_SpecData.h5",
        "upload.zip/Stage3/S3_2022-07-01_nirspec_run1/ap5_bg10/specdata_copy",
    ]
    assert all(isinstance(f, InputFile) for f in files)
    assert sha(files[0].path) == hashlib.sha256(fits_bytes).hexdigest()
    assert sha(files[1].path) == sha(files[2].path) == hashlib.sha256(h5_bytes).hexdigest()
    # Only the three data files were written, all inside one fresh folder of workdir.
    written = {p for p in workdir.rglob("*") if p.is_file()}
    assert written == {f.path for f in files}
    assert len({f.path.relative_to(workdir).parts[0] for f in files}) == 1
    assert tree(tmp_path) - before == {"work", *("work/" + p for p in tree(workdir))}


def test_same_archive_twice_extracts_into_separate_fresh_folders(upload_dir, workdir):
    archive = make_zip(upload_dir / "a.zip", [(f"{MAST_DIR}/{FITS_NAME}", X1DINTS.read_bytes())])
    first, _ = expand_inputs(archive, workdir)
    second, _ = expand_inputs(archive, workdir)
    assert first[0].path != second[0].path
    assert first[0].path.parent.parent != second[0].path.parent.parent
    assert sha(first[0].path) == sha(second[0].path) == sha(X1DINTS)


def test_folder_is_walked_recursively_sorted_skipping_junk(upload_dir, workdir):
    root = upload_dir / "MAST_2025"
    product = root / "JWST" / "jw02783-o002_t001_miri_p750l-slitlessprism"
    product.mkdir(parents=True)
    (product / FITS_NAME).write_bytes(X1DINTS.read_bytes())
    (product / WHTLT.name).write_bytes(WHTLT.read_bytes())
    (product / "preview.png").write_bytes(b"\x89PNG")
    (root / "README.txt").write_text("hello")
    (root / ".DS_Store").write_bytes(b"Bud1")
    (root / "__MACOSX").mkdir()
    (root / "__MACOSX" / "junk.fits").write_bytes(b"SIMPLE  =")
    (root / ".cache").mkdir()
    (root / ".cache" / "old.fits").write_bytes(b"SIMPLE  =")
    (root / "A_eureka").mkdir()
    (root / "A_eureka" / "no_extension").write_bytes(EUREKA_S3.read_bytes())
    (root / "Z.hdf5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(10))
    with gzip.open(root / "B.fits.gz", "wb") as handle:
        handle.write(X1DINTS.read_bytes())

    files, problems = expand_inputs([root], workdir)

    assert problems == []
    assert [f.source for f in files] == [
        "MAST_2025/B.fits.gz",
        "MAST_2025/Z.hdf5",
        "MAST_2025/A_eureka/no_extension",
        f"MAST_2025/JWST/jw02783-o002_t001_miri_p750l-slitlessprism/{FITS_NAME}",
    ]
    # Plain files are read in place; the gzip one was decompressed into workdir.
    assert files[1].path == root / "Z.hdf5"
    assert files[3].path == product / FITS_NAME
    assert files[0].path.is_relative_to(workdir)
    assert files[0].path.name == "B.fits"
    assert sha(files[0].path) == sha(X1DINTS)


def test_folder_with_a_zip_inside_expands_it(upload_dir, workdir):
    make_zip(upload_dir / "download.zip", [(f"{MAST_DIR}/{FITS_NAME}", X1DINTS.read_bytes())])
    (upload_dir / "notes.txt").write_text("x")
    files, problems = expand_inputs([upload_dir], workdir)
    assert problems == []
    assert [f.source for f in files] == [f"upload/download.zip/{MAST_DIR}/{FITS_NAME}"]
    assert sha(files[0].path) == sha(X1DINTS)


def test_zip_is_detected_by_content_not_name(upload_dir, workdir):
    disguised = make_zip(upload_dir / "data.fits", [("inner/x1dints.fits", X1DINTS.read_bytes())])
    files, problems = expand_inputs([disguised], workdir)
    assert problems == []
    assert [f.source for f in files] == ["data.fits/inner/x1dints.fits"]


def test_explicit_files_are_passed_whatever_their_name_or_content(upload_dir, workdir):
    empty = upload_dir / "empty.fits"
    empty.write_bytes(b"")
    html = upload_dir / "download.fits"
    html.write_bytes(b"<!DOCTYPE html><html><body>Sign in</body></html>")
    readme = upload_dir / "README.txt"
    readme.write_text("not data")
    files, problems = expand_inputs([empty, html, readme, html], workdir)
    assert problems == []
    # The readers judge content; containers only dedupe and name.
    assert files == [InputFile(empty, "empty.fits"), InputFile(html, "download.fits"), InputFile(readme, "README.txt")]
    assert not workdir.exists() or tree(workdir) == set()


def test_missing_path_is_a_problem(tmp_path, workdir):
    missing = tmp_path / "nope" / "jw_x1dints.fits"
    files, problems = expand_inputs([missing, X1DINTS], workdir)
    assert files == [InputFile(X1DINTS, X1DINTS.name)]
    assert problems == [Problem(str(missing), "does not exist")]


def test_folder_without_data_says_so(upload_dir, workdir):
    (upload_dir / "README.txt").write_text("x")
    (upload_dir / "table.ecsv").write_text("x")
    files, problems = expand_inputs([upload_dir], workdir)
    assert files == []
    assert len(problems) == 1
    assert problems[0].source == "upload"
    assert problems[0].message == "is a folder without FITS or HDF5 files (ignored: README.txt, table.ecsv)"


def test_zip_without_data_lists_what_it_ignored(upload_dir, workdir):
    archive = make_zip(upload_dir / "u.zip", [("README.txt", b"x"), ("a/b.json", b"{}"), ("__MACOSX/._x", b"x")])
    files, problems = expand_inputs(archive, workdir)
    assert files == []
    assert problems == [Problem("u.zip", "is a ZIP archive without FITS or HDF5 files (ignored: README.txt, b.json)")]


# ----------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("member", "words"),
    [
        ("../evil.fits", "'..'"),
        ("data/../../evil.fits", "'..'"),
        ("/tmp/evil.fits", "absolute path"),
        ("C:/evil.fits", "drive letter"),
        ("data\\..\\..\\evil.fits", "backslash"),
    ],
)
def test_path_escape_refuses_whole_archive_before_writing(upload_dir, workdir, tmp_path, member, words):
    archive = make_zip(
        upload_dir / "upload.zip",
        [("a_good/x1dints.fits", X1DINTS.read_bytes()), (zipfile.ZipInfo(member), b"SIMPLE  = evil")],
    )
    before = tree(tmp_path)
    files, problems = expand_inputs([archive], workdir)
    assert files == []
    assert len(problems) == 1
    assert problems[0].source == "upload.zip"
    assert problems[0].severity == "error"
    assert problems[0].message.startswith("was refused, nothing was extracted: entry ")
    assert repr(member) in problems[0].message
    assert words in problems[0].message
    assert_nothing_extracted(tmp_path, workdir, before)
    assert not Path("/tmp/evil.fits").exists()


def test_symlink_entry_refuses_archive(upload_dir, workdir, tmp_path):
    link = zipfile.ZipInfo("link_x1dints.fits")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = make_zip(upload_dir / "upload.zip", [("good.fits", X1DINTS.read_bytes()), (link, b"/etc/passwd")])
    before = tree(tmp_path)
    files, problems = expand_inputs([archive], workdir)
    assert files == []
    assert [(p.source, p.message) for p in problems] == [
        (
            "upload.zip",
            "was refused, nothing was extracted: entry 'link_x1dints.fits' is a symbolic link; "
            "links in uploads are not followed",
        )
    ]
    assert_nothing_extracted(tmp_path, workdir, before)


def test_too_many_entries_refuses_archive_with_default_limit(upload_dir, workdir, tmp_path):
    archive = upload_dir / "many.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as handle:
        for i in range(5001):
            handle.writestr(f"d/{i:05d}.fits", b"")
    before = tree(tmp_path)
    files, problems = expand_inputs([archive], workdir)
    assert files == []
    assert problems == [
        Problem(
            "many.zip",
            "was refused, nothing was extracted: it holds 5001 entries, more than the limit of 5000 "
            "(STAMP_ZIP_MAX_FILES)",
        )
    ]
    assert_nothing_extracted(tmp_path, workdir, before)


def test_entry_count_at_the_limit_is_accepted(upload_dir, workdir):
    archive = make_zip(upload_dir / "ok.zip", [(f"{i}.fits", b"SIMPLE  =") for i in range(3)])
    files, problems = expand_inputs([archive], workdir, ArchiveLimits(max_files=3))
    assert problems == []
    assert len(files) == 3


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2])
def test_zip_bomb_high_ratio_refused(upload_dir, workdir, tmp_path, compression):
    archive = make_zip(
        upload_dir / "bomb.zip",
        [("ok.fits", X1DINTS.read_bytes()), ("zeros_x1dints.fits", bytes(5 * 2**20))],
        compression=compression,
    )
    before = tree(tmp_path)
    files, problems = expand_inputs([archive], workdir)
    assert files == []
    assert len(problems) == 1
    message = problems[0].message
    assert problems[0].source == "bomb.zip"
    assert "entry 'zeros_x1dints.fits' expands" in message
    assert "more than the limit of 1,000× (STAMP_ZIP_MAX_RATIO): a ZIP bomb" in message
    assert_nothing_extracted(tmp_path, workdir, before)


def test_declared_total_over_limit_refused(upload_dir, workdir, tmp_path):
    payload = bytes(range(256)) * 4  # 1 KiB, barely compressible
    archive = make_zip(upload_dir / "big.zip", [("a.fits", payload), ("b.fits", payload)])
    before = tree(tmp_path)
    files, problems = expand_inputs([archive], workdir, ArchiveLimits(max_total_bytes=1500))
    assert files == []
    assert problems == [
        Problem(
            "big.zip",
            "was refused, nothing was extracted: it would expand to 2.0 KiB, more than the limit of "
            "1.5 KiB (STAMP_ZIP_MAX_BYTES)",
        )
    ]
    assert_nothing_extracted(tmp_path, workdir, before)


def _lie_about_size(path: Path, member: str, declared: int, crc: int | None = None) -> None:
    """Patch the local and central headers of ``member`` to declare ``declared`` bytes."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    local = data.find(b"PK\x03\x04")
    assert data[local + 30 : local + 30 + len(name)] == name
    struct.pack_into("<I", data, local + 22, declared)
    central = data.find(b"PK\x01\x02")
    assert data[central + 46 : central + 46 + len(name)] == name
    struct.pack_into("<I", data, central + 24, declared)
    if crc is not None:
        struct.pack_into("<I", data, local + 14, crc)
        struct.pack_into("<I", data, central + 16, crc)
    path.write_bytes(bytes(data))


def test_header_under_declaring_size_never_writes_more_than_declared(upload_dir, workdir):
    real = X1DINTS.read_bytes()
    archive = make_zip(upload_dir / "liar.zip", [("liar.fits", real)])
    _lie_about_size(archive, "liar.fits", 2880)
    files, problems = expand_inputs([archive], workdir)
    written = [p for p in workdir.rglob("*") if p.is_file()]
    # The CRC no longer matches the truncated data: the member is dropped, and at no point
    # were more bytes than declared put on disk.
    assert files == []
    assert [p.source for p in problems] == ["liar.zip/liar.fits"]
    assert "is damaged inside the archive and was skipped" in problems[0].message
    assert "CRC" in problems[0].message
    assert written == []


def test_header_lie_with_matching_crc_is_truncated_to_declared_size(upload_dir, workdir):
    real = X1DINTS.read_bytes()
    archive = make_zip(upload_dir / "liar.zip", [("liar.fits", real)])
    _lie_about_size(archive, "liar.fits", 2880, crc=zlib.crc32(real[:2880]))
    files, problems = expand_inputs([archive], workdir)
    assert problems == []
    assert [p.stat().st_size for p in workdir.rglob("*") if p.is_file()] == [2880]
    assert files[0].path.read_bytes() == real[:2880]


def test_byte_counter_stops_a_stream_longer_than_declared():
    out = io.BytesIO()
    with pytest.raises(UnsafeArchiveError, match=r"entry 'x.fits' holds more data than its header declares \(1000 bytes\)"):
        _copy_limited(io.BytesIO(bytes(5000)), out, 1000, what="entry 'x.fits'")
    assert out.tell() <= 1000
    out = io.BytesIO()
    assert _copy_limited(io.BytesIO(b"a" * 1000), out, 1000, what="x") == 1000
    assert out.getvalue() == b"a" * 1000


def test_empty_zip(upload_dir, workdir):
    archive = make_zip(upload_dir / "empty.zip", [])
    assert archive.read_bytes().startswith(b"PK\x05\x06")
    files, problems = expand_inputs([archive], workdir)
    assert files == []
    assert problems == [Problem("empty.zip", "is an empty ZIP archive")]


def test_truncated_zip(upload_dir, workdir):
    archive = make_zip(upload_dir / "cut.zip", [("x.fits", X1DINTS.read_bytes())])
    archive.write_bytes(archive.read_bytes()[:50_000])
    files, problems = expand_inputs([archive], workdir)
    assert files == []
    assert len(problems) == 1
    assert problems[0].source == "cut.zip"
    assert problems[0].message.startswith("is a damaged or truncated ZIP archive (")
    assert not workdir.exists() or tree(workdir) == set()


def test_corrupt_member_is_skipped_others_kept(upload_dir, workdir):
    archive = make_zip(
        upload_dir / "u.zip",
        [("a_bad.fits", bytes(range(256)) * 400), ("b_good.fits", X1DINTS.read_bytes())],
    )
    data = bytearray(archive.read_bytes())
    start = 30 + len("a_bad.fits")
    data[start + 100 : start + 140] = b"\xff" * 40  # scramble a_bad's compressed stream
    archive.write_bytes(bytes(data))
    files, problems = expand_inputs([archive], workdir)
    assert [f.source for f in files] == ["u.zip/b_good.fits"]
    assert sha(files[0].path) == sha(X1DINTS)
    assert [p.source for p in problems] == ["u.zip/a_bad.fits"]
    assert "is damaged inside the archive and was skipped" in problems[0].message
    assert {p.name for p in workdir.rglob("*") if p.is_file()} == {"b_good.fits"}


def test_nested_zip_is_not_opened(upload_dir, workdir):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as handle:
        handle.writestr("deep.fits", X1DINTS.read_bytes())
    archive = make_zip(
        upload_dir / "outer.zip",
        [("inner.zip", inner.getvalue()), ("hidden_zip_no_ext", inner.getvalue()), ("x.fits", X1DINTS.read_bytes())],
    )
    files, problems = expand_inputs([archive], workdir)
    assert [f.source for f in files] == ["outer.zip/x.fits"]
    assert [(p.source, p.message) for p in problems] == [
        ("outer.zip/hidden_zip_no_ext", "is a ZIP archive inside the upload; nested archives are not opened"),
        ("outer.zip/inner.zip", "is a ZIP archive inside the upload; nested archives are not opened"),
    ]
    assert {p.name for p in workdir.rglob("*") if p.is_file()} == {"x.fits"}


def test_encrypted_member_and_duplicate_names(upload_dir, workdir):
    archive = upload_dir / "u.zip"
    with pytest.warns(UserWarning, match="Duplicate name"):
        make_zip(archive, [("locked.fits", b"SIMPLE  ="), ("a.fits", b"SIMPLE  = 1"), ("a.fits", b"SIMPLE  = 2")])
    # zipfile cannot write encrypted entries: set the "encrypted" flag bit in both headers.
    data = bytearray(archive.read_bytes())
    data[6] |= 0x1
    data[data.find(b"PK\x01\x02") + 8] |= 0x1
    archive.write_bytes(bytes(data))
    files, problems = expand_inputs([archive], workdir)
    assert [f.source for f in files] == ["u.zip/a.fits"]
    assert files[0].path.read_bytes() == b"SIMPLE  = 1"
    assert [(p.source, p.message, p.severity) for p in problems] == [
        ("u.zip/a.fits", "appears twice in the archive; the first copy is used", "warning"),
        ("u.zip/locked.fits", "is password-protected and cannot be read", "error"),
    ]


def test_gzip_bomb_refused(upload_dir, workdir):
    bomb = upload_dir / "bomb.fits.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as handle:
        handle.write(bytes(20 * 2**20))
    files, problems = expand_inputs([bomb], workdir)
    assert files == []
    assert len(problems) == 1
    assert problems[0].source == "bomb.fits.gz"
    cap_mib = bomb.stat().st_size * 1000 / 2**20  # the ratio limit, far below STAMP_ZIP_MAX_BYTES
    assert problems[0].message == (
        f"was refused: it expands to more than {cap_mib:.1f} MiB (1,000× its size or STAMP_ZIP_MAX_BYTES, "
        "whichever is smaller); it looks like a compression bomb"
    )
    assert [p for p in workdir.rglob("*") if p.is_file()] == []


def test_corrupt_gzip(upload_dir, workdir):
    broken = upload_dir / "x.fits.gz"
    broken.write_bytes(gzip.compress(X1DINTS.read_bytes())[:5000])
    files, problems = expand_inputs([broken], workdir)
    assert files == []
    assert problems[0].source == "x.fits.gz"
    assert problems[0].message.startswith("is a gzip file that cannot be decompressed (")


# ------------------------------------------------------------------------------ limits
def test_limits_defaults_and_environment():
    assert ArchiveLimits() == ArchiveLimits(5000, 50 * 1024**3, 1000.0)
    assert ArchiveLimits.from_env({}) == ArchiveLimits()
    limits = ArchiveLimits.from_env(
        {"STAMP_ZIP_MAX_FILES": "20", "STAMP_ZIP_MAX_BYTES": "2GiB", "STAMP_ZIP_MAX_RATIO": "50.5"}
    )
    assert limits == ArchiveLimits(max_files=20, max_total_bytes=2 * 1024**3, max_ratio=50.5)
    with pytest.warns(UserWarning, match="STAMP_ZIP_MAX_FILES='lots' is not a positive number"):
        bad = ArchiveLimits.from_env({"STAMP_ZIP_MAX_FILES": "lots", "STAMP_ZIP_MAX_BYTES": "1048576"})
    assert bad == ArchiveLimits(max_total_bytes=1048576)
    with pytest.warns(UserWarning, match="STAMP_ZIP_MAX_RATIO"):
        assert ArchiveLimits.from_env({"STAMP_ZIP_MAX_RATIO": "-3"}).max_ratio == 1000.0
    with pytest.raises(Exception):
        ArchiveLimits().max_files = 1  # frozen


@pytest.mark.parametrize(
    ("text", "size"),
    [("1048576", 1048576), ("500M", 500 * 2**20), ("2GiB", 2 * 2**30), ("1.5 GB", int(1.5 * 2**30)), ("3k", 3072)],
)
def test_parse_size(text, size):
    assert parse_size(text) == size


def test_parse_size_rejects_words():
    with pytest.raises(ValueError, match="not a size"):
        parse_size("big")


def test_dot_folder_is_named_after_the_real_folder(upload_dir, workdir, monkeypatch):
    (upload_dir / "sub").mkdir()
    (upload_dir / "sub" / "a.fits").write_bytes(b"SIMPLE  =")
    monkeypatch.chdir(upload_dir / "sub")
    files, problems = expand_inputs(["."], workdir)
    assert problems == []
    assert files == [InputFile(Path(".") / "a.fits", "sub/a.fits")]


def test_file_and_folder_of_the_same_name_in_a_zip(upload_dir, workdir):
    archive = make_zip(upload_dir / "clash.zip", [("a.fits", b"SIMPLE  = 1"), ("a.fits/b.fits", b"SIMPLE  = 2")])
    files, problems = expand_inputs(archive, workdir)
    assert [f.source for f in files] == ["clash.zip/a.fits"]
    assert files[0].path.read_bytes() == b"SIMPLE  = 1"
    assert [p.source for p in problems] == ["clash.zip/a.fits/b.fits"]
    assert problems[0].message.startswith("could not be extracted and was skipped (")
