"""Deflated ZIP members are inflated by ISA-L exactly as :mod:`zipfile` would read them.

:func:`copy_member` reads a deflated, unencrypted member's raw stream itself
(:class:`DeflatedMemberReader`); every awkward member built here is read both ways — by
``copy_member`` and by zipfile's own reader through the same size-limited copy — and the
two must give the same bytes or the same error.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from stamp_engine.io.containers import (DeflatedMemberReader, ZipMember, _copy_limited, check_overlaps, copy_member,
                                        expand_inputs)
from stamp_engine.io.sandbox import ReadLimits, read_files
from stamp_engine.problems import UnsafeArchiveError

NAME = "MAST_2026/JWST/jw01366_x1dints.fits"
# Compressible but not trivially so, large enough for many inflate calls (several MiB out).
PAYLOAD = (np.random.default_rng(3).integers(0, 40, 3_000_000, dtype=np.uint8) + 40).tobytes()


def member_of(archive: Path, name: str = NAME, size: int | None = None) -> ZipMember:
    with zipfile.ZipFile(archive) as handle:
        info = handle.getinfo(name)
        offset = check_overlaps(archive, handle)[name]
    return ZipMember(name, info.file_size if size is None else size, offset, info.compress_type == zipfile.ZIP_STORED)


def read_both(archive: Path, member: ZipMember) -> tuple[tuple, tuple]:
    """(what copy_member gives, what zipfile's own reader gives through the same limited copy)."""

    def outcome(read) -> tuple:
        out = io.BytesIO()
        try:
            written = read(out)
        except zlib.error:  # ISA-L's words for a broken stream are not zlib's; the exception is the same
            return ("zlib.error",)
        except (zipfile.BadZipFile, EOFError, UnsafeArchiveError, RuntimeError, NotImplementedError) as exc:
            return (type(exc).__name__, str(exc))
        assert written == len(out.getvalue())
        return ("bytes", out.getvalue())

    def by_zipfile(out):
        with zipfile.ZipFile(archive) as handle, handle.open(member.name) as src:
            return _copy_limited(src, out, member.size, what=f"entry {member.name!r}")

    return outcome(lambda out: copy_member(archive, member, out)), outcome(by_zipfile)


def write_zip(archive: Path, payload: bytes = PAYLOAD, name: str = NAME, **open_options) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        with handle.open(name, "w", **open_options) as member:
            member.write(payload)
    return archive


def patch_entry(archive: Path, name: str = NAME, **fields: int) -> None:
    """Rewrite fields of one entry in both its local header and the central directory, as a crafted
    archive would: ``crc``, ``compress_size``, ``file_size``, ``flags``, ``method``."""
    local = {"flags": (6, "<H"), "method": (8, "<H"), "crc": (14, "<I"), "compress_size": (18, "<I"),
             "file_size": (22, "<I")}
    data = bytearray(archive.read_bytes())
    encoded = name.encode()
    for signature, shift in ((b"PK\x03\x04", 0), (b"PK\x01\x02", 2)):  # central fields sit 2 bytes later
        at = data.find(signature)
        while at >= 0:
            name_at = at + (30 if shift == 0 else 46)
            if data[name_at:name_at + len(encoded)] == encoded:
                for field, value in fields.items():
                    offset, fmt = local[field]
                    struct.pack_into(fmt, data, at + offset + shift, value)
            at = data.find(signature, at + 4)
    archive.write_bytes(bytes(data))


def info_of(archive: Path, name: str = NAME) -> zipfile.ZipInfo:
    with zipfile.ZipFile(archive) as handle:
        return handle.getinfo(name)


def assert_same(archive: Path, member: ZipMember | None = None) -> tuple:
    ours, theirs = read_both(archive, member or member_of(archive))
    assert ours == theirs
    return ours


def test_a_plain_deflated_member_is_inflated_to_its_bytes(tmp_path):
    assert assert_same(write_zip(tmp_path / "plain.zip")) == ("bytes", PAYLOAD)


def test_a_member_with_a_data_descriptor_reads_the_same(tmp_path):
    class Unseekable:  # zipfile writes sizes and CRC after the data (flag bit 3) when it cannot seek back
        def __init__(self, handle):
            self.handle = handle

        def write(self, data):
            return self.handle.write(data)

        def flush(self):
            self.handle.flush()

    archive = tmp_path / "descriptor.zip"
    with open(archive, "wb") as raw:
        with zipfile.ZipFile(Unseekable(raw), "w", zipfile.ZIP_DEFLATED) as handle:
            handle.writestr(NAME, PAYLOAD)
    assert info_of(archive).flag_bits & 0x08
    assert assert_same(archive) == ("bytes", PAYLOAD)


def test_a_zip64_member_reads_the_same(tmp_path):
    archive = write_zip(tmp_path / "zip64.zip", force_zip64=True)
    local_extra = member_of(archive).data_offset - info_of(archive).header_offset - 30 - len(NAME)
    assert local_extra >= 20  # its local header's ZIP64 extra field (sizes of 8 bytes) is skipped too
    assert assert_same(archive) == ("bytes", PAYLOAD)


def test_an_empty_deflated_member_reads_as_nothing(tmp_path):
    archive = write_zip(tmp_path / "empty.zip", b"")
    assert info_of(archive).compress_type == zipfile.ZIP_DEFLATED
    assert assert_same(archive) == ("bytes", b"")


def test_a_wrong_crc_is_a_damaged_member(tmp_path):
    archive = write_zip(tmp_path / "crc.zip")
    patch_entry(archive, crc=zlib.crc32(PAYLOAD) ^ 1)
    assert assert_same(archive) == ("BadZipFile", f"Bad CRC-32 for file {NAME!r}")


def test_a_stream_cut_short_inside_its_member_is_a_damaged_member(tmp_path):
    archive = write_zip(tmp_path / "cut.zip")
    # The member's compressed bytes end halfway through its deflate stream.
    patch_entry(archive, compress_size=info_of(archive).compress_size // 2)
    assert assert_same(archive) == ("BadZipFile", f"Bad CRC-32 for file {NAME!r}")


@pytest.mark.parametrize("where", ["first-block", "middle"])
def test_a_broken_stream_is_a_damaged_member(tmp_path, where):
    archive = write_zip(tmp_path / "broken.zip")
    member = member_of(archive)
    data = bytearray(archive.read_bytes())
    if where == "first-block":
        data[member.data_offset] = 0b111  # last block, of the type 3 that deflate does not have
    else:
        middle = member.data_offset + info_of(archive).compress_size // 3
        data[middle:middle + 256] = b"\xff" * 256
    archive.write_bytes(bytes(data))
    outcome = assert_same(archive, member)
    assert outcome == ("zlib.error",) if where == "first-block" else outcome[0] in ("zlib.error", "BadZipFile")


def test_an_archive_ending_inside_the_member_is_eof(tmp_path):
    archive = write_zip(tmp_path / "short.zip")
    member = member_of(archive)
    info = info_of(archive)
    with open(archive, "rb") as raw:
        raw.seek(member.data_offset)
        cut = raw.read(info.compress_size // 2)
    for reader in (DeflatedMemberReader(io.BytesIO(cut), info), zipfile.ZipExtFile(io.BytesIO(cut), "r", info)):
        with pytest.raises(EOFError):
            _copy_limited(reader, io.BytesIO(), info.file_size, what="entry")


@pytest.mark.parametrize("honest_crc", [True, False], ids=["crc-of-all-it-holds", "crc-of-what-it-declares"])
def test_a_member_declaring_fewer_bytes_than_it_holds(tmp_path, honest_crc):
    archive = write_zip(tmp_path / "liar.zip")
    declared = len(PAYLOAD) // 3
    patch_entry(archive, file_size=declared, **({} if honest_crc else {"crc": zlib.crc32(PAYLOAD[:declared])}))
    outcome = assert_same(archive)
    # zipfile stops at the declared size: what it holds beyond is never written, and the CRC says so
    assert outcome == (("BadZipFile", f"Bad CRC-32 for file {NAME!r}") if honest_crc else ("bytes", PAYLOAD[:declared]))


def test_a_member_holding_more_than_the_size_it_was_checked_against_is_refused(tmp_path):
    archive = write_zip(tmp_path / "more.zip")
    member = member_of(archive, size=1000)
    assert assert_same(archive, member) == (
        "UnsafeArchiveError", f"entry {NAME!r} holds more data than its header declares (1000 bytes); extraction was stopped")


def test_an_encrypted_or_stored_member_keeps_zipfiles_path(tmp_path):
    encrypted = write_zip(tmp_path / "encrypted.zip")
    patch_entry(encrypted, flags=info_of(encrypted).flag_bits | 0x1)
    assert assert_same(encrypted)[0] == "RuntimeError"
    stored = tmp_path / "stored.zip"
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as handle:
        handle.writestr(NAME, PAYLOAD)
    assert assert_same(stored) == ("bytes", PAYLOAD)


def test_a_damaged_deflated_member_is_named_by_the_reader(tmp_path):
    archive = write_zip(tmp_path / "upload.zip")
    patch_entry(archive, crc=zlib.crc32(PAYLOAD) ^ 1)
    items, problems = expand_inputs([archive], tmp_path / "work", extract_members=False)
    assert not problems
    outcome, = read_files(items, ReadLimits(isolate=False), tmp_path / "work" / "read")
    assert outcome.error == f"is damaged inside the archive and was skipped (Bad CRC-32 for file {NAME!r})"
    assert not os.listdir(tmp_path / "work" / "read")
