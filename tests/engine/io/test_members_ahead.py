"""ZIP members are copied out ahead of their reading (in threads), yet every file keeps its own outcome.

The reader inflates the next members while the current file is parsed; at most ``ahead`` of them,
within the reader's memory cap.  A damaged member is still named alone, outcomes keep the
files' order, and a reader that dies while a later member is being copied out does not
blame the file it was reading.
"""

from __future__ import annotations

import os
import signal
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from stamp_engine.io import sandbox
from stamp_engine.io.containers import InputFile, ZipMember, expand_inputs
from stamp_engine.io.sandbox import ReadLimits, read_files
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.x1dints import write_segments


@pytest.fixture(scope="module")
def segments(tmp_path_factory) -> list[Path]:
    observation = make_observation("transit", n_integrations=240, wavelength=np.linspace(1.0, 3.0, 120), seed=4)
    return write_segments(tmp_path_factory.mktemp("segments"), observation, 4, layout="new")


def zipped(archive: Path, files: list[Path]) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        for path in files:
            handle.write(path, path.name)
    return archive


def members(tmp_path: Path, files: list[Path]) -> list[InputFile]:
    items, problems = expand_inputs([zipped(tmp_path / "upload.zip", files)], tmp_path / "work", extract_members=False)
    assert not problems
    return items


def corrupt_crc(archive: Path, name: str) -> None:
    with zipfile.ZipFile(archive) as handle:
        info = handle.getinfo(name)
    data = bytearray(archive.read_bytes())
    data[info.header_offset + 14] ^= 0xFF  # the local header's CRC …
    central = data.rfind(b"PK\x01\x02" + data[info.header_offset + 4:info.header_offset + 6])
    while data[central + 46:central + 46 + len(name)] != name.encode():
        central = data.rfind(b"PK\x01\x02", 0, central)
    data[central + 16] ^= 0xFF  # … and the central directory's, which zipfile checks
    archive.write_bytes(bytes(data))


@pytest.mark.parametrize("isolate", [True, False], ids=["child", "in-process"])
def test_a_damaged_member_among_members_copied_ahead_is_named_alone_in_order(tmp_path, segments, isolate):
    items = members(tmp_path, segments)
    corrupt_crc(items[0].path, items[1].member.name)
    items, _ = expand_inputs([items[0].path], tmp_path / "work2", extract_members=False)
    outcomes = read_files(items, ReadLimits(isolate=isolate), tmp_path / "read")
    assert [o.error is None for o in outcomes] == [True, False, True, True]
    assert outcomes[1].error == ("is damaged inside the archive and was skipped "
                                 f"(Bad CRC-32 for file {items[1].member.name!r})")
    assert [o.blocks[0].source for o in outcomes if o.blocks] == [items[i].source for i in (0, 2, 3)]
    assert not list((tmp_path / "read").glob("member-*"))  # every copy removed, none left behind


class RecordedCopy:
    """Stands in for _MemberCopy: records which members were begun, holds each until released."""

    begun: list[str] = []
    release = threading.Event()

    def __init__(self, item, limits, scratch):
        RecordedCopy.begun.append(item.member.name)
        RecordedCopy.release.wait(10)

    def close(self):
        pass


def fake_members(sizes: list[int]) -> list[InputFile]:
    return [InputFile(Path("upload.zip"), f"upload.zip/m{k}", ZipMember(f"m{k}", size, 0, False))
            for k, size in enumerate(sizes)]


@pytest.mark.parametrize("ahead_count, memory, after_first, after_second", [
    (sandbox.MEMBERS_AHEAD, 10_000, ["m1", "m2", "m3"], ["m2", "m3", "m4"]),  # the default: three ahead, never more
    (2, 10_000, ["m1", "m2"], ["m2", "m3"]),  # two ahead of the file being read, never more
    (3, 350, ["m1", "m2"], ["m2", "m3"]),  # the file being read and two ahead fit in 350 bytes
    (2, 250, ["m1"], ["m2"]),  # the file being read and one ahead fit in 250 bytes
    (2, 50, [], []),  # none fits: each member is still copied when its own file is read
])
def test_at_most_ahead_members_are_copied_ahead_within_the_memory_cap(monkeypatch, tmp_path, ahead_count, memory,
                                                                        after_first, after_second):
    monkeypatch.setattr(sandbox, "_MemberCopy", RecordedCopy)
    monkeypatch.setattr(RecordedCopy, "begun", [])
    monkeypatch.setattr(RecordedCopy, "release", threading.Event())
    ahead = sandbox._MembersAhead(fake_members([100] * 5), list(range(5)), ReadLimits(max_memory_bytes=memory),
                                  tmp_path, ahead_count)
    try:
        first = ahead.take(0)
        assert [f"m{i}" for i in sorted(ahead._pending)] == after_first
        RecordedCopy.release.set()
        first.result(timeout=10)
        assert ahead.take(1) is not None
        assert [f"m{i}" for i in sorted(ahead._pending)] == after_second
    finally:
        RecordedCopy.release.set()
        ahead.close()
    assert RecordedCopy.begun[:2] == ["m0", "m1"]  # in reading order, the file being read first


def test_a_reader_dying_while_a_later_member_is_copied_out_blames_that_member(monkeypatch, tmp_path, segments):
    items = members(tmp_path, segments[:3])
    deadly = items[1].member.name
    real_copy = sandbox._MemberCopy

    def copy_or_crash(item, limits, scratch):
        if item.member.name == deadly:  # in the forked reader: a crash in C code, as a hostile member could cause
            os.kill(os.getpid(), signal.SIGSEGV)
        return real_copy(item, limits, scratch)

    monkeypatch.setattr(sandbox, "_MemberCopy", copy_or_crash)
    outcomes = read_files(items, ReadLimits(timeout_s=60), tmp_path / "read")
    assert outcomes[0].error is None and outcomes[0].blocks
    assert outcomes[1].error == ("made the reader crash (SIGSEGV): the file is damaged or was made to crash readers")
    assert outcomes[2].error is None and outcomes[2].blocks
